"""Inference latency: preprocess + predict one canvas drawing, beside Keras' model.predict.

    python bench/latency.py [--model ID_OR_PATH] [--repeats 300]

Prints median and p95 milliseconds for: the preprocessing pipeline alone, the predictor on a
28×28 input, the full path (preprocess + predict) on a 280×280 RGBA canvas, and model.predict on
the same 28×28 input.
"""

from __future__ import annotations

import argparse

from common import describe_ms, model_argument, time_calls

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_argument(parser)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    from digit_core.workflows.read import load_predictor
    from digit_core.images.preprocess import preprocess
    from digit_core.data.synthetic import digit_styles, render_strokes

    predictor = load_predictor(args.model)
    canvases = [render_strokes(digit_styles(digit)[0], background="transparent", ink=(0, 0, 0))
                for digit in range(10)]
    prepared = preprocess(canvases[3], keep_steps=False).image
    batch = prepared[np.newaxis, ..., np.newaxis]
    counter = iter(range(10**9))

    def full_path() -> object:
        return predictor.predict_image(canvases[next(counter) % 10])

    print(f"model: {predictor.model.name}, {predictor.model.count_params():,} parameters")
    print(describe_ms("preprocess (280×280 RGBA canvas)", time_calls(
        lambda: preprocess(canvases[next(counter) % 10], keep_steps=False), args.repeats)))
    print(describe_ms("predictor.probabilities (one 28×28)", time_calls(
        lambda: predictor.probabilities(prepared), args.repeats)))
    print(describe_ms("preprocess + predict (the app's path)", time_calls(full_path, args.repeats)))
    print(describe_ms("keras model.predict (one 28×28)", time_calls(
        lambda: predictor.model.predict(batch, verbose=0), max(30, args.repeats // 5), warmup=3)))
    many = np.repeat(prepared[np.newaxis], 1000, axis=0)
    batch_ms = time_calls(lambda: predictor.probabilities(many), 5, warmup=1)
    print(describe_ms("predictor.probabilities, batch of 1000", batch_ms)
          + f"  = {min(batch_ms) / 1000 * 1000:.1f} µs/image")


if __name__ == "__main__":
    main()
