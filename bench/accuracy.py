"""Accuracy of a model through the project's own predict path, on MNIST and real-handwriting proxies.

    python bench/accuracy.py [--model ID_OR_PATH] [--canvas-samples 2000] [--scan-draws 5] [--seed 0]
                             [--no-second-look]

Sets (none of them is used for training):
  mnist (raw)          MNIST test, fed to the network as is (the classic figure)
  mnist (pipeline)     MNIST test through preprocess() as if uploaded
  usps scans           USPS test as dark-on-light scans, digit heights 24/48/96 px, noise and blur;
                       each size drawn --scan-draws times with fresh noise, the figure their mean
  usps, conditions     the 48 px scans cropped tight, under uneven light, as JPEG, on ruled paper;
                       tight 16 px crops
  mnist as canvas      MNIST test digits re-drawn as 280×280 canvas drawings: varied size,
                       position, stroke width, slant and background
  drawn strokes        synthetic pen strokes of every digit style at varied size, position,
                       brush width, slant, rotation and jitter, on a 280×280 canvas
  sklearn digits scans the 1,797 handwritten digits scikit-learn ships (UCI optdigits' test writers,
                       stored as 8×8 counts of a 32×32 bitmap), as dark-on-light scans with the
                       digit 16/32/64 px tall: a validation proxy, never training data
  held-out pen writers pendigits' writers 25-30 (digit_core.data.writers.HELD_OUT_PEN_WRITERS, 1,498
                       digits), each digit drawn twice as a Draw-page canvas
  optdigits cv         optdigits' cv file (946 digits, never trained on; UCI drew it from the same
                       writers as tra, so it may flatter), as dark-on-light scans 32/64 px tall

For the sets of other writers' handwriting, the last columns count the errors, and among them a 1
and a 7 read as each other, and a 4 read as 5, 6 or 9 or the other way round.
"""

from __future__ import annotations

import argparse
import time

from common import model_argument

import cv2
import numpy as np


def usps_scans(images: np.ndarray, height: int, rng: np.random.Generator,
               margin: int | None = None) -> list[np.ndarray]:
    """USPS digits (16×16, light on dark) as grey dark-on-light scans with paper margin and noise."""
    margin = max(2, height // 4) if margin is None else margin
    scans = []
    for image in images:
        paper = 255 - image
        big = cv2.resize(paper, (height, height), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=255)
        big = cv2.GaussianBlur(big, (3, 3), 0.6)
        noisy = big.astype(np.float32) * rng.uniform(0.85, 1.0) + rng.normal(0, 6, big.shape)
        scans.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return scans


def scan_conditions(images: np.ndarray, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """The 48 px scans under harder conditions, and tight 16 px crops (USPS's own framing)."""
    from digit_core.data.synthetic import lit_from_the_right

    def jpeg(scan: np.ndarray) -> np.ndarray:
        encoded = cv2.imencode(".jpg", scan, [cv2.IMWRITE_JPEG_QUALITY, 40])[1]
        return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)

    def ruled(scan: np.ndarray) -> np.ndarray:
        lined = scan.copy()
        lined[60:62, :] = 110  # a grey 2 px line along the digit's foot (the digit spans rows 12-59)
        return lined

    return {
        "tight crop (no margin), 48 px": usps_scans(images, 48, rng, margin=0),
        "tight crop (no margin), 16 px": usps_scans(images, 16, rng, margin=0),
        "light falling to 55%, 48 px": [lit_from_the_right(scan, 0.55) for scan in usps_scans(images, 48, rng)],
        "JPEG quality 40, 48 px": [jpeg(scan) for scan in usps_scans(images, 48, rng)],
        "ruled line along the foot, 48 px": [ruled(scan) for scan in usps_scans(images, 48, rng)],
    }


def mnist_canvases(images: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    from digit_core.data.synthetic import mnist_as_canvas

    canvases = []
    for image in images:
        scale = rng.uniform(0.35, 0.95)
        room = (1 - scale) * 280 / 2
        background = str(rng.choice(["white", "transparent", "black"]))
        canvases.append(mnist_as_canvas(
            image, scale=scale, offset=tuple(rng.uniform(-room, room, 2) * 0.8),
            stroke_width_change=int(rng.integers(-4, 16)), slant=rng.uniform(-0.3, 0.3),
            background=background, ink=(255, 255, 255) if background == "black" else (0, 0, 0)))
    return canvases


def drawn_strokes(rng: np.random.Generator) -> tuple[list[np.ndarray], list[int]]:
    from digit_core.data.synthetic import DIGIT_STROKES, render_strokes

    canvases, labels = [], []
    for digit, styles in DIGIT_STROKES.items():
        for strokes in styles:
            for scale in (0.3, 0.55, 0.85):
                for width in (8, 18, 32):
                    for slant in (-0.2, 0.0, 0.25):
                        room = (1 - scale) / 2
                        center = tuple(0.5 + rng.uniform(-room, room, 2) * 0.9)
                        canvases.append(render_strokes(
                            strokes, scale=scale, center=center, stroke_width=width, slant=slant,
                            rotation_deg=rng.uniform(-8, 8), jitter=0.01, rng=rng,
                            background=str(rng.choice(["white", "transparent"]))))
                        labels.append(digit)
    return canvases, labels


def read_all(predictor, images: list[np.ndarray], second_look: bool = True) -> list[int | None]:
    """Each image's digit through predict_image (None where no digit was found)."""
    return [predictor.predict_image(image, second_look=second_look).digit for image in images]


def accuracy_of(predictor, images: list[np.ndarray], labels: np.ndarray,
                second_look: bool = True) -> tuple[float, int]:
    """Accuracy through predict_image; a 'no digit found' counts as wrong. Returns (accuracy, no-digit)."""
    digits = read_all(predictor, images, second_look)
    missing = sum(digit is None for digit in digits)
    correct = sum(digit == label for digit, label in zip(digits, labels))
    return correct / len(labels), missing


def confusions(digits: list[int | None], labels: np.ndarray) -> str:
    """Errors, and among them 1↔7 and 4↔5/6/9 confusions, as a short text."""
    pairs = [(int(label), digit) for label, digit in zip(labels, digits) if digit != label]
    one_seven = sum(pair in ((1, 7), (7, 1)) for pair in pairs)
    four = sum(pair in {(4, 5), (4, 6), (4, 9), (5, 4), (6, 4), (9, 4)} for pair in pairs)
    return f"; errors {len(pairs)}: 1<->7 {one_seven}, 4<->5/6/9 {four}"


def held_out_writer_sets(rng: np.random.Generator) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """pendigits' held-out writers as canvases, optdigits' cv file as scans (never trained on)."""
    from digit_core import data
    from digit_core.data import writers

    _, pen_held_out = writers.split_pen_writers(data.load_pendigits())
    canvases = [writers.draw_pen_digit(digit, rng) for digit in pen_held_out for _ in range(2)]
    pen_labels = np.repeat([digit.label for digit in pen_held_out], 2)
    sets = {"held-out pen writers, canvases": (canvases, pen_labels)}
    images, labels = data.load_optdigits("cv")
    for height in (32, 64):
        scans = []
        for image in images:
            paper = cv2.resize(255 - image, (height, height), interpolation=cv2.INTER_AREA)
            margin = height // 4
            scans.append(cv2.copyMakeBorder(cv2.GaussianBlur(paper, (3, 3), 0.6), margin, margin, margin,
                                            margin, cv2.BORDER_CONSTANT, value=255))
        sets[f"optdigits cv (held out), scans {height} px"] = (scans, labels)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_argument(parser)
    parser.add_argument("--canvas-samples", type=int, default=2000)
    parser.add_argument("--scan-draws", type=int, default=5,
                        help="noise draws of the USPS scans at each size (one scan set is 2,007 images, so "
                             "one draw's figure moves by an image or two with the noise)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-second-look", dest="second_look", action="store_false",
                        help="read every image once, as if the predictor never took a second look at "
                             "an unsure reading (see digit_core.inference.predict.SECOND_LOOK_BELOW)")
    args = parser.parse_args()
    if args.scan_draws < 1:
        parser.error(f"--scan-draws must be at least 1, got {args.scan_draws}")

    from sklearn.datasets import load_digits

    from digit_core import data
    from digit_core.workflows.read import load_predictor, resolve_model_path
    from digit_core.data.writers import sklearn_digits_scans

    predictor = load_predictor(args.model)
    mnist = data.load_mnist()
    usps_images, usps_labels = data.load_usps("test")
    rng = np.random.default_rng(args.seed)
    print(f"model: {resolve_model_path(args.model)} ({predictor.model.count_params():,} parameters), "
          f"second look {'on' if args.second_look else 'off'}")

    def report(name: str, accuracy: float, n: int, missing: int = 0, started: float = 0.0, note: str = "") -> None:
        extra = (f", {missing} read as no digit" if missing else "") + note
        # The count too: 9,884 of 10,035 (98.495%) would print as 98.50%.
        print(f"{name:<44} {accuracy:8.2%}   ({round(accuracy * n):,} of n={n:,}{extra}; "
              f"{time.perf_counter() - started:.0f} s)")

    started = time.perf_counter()
    raw = (predictor.probabilities(mnist.x_test).argmax(1) == mnist.y_test).mean()
    report("mnist (raw)", raw, len(mnist.y_test), started=started)

    started = time.perf_counter()
    accuracy, missing = accuracy_of(predictor, list(mnist.x_test), mnist.y_test, args.second_look)
    report("mnist (pipeline)", accuracy, len(mnist.y_test), missing, started)

    for height in (24, 48, 96):
        started = time.perf_counter()
        # The first draw comes from the main generator (so the sets after it stay the same), the
        # others from their own.
        draws = [usps_scans(usps_images, height, rng)] + [
            usps_scans(usps_images, height, np.random.default_rng([args.seed, height, draw]))
            for draw in range(1, args.scan_draws)]
        results = [accuracy_of(predictor, scans, usps_labels, args.second_look) for scans in draws]
        accuracies = [accuracy for accuracy, _ in results]
        note = (f"; mean of {len(draws)} noise draws: {', '.join(f'{a:.2%}' for a in accuracies)}"
                if len(draws) > 1 else "")
        report(f"usps scans, {height} px", float(np.mean(accuracies)), len(usps_labels) * len(draws),
               sum(missing for _, missing in results), started, note)

    started = time.perf_counter()
    chosen = rng.choice(len(mnist.x_test), size=min(args.canvas_samples, len(mnist.x_test)), replace=False)
    accuracy, missing = accuracy_of(predictor, mnist_canvases(mnist.x_test[chosen], rng), mnist.y_test[chosen],
                                    args.second_look)
    report("mnist as canvas drawings", accuracy, len(chosen), missing, started)

    started = time.perf_counter()
    canvases, labels = drawn_strokes(rng)
    accuracy, missing = accuracy_of(predictor, canvases, np.array(labels), args.second_look)
    report("drawn strokes", accuracy, len(labels), missing, started)

    # Its own generator, so adding conditions leaves the sets above as they were.
    for name, scans in scan_conditions(usps_images, np.random.default_rng(args.seed + 1)).items():
        started = time.perf_counter()
        accuracy, missing = accuracy_of(predictor, scans, usps_labels, args.second_look)
        report(f"usps, {name}", accuracy, len(usps_labels), missing, started)

    optdigits = load_digits()
    writer_sets = {f"sklearn digits scans, {height} px": (sklearn_digits_scans(optdigits.images, height),
                                                          optdigits.target)
                   for height in (16, 32, 64)}  # no noise drawn: the sets above stay as they were
    writer_sets |= held_out_writer_sets(np.random.default_rng(args.seed + 2))
    for name, (images, labels) in writer_sets.items():
        started = time.perf_counter()
        digits = read_all(predictor, images, args.second_look)
        accuracy = float(np.mean([digit == label for digit, label in zip(digits, labels)]))
        report(name, accuracy, len(labels), sum(digit is None for digit in digits), started,
               confusions(digits, labels))


if __name__ == "__main__":
    main()
