"""Explanation speed: a drawing's saliency maps for the answer and the runner-up, and its feature maps.

    python bench/explain_speed.py [--model ID_OR_PATH] [--repeats 50]

Times ``Explainer.explain`` (``digit_core/inference/explain.py``) on the 28×28 inputs of canvas drawings of
the ten digits, one after another: one TensorFlow call for the reading and every convolution's
feature maps, and one batch of the drawing with each inked pixel erased in turn (occlusion) for
both digits' saliency maps. Prints the
median and p95 milliseconds, and the machine's load average (it is shared). The target is a median
of at most 150 ms with the shipped model.
"""

from __future__ import annotations

import argparse
import os

from common import describe_ms, model_argument, time_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_argument(parser)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    from digit_core.workflows.read import resolve_model_path
    from digit_core.inference.explain import Explainer
    from digit_core.images.preprocess import preprocess
    from digit_core.data.synthetic import digit_styles, render_strokes

    path = resolve_model_path(args.model)
    explainer = Explainer.from_file(path)
    inputs = [preprocess(render_strokes(digit_styles(digit)[0], background="transparent", ink=(0, 0, 0)),
                         keep_steps=False).image for digit in range(10)]
    counter = iter(range(10**9))
    timings = time_calls(lambda: explainer.explain(inputs[next(counter) % 10]), args.repeats, warmup=5)
    networks = len(explainer.chains)
    print(f"model: {path.name}, {networks} network{'s' if networks > 1 else ''}")
    print(describe_ms("explain (2 saliency maps + feature maps)", timings))
    print("load average (1, 5, 15 min): " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
