"""Does each hand-made preprocessing rule still earn its place? Accuracy on other writers' handwriting
with each rule switched off in turn, through the project's own predict path.

    python bench/heuristics.py [--model ID_OR_PATH] [--seed 0]

Rules (digit_core.images.preprocess / digit_core.inference.predict):
  second look        an unsure reading (< 0.6) is averaged with the image read deskewed and with its
                     strokes as drawn
  stroke width       strokes thickened or thinned to MNIST's width (at reading time only: the
                     network was trained on images that went through it)
  MNIST-shaped as is a 28×28 image already shaped like MNIST skips the reshaping

The soft-digit rule (a digit with 40% grey ink never thinned) went in the change that added this
script: with the networks trained on other writers, switching it off read as many digits or more on
every set (bench/NOTES.md).

Sets: pendigits' held-out writers as canvases, optdigits' cv file as 32 px scans, scikit-learn's
digits as 32 px scans, USPS test as 48 px scans, and 2,000 MNIST test digits re-drawn as canvases.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator

from common import model_argument

import numpy as np

from accuracy import held_out_writer_sets, mnist_canvases, read_all, usps_scans


@contextlib.contextmanager
def switched_off(module, name: str, value) -> Iterator[None]:
    """Set ``module.name`` to ``value`` for the duration (a rule switched off)."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def variants(predict_module, preprocess_module) -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    original_preprocess = predict_module.preprocess
    return {
        "all rules (as shipped)": contextlib.nullcontext,
        "no second look": lambda: switched_off(predict_module, "SECOND_LOOK_BELOW", 0.0),
        "no stroke-width normalisation": lambda: switched_off(
            predict_module, "preprocess",
            lambda image, **options: original_preprocess(image, **{**options, "normalize_stroke": False})),
        "no MNIST-shaped shortcut": lambda: switched_off(preprocess_module, "_mnist_form", lambda ink: None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_argument(parser)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from sklearn.datasets import load_digits

    from digit_core import data
    from digit_core.inference import predict
    from digit_core.images import preprocess
    from digit_core.workflows.read import load_predictor, resolve_model_path
    from digit_core.data.writers import sklearn_digits_scans

    predictor = load_predictor(args.model)
    rng = np.random.default_rng(args.seed)
    sets = held_out_writer_sets(np.random.default_rng(args.seed + 2))
    sets.pop("optdigits cv (held out), scans 64 px")
    sklearn_digits = load_digits()
    sets["sklearn digits, scans 32 px"] = (sklearn_digits_scans(sklearn_digits.images, 32), sklearn_digits.target)
    usps_images, usps_labels = data.load_usps("test")
    sets["usps test, scans 48 px"] = (usps_scans(usps_images, 48, rng), usps_labels)
    mnist = data.load_mnist()
    chosen = rng.choice(len(mnist.x_test), size=2000, replace=False)
    sets["mnist test as canvases (2,000)"] = (mnist_canvases(mnist.x_test[chosen], rng), mnist.y_test[chosen])
    print(f"model: {resolve_model_path(args.model)}")
    print(f"{'variant':<32}" + "".join(f"{name[:22]:>24}" for name in sets) + f"{'mean':>9}")
    for name, context in variants(predict, preprocess).items():
        started = time.perf_counter()
        with context():
            accuracies = [float(np.mean([digit == label for digit, label in zip(
                read_all(predictor, images), labels)])) for images, labels in sets.values()]
        print(f"{name:<32}" + "".join(f"{accuracy:>24.2%}" for accuracy in accuracies)
              + f"{np.mean(accuracies):>9.2%}   ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
