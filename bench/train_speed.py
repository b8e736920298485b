"""Training speed: our `fast` preset against the notebooks' CNN recipe, in one run, as a ratio.

    python bench/train_speed.py [--seed 0] [--notebook-epochs 20]

The notebook recipe is cnn_32_64_64 (conv 32-64-64, dense 64) with Adam, 20 epochs, batch 128 and a
validation split of 0.1. Both are trained on the same machine in the same process, one after the
other, and evaluated on the MNIST test set. Prints each one's wall time and test accuracy, and the
time ratio fast / notebook (the target is at most 0.20 with at least 98.9% accuracy).
"""

from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (puts the project on the import path, quiets TensorFlow)


def train_and_test(preset: str, seed: int, epochs: int | None) -> tuple[float, float, int]:
    from digit_core import data
    from digit_core.models import zoo
    from digit_core.inference.evaluate import evaluate
    from digit_core.inference.predict import Predictor
    from digit_core.training.train import train

    entry = zoo.get_entry(preset)
    training = zoo.with_overrides(entry.training, seed=seed, epochs=epochs)
    mnist = data.load_mnist()
    x_train, y_train, x_val, y_val = data.validation_split(mnist.x_train, mnist.y_train,
                                                           training.validation_split, seed)
    started = time.perf_counter()
    result = train(entry.network, training, x_train, y_train, x_val, y_val)
    seconds = time.perf_counter() - started
    accuracy = evaluate(Predictor(result.model).probabilities, mnist.x_test, mnist.y_test).accuracy
    return seconds, accuracy, len(result.history["loss"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--notebook-epochs", type=int, default=20)
    args = parser.parse_args()

    fast_seconds, fast_accuracy, fast_epochs = train_and_test("fast", args.seed, None)
    print(f"fast preset        {fast_seconds:8.1f} s  {fast_epochs:3d} epochs  test accuracy {fast_accuracy:.2%}")
    notebook_seconds, notebook_accuracy, notebook_epochs = train_and_test("cnn_32_64_64", args.seed,
                                                                          args.notebook_epochs)
    print(f"notebook recipe    {notebook_seconds:8.1f} s  {notebook_epochs:3d} epochs  "
          f"test accuracy {notebook_accuracy:.2%}")
    print(f"time ratio fast / notebook: {fast_seconds / notebook_seconds:.3f}")


if __name__ == "__main__":
    main()
