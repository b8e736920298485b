"""How many written numbers are read exactly, through the same code path as ``predict --json --number``.

    python bench/number_accuracy.py [--model ID_OR_PATH] [--numbers 600] [--seed 0] [--writers held-out]
                                    [--save DIR] [--usps-test]

Each number has 2-5 digits, chosen at random, written on the Draw page's Number canvas (700×280):
half by one pendigits writer each (their pen strokes drawn with a round brush), half from MNIST
digits re-drawn as crisp strokes. Per number, a digit height of 25-80% of the canvas (smaller when
the number would not fit), a brush of 6-40 px (at most a quarter of the digit's height), each digit
±10% in height and ±6% off the baseline; between neighbours a gap of 4-50% of the digit height, or,
one time in seven, no gap: the right digit slid left until its ink meets its neighbour's. White or
transparent background, as a canvas gives. A number is read exactly when every digit is right, none
missing and none extra. Beside it the bench prints how many numbers would be read exactly if each
digit were found and cut out perfectly: every digit read right when drawn alone (``predict_image``).

``--writers held-out`` (the default) takes pendigits' held-out writers 25-30 and MNIST *test*
digits: people in no training set. ``--writers training`` takes pendigits' training writers and
MNIST *train* digits: the writers the number reader's scorer and group reader were fitted on (``python -m
digit_core.inference.number_split_training``, seeds 1000-1001; ``python -m
digit_core.inference.group_reader_training``, seeds 5000-5003: other numbers) and its design chosen on.

The canvases are written as PNG files and read by ``digit_core.workflows.read.predict_files(number=True)``,
what the CLI prints. The time of one 5-digit number is measured in-process (``read_number`` on the
canvas already in memory), over 5-digit canvases of the same kind. ``--numbers 0`` times only.

``--usps-test`` writes the numbers instead from USPS *test* digits (other writers, scanned) and reads
them in-process twice: with the group reader, and with the learned scorer's cuts alone (what is read
without ``models/number_groups.onnx``), to check on a second source what the group reader changes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import describe_ms, model_argument

import cv2
import numpy as np

from digit_core.images.number_canvas import WRITERS, WrittenNumber, make_numbers

def read_through_the_cli_path(model: str | None, numbers: list[WrittenNumber], save: Path | None) -> list[dict]:
    """Each canvas written as a PNG file and read by ``workflows.predict_files(number=True)``."""
    from digit_core import workflows

    with tempfile.TemporaryDirectory() as scratch:
        folder = save or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, number in enumerate(numbers):
            paths.append(str(folder / f"{index:04d}-{number.source}-{number.digits}.png"))
            cv2.imwrite(paths[-1], cv2.cvtColor(number.canvas, cv2.COLOR_RGBA2BGRA))
        return list(workflows.predict_files(model, paths, number=True))


def read_one_by_one(predictor, number: WrittenNumber) -> bool:
    """Whether every digit of the number is read right when drawn alone (``predict_image``): what
    a perfect finding and cutting of the digits would give."""
    from digit_core.images.number_canvas import as_canvas

    return all(predictor.predict_image(as_canvas(np.pad(ink, 20))).digit == int(digit)
               for ink, digit in zip(number.inks, number.digits))


def report(numbers: list[WrittenNumber], lines: list[dict], alone: list[bool]) -> None:
    """Exact reads overall, by source, by length and by touching; where the misreads went wrong."""
    rows: dict[str, list[bool]] = defaultdict(list)
    kinds: dict[str, int] = defaultdict(int)
    for number, line in zip(numbers, lines):
        read = line.get("number")
        exact = read == number.digits
        touching = "no neighbours touching" if not number.touching else "some neighbours touching"
        for key in ("all", number.source, f"{len(number.digits)} digits", touching):
            rows[key].append(exact)
        if not exact:
            kinds["a digit misread" if read and len(read) == len(number.digits) else
                  "digits missing" if read is None or len(read) < len(number.digits) else "digits extra"] += 1
    for key, exact in rows.items():
        print(f"{key:<24} {np.mean(exact):7.2%} exact ({sum(exact)} of {len(exact)})")
    print("misreads: " + ", ".join(f"{count} {kind}" for kind, count in kinds.items()))
    print(f"every digit read right when each is drawn alone: {np.mean(alone):.2%} of the numbers")


def time_five_digit_numbers(predictor, numbers: list[WrittenNumber], repeats: int = 5) -> list[float]:
    """Milliseconds of ``read_number`` on each canvas, ``repeats`` times after a warm-up."""
    from digit_core.inference.number import read_number

    timings = []
    for number in numbers:
        read_number(predictor, number.canvas)
        for _ in range(repeats):
            started = time.perf_counter()
            read_number(predictor, number.canvas)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def usps_numbers(count: int, seed: int) -> list[WrittenNumber]:
    """Numbers written as ``make_numbers`` writes its MNIST ones, from USPS *test* digits (scanned
    letters of other writers, 16×16, set 20 px tall in 28×28 as MNIST's are): a second source the
    number reader learned nothing from."""
    import cv2

    from digit_core import data
    from digit_core.images.number_canvas import LENGTHS, random_number

    images, labels = data.load_usps("test")
    as_mnist = np.zeros((len(images), 28, 28), np.uint8)
    as_mnist[:, 4:24, 4:24] = [cv2.resize(image, (20, 20), interpolation=cv2.INTER_LINEAR) for image in images]
    pool = {digit: list(as_mnist[labels == digit]) for digit in range(10)}
    rng = np.random.default_rng(seed)
    return [random_number("mnist", [pool], LENGTHS[index % len(LENGTHS)], rng) for index in range(count)]


def compare_readers(predictor, numbers: list[WrittenNumber]) -> None:
    """Exact reads in-process with the group reader and with the scorer's cuts alone (its fallback)."""
    from digit_core.inference.number import read_number

    touching = np.array([number.touching > 0 for number in numbers])
    for use_group_reader, label in ((True, "group reader"), (False, "scorer's cuts alone")):
        exact = np.array([read_number(predictor, number.canvas, use_group_reader=use_group_reader).number
                          == number.digits for number in numbers])
        print(f"{label:<20} {exact.mean():7.2%} exact; touching {exact[touching].mean():.2%}, "
              f"not touching {exact[~touching].mean():.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_argument(parser)
    parser.add_argument("--numbers", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--writers", choices=WRITERS, default="held-out")
    parser.add_argument("--timing-numbers", type=int, default=20, help="5-digit canvases timed, 5 times each")
    parser.add_argument("--save", type=Path, default=None, help="keep the canvases (PNG) in this directory")
    parser.add_argument("--usps-test", action="store_true",
                        help="instead: numbers of USPS test digits, read with and without the group reader")
    args = parser.parse_args()

    from digit_core import workflows

    predictor = workflows.load_predictor(args.model)
    if args.usps_test:
        compare_readers(predictor, usps_numbers(args.numbers, args.seed))
        return
    if args.numbers:
        numbers = make_numbers(args.writers, args.numbers, args.seed)
        started = time.perf_counter()
        lines = read_through_the_cli_path(args.model, numbers, args.save)
        print(f"read {len(lines)} numbers in {time.perf_counter() - started:.1f} s (model loading included)")
        report(numbers, lines, [read_one_by_one(predictor, number) for number in numbers])
    five = make_numbers(args.writers, args.timing_numbers, args.seed + 1, lengths=(5,))
    timings = time_five_digit_numbers(predictor, five)
    print(describe_ms("one 5-digit number (read_number)", timings))
    print(f"median {statistics.median(timings):.1f} ms (target 20 ms)")


if __name__ == "__main__":
    main()
