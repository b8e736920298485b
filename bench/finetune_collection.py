"""Fine-tuning on collected drawings: 20 drawings of each digit by writers the model never saw.

    python bench/finetune_collection.py [--model ID_OR_PATH] [--per-digit 20] [--seed 0] [--epochs 4]
    python bench/finetune_collection.py --saves-only     # step 1 alone: what labelling adds to a click

1. Picks ``--per-digit`` digits of each kind by pendigits' held-out writers (25-30, never trained on
   by the shipped model), spread over the six writers; draws each as a Draw-page canvas, reads it
   with the model and stores it, labelled, in a fresh SQLite collection, as the Draw page's buttons
   do. Each save (``labelled_drawing`` + ``Collection.add``: the PNG, the 28×28, one transaction) is
   timed: that is what labelling adds to a click.
2. Fine-tunes the model on those drawings, read back from the collection, with the app's recipe
   (``digit_core.training.finetune``), mixed with MNIST training digits.
3. Reads the same writers' other digits (each drawn once as a canvas and prepared by the pipeline:
   one look) and the MNIST test set with the model before and after, and prints both.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import model_argument, percentile

from digit_core import data
from digit_core.models import zoo
from digit_core.store.collection import Collection
from digit_core.store.drawings import labelled_drawing
from digit_core.workflows.read import resolve_model_path
from digit_core.training.finetune import FineTuneConfig, compare_models, fine_tune
from digit_core.data.pendigits import PenDigit
from digit_core.inference.predict import Predictor
from digit_core.data.writers import draw_pen_digit, pen_digits_as_mnist, split_pen_writers


def pick_per_digit(digits: list[PenDigit], per_digit: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Indices of ``per_digit`` digits of each kind, taken from each writer in turn, and of the rest."""
    chosen = []
    for label in range(10):
        by_writer: dict[int, list[int]] = {}
        for index in rng.permutation(len(digits)):
            if digits[index].label == label:
                by_writer.setdefault(digits[index].writer, []).append(int(index))
        queues = [by_writer[writer] for writer in sorted(by_writer)]
        while len([index for index in chosen if digits[index].label == label]) < per_digit:
            for queue in queues:
                if queue and len([index for index in chosen if digits[index].label == label]) < per_digit:
                    chosen.append(queue.pop())
    rest = sorted(set(range(len(digits))) - set(chosen))
    return chosen, rest


def collect(collection: Collection, predictor: Predictor, digits: list[PenDigit], model_id: str,
            rng: np.random.Generator) -> tuple[list[float], list[float]]:
    """Draw, read and store each digit as the Draw page does; each save's wall-clock and CPU milliseconds."""
    save_ms, cpu_ms = [], []
    for number, digit in enumerate(digits):
        canvas = draw_pen_digit(digit, rng)
        prediction = predictor.predict_image(canvas)
        if not prediction.found:
            continue
        started, cpu_started = time.perf_counter(), time.thread_time()
        collection.add(labelled_drawing(canvas, prediction, digit.label, model_id=model_id,
                                        who=f"pendigits writer {digit.writer}", session_id=f"bench-{number}"))
        save_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.thread_time() - cpu_started) * 1000)
    return save_ms, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_argument(parser)
    parser.add_argument("--per-digit", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    defaults = FineTuneConfig()
    parser.add_argument("--epochs", type=int, default=defaults.training.epochs)
    parser.add_argument("--learning-rate", type=float, default=defaults.training.learning_rate)
    parser.add_argument("--repeats", type=int, default=defaults.drawing_repeats)
    parser.add_argument("--mnist-per-drawing", type=int, default=defaults.mnist_per_drawing)
    parser.add_argument("--saves-only", action="store_true", help="store the drawings and time it, nothing more")
    args = parser.parse_args()

    recipe = FineTuneConfig(training=zoo.with_overrides(defaults.training, epochs=args.epochs, seed=args.seed,
                                                        learning_rate=args.learning_rate),
                            drawing_repeats=args.repeats, mnist_per_drawing=args.mnist_per_drawing)
    model_path = resolve_model_path(args.model)
    rng = np.random.default_rng(args.seed)
    _, held_out = split_pen_writers(data.load_pendigits())
    chosen, rest = pick_per_digit(held_out, args.per_digit, rng)
    mnist = data.load_mnist()
    predictor = Predictor.from_file(model_path)

    with tempfile.TemporaryDirectory() as scratch:
        collection = Collection.open(f"sqlite:///{Path(scratch) / 'collection.db'}")
        save_ms, cpu_ms = collect(collection, predictor, [held_out[index] for index in chosen], model_path.stem, rng)
        collected = collection.images()
        collection.close()
        print(f"{len(collected.ids)} drawings stored ({args.per_digit} per digit, writers 25-30); save: median "
              f"{statistics.median(save_ms):.2f} ms, p95 {percentile(save_ms, 95):.2f} ms, max {max(save_ms):.2f} ms "
              f"(CPU: median {statistics.median(cpu_ms):.2f} ms, p95 {percentile(cpu_ms, 95):.2f} ms)", flush=True)
        if args.saves_only:
            return
        others, other_labels = pen_digits_as_mnist([held_out[index] for index in rest], rng)
        run_dir = Path(scratch) / "run"
        started = time.perf_counter()
        result = fine_tune(model_path, collected.images, collected.labels, mnist.x_train, mnist.y_train, recipe,
                           run_dir, x_val=others, y_val=other_labels,
                           on_epoch_end=lambda epoch, metrics: print(
                               f"epoch {epoch + 1}: accuracy {metrics['accuracy']:.4f}, the writers' other digits "
                               f"{metrics['val_accuracy']:.4f} ({metrics['seconds']:.0f} s)", flush=True))
        seconds = time.perf_counter() - started
        report = compare_models(model_path, run_dir / "best.keras",
                                {"other digits": (others, other_labels), "MNIST test": (mnist.x_test, mnist.y_test)})

    print(f"\nfine-tuning: {result.status} after {len(result.history['loss'])} epochs in {seconds:.0f} s "
          f"({recipe.drawing_repeats} repeats, {recipe.mnist_per_drawing} MNIST digits per drawing, "
          f"learning rate {recipe.training.learning_rate})")
    for name, figures in report.items():
        right_before, right_after = (round(figures[which] * figures["n"]) for which in ("before", "after"))
        print(f"{name:<14} before {figures['before']:.2%} ({right_before} right)  after {figures['after']:.2%} "
              f"({right_after} right)  change {100 * (figures['after'] - figures['before']):+.2f} points  "
              f"n={figures['n']}")


if __name__ == "__main__":
    main()
