"""Training the group reader (``group_reader``) on numbers by training writers.

    python -m digit_core.inference.group_reader_training [--numbers 16000] [--validation-numbers 2000]
                                                         [--epochs 10] [--seed 5000] [--out PATH.onnx]
                                                         [--acceptance-numbers 3000] [--acceptance-only]
                                                         [--dry-run]

Numbers are written by training writers only (``number_canvas.make_numbers("training", ...)``:
pendigits writers 1-24, MNIST train) as ``bench/number_accuracy.py`` writes its held-out ones, but
with neighbours touching half the time (TRAINING_TOUCHING), so that the network sees many touching
groups. Each group ``segment.find_digits`` finds that holds at most MAX_GROUP_DIGITS digits is an
example (one holding none is part of a digit written apart, such as a 5's bar): its image
(``group_reader.group_image``) and, for each frame, the digit whose middle lies in it, or none. The
frames beside a middle are left out of the loss (a middle near a frame's edge could be in either) and
a middle's frame weighs MIDDLE_WEIGHT (few frames hold one). Validation numbers, by the same writers
with the next seed and touching as often as the bench's, say how many groups of each size are read
right; the held-out writers are for ``bench/number_accuracy.py`` alone.

Then the acceptance (``GroupReader.accepts``) is fitted on more numbers by the same writers (seed + 2,
validated on seed + 3): a logistic regression telling the reader's findings of several digits in
groups that hold several from those in single digits. ``--acceptance-only`` refits just that.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digit_core.store.atomic import atomic_write_bytes, atomic_write_json, read_json

from digit_core.inference.group_reader import (ACCEPTANCE_FEATURES, FORMAT, FRAME_WIDTH, FRAMES, GROUP_SHAPE,
                                               GroupReader, digits_in_frames, group_image, reader_path)

if TYPE_CHECKING:
    from digit_core.images.number_canvas import WrittenNumber
    from digit_core.inference.predict import Predictor

TRAINING_TOUCHING = 0.5
MAX_GROUP_DIGITS = 4
MIDDLE_WEIGHT = 4.0


def group_examples(numbers: Iterable["WrittenNumber"]) -> tuple[np.ndarray, list[str], list[list[float]]]:
    """(group images (N, 32, 128) float32, the digits each holds, each digit's middle in the group
    image's columns) for every group of up to MAX_GROUP_DIGITS digits of the numbers. A group that
    holds no digit (a 5's bar written apart from its body) teaches the network to find none there."""
    from digit_core.images import segment
    from digit_core.inference.number_split_training import group_owners

    images, labels, middles = [], [], []
    for number in numbers:
        layout = segment.find_digits(number.canvas)
        for group, owned in zip(layout.groups, group_owners(layout, number)):
            if len(owned) > MAX_GROUP_DIGITS:
                continue
            image = group_image(layout.ink, group.strokes, group.box)
            images.append(image.pixels.astype(np.float16))  # half the memory; the network reads float32
            labels.append("".join(number.digits[index] for index in owned))
            # The middle of each digit's ink, in the group image's columns.
            middles.append([image.column(number.boxes[index][0] + number.boxes[index][2] / 2) for index in owned])
    return np.stack(images).astype(np.float32), labels, middles


def frame_targets(labels: Sequence[str], middles: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """(each frame's class: 0 for none, 1 + digit where a digit's middle is; each frame's weight)."""
    targets = np.zeros((len(labels), FRAMES), np.int32)
    weights = np.ones((len(labels), FRAMES), np.float32)
    for row, (digits, columns) in enumerate(zip(labels, middles)):
        frames = [min(FRAMES - 1, max(0, int(column // FRAME_WIDTH))) for column in columns]
        for frame in frames:
            weights[row, max(0, frame - 1):frame + 2] = 0.0
        for frame, digit in zip(frames, digits):
            targets[row, frame], weights[row, frame] = int(digit) + 1, MIDDLE_WEIGHT
    return targets, weights


def build_network() -> Any:
    """Four convolution blocks that halve the height (the first also the width) to 2 rows of 64
    frames, then two 1-D convolutions along the frames and a softmax over none and the ten digits."""
    import keras
    from keras import layers

    inputs = keras.Input((*GROUP_SHAPE, 1))  # (batch, 32, 128, 1)
    x = inputs
    for filters, pool in ((16, (2, 2)), (32, (2, 1)), (64, (2, 1)), (64, (2, 1))):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(pool)(x)
    x = layers.Permute((2, 1, 3))(x)  # (batch, 64 frames, 2 rows, 64 channels)
    x = layers.Reshape((FRAMES, 2 * 64))(x)
    x = layers.Conv1D(128, 5, padding="same", activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Conv1D(128, 5, padding="same", activation="relu")(x)
    outputs = layers.Dense(11, activation="softmax")(x)  # (batch, 64, 11)
    return keras.Model(inputs, outputs, name="group_reader")


def read_right(frames: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Of the groups of each size, the share whose digits found (``digits_in_frames``) spell its label."""
    read = ["".join(str(int(rows[frame, 1:].argmax())) for frame in digits_in_frames(rows)) for rows in frames]
    figures = {}
    for size in range(MAX_GROUP_DIGITS + 1):
        right = [text == label for text, label in zip(read, labels) if len(label) == size]
        if right:
            figures[f"groups of {size} read right"] = round(float(np.mean(right)), 4)
            figures[f"groups of {size}"] = len(right)
    return figures


def train(images: np.ndarray, labels: Sequence[str], middles: Sequence[Sequence[float]], epochs: int,
          seed: int, validation: tuple[np.ndarray, Sequence[str], Sequence[Sequence[float]]]) -> Any:
    """The network trained with Adam on a cosine-decayed rate, validated on ``validation``."""
    import keras

    keras.utils.set_random_seed(seed)
    targets, weights = frame_targets(labels, middles)
    validation_targets, validation_weights = frame_targets(validation[1], validation[2])
    model = build_network()
    steps = epochs * int(np.ceil(len(images) / 64))
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                  loss="sparse_categorical_crossentropy")
    model.fit(images[..., np.newaxis], targets, sample_weight=weights, batch_size=64, epochs=epochs,
              validation_data=(validation[0][..., np.newaxis], validation_targets, validation_weights), verbose=2)
    return model


def acceptance_examples(predictor: "Predictor", reader: GroupReader, numbers: Iterable["WrittenNumber"]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(``acceptance_features``, whether the group holds several digits) of each group of the numbers
    that ``number.read_number`` would ask the reader about and in which it finds several digits."""
    from digit_core.images import segment
    from digit_core.inference.number import group_findings
    from digit_core.inference.number_split_training import group_owners
    from digit_core.inference.number_ways import read_pieces, ways_of_group

    features, several = [], []
    for number in numbers:
        layout = segment.find_digits(number.canvas)
        groups = [ways_of_group(layout, group) for group in layout.groups]
        owners = {id(group): owned for group, owned in zip(groups, group_owners(layout, number))}
        read_pieces(predictor, layout, [group.whole for group in groups if group.whole is not None])
        for group, _, found_features in group_findings(layout, reader, groups):
            if found_features is not None:
                features.append(found_features)
                several.append(len(owners[id(group)]) > 1)
    return np.array(features).reshape(-1, len(ACCEPTANCE_FEATURES)), np.array(several, bool)


def fit_acceptance(features: np.ndarray, several: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights of a logistic regression telling findings in groups of several digits from findings in
    single digits (features scaled to unit spread for the fit, the weights scaled back)."""
    from sklearn.linear_model import LogisticRegression

    if several.all() or not several.any():
        raise ValueError("acceptance needs findings in groups of several digits and in single digits")
    spread = features.std(axis=0)
    spread[spread == 0] = 1.0
    # The features hold a constant ("bias"), so no separate intercept.
    regression = LogisticRegression(C=1.0 / l2, fit_intercept=False, max_iter=5000).fit(features / spread, several)
    return regression.coef_[0] / spread


def acceptance_figures(weights: np.ndarray, features: np.ndarray, several: np.ndarray) -> dict[str, float]:
    """Of the findings of several digits in groups of several and in single digits, the shares taken."""
    taken = features @ weights > 0
    return {"findings in groups of several digits taken": round(float(taken[several].mean()), 4),
            "findings in single digits taken": round(float(taken[~several].mean()), 4) if (~several).any() else 0.0,
            "findings": int(len(several))}


def fit_acceptance_for(onnx_model: bytes, count: int, seed: int, validation_count: int) -> dict[str, Any]:
    """The sidecar's ``acceptance``: fitted on ``count`` numbers by training writers (``seed``),
    validated on ``validation_count`` more (``seed + 1``), with the active digit model."""
    from digit_core import workflows
    from digit_core.images.number_canvas import iter_numbers

    predictor, reader = workflows.load_predictor(None), GroupReader(onnx_model)
    features, several = acceptance_examples(predictor, reader, iter_numbers("training", count, seed))
    weights = fit_acceptance(features, several)
    validation = acceptance_examples(predictor, reader, iter_numbers("training", validation_count, seed + 1))
    return {"features": list(ACCEPTANCE_FEATURES), "weights": [round(float(w), 6) for w in weights],
            "numbers": count, "seed": seed, "validation": acceptance_figures(weights, *validation)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=16000, help="numbers trained on")
    parser.add_argument("--validation-numbers", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=5000, help="the training numbers' seed; validation's is seed + 1")
    parser.add_argument("--out", type=Path, default=None, help=f"where to save (default: {reader_path()})")
    parser.add_argument("--acceptance-numbers", type=int, default=3000,
                        help="numbers the acceptance is fitted on (seed + 2; validated on seed + 3)")
    parser.add_argument("--acceptance-only", action="store_true",
                        help="refit only the acceptance of the reader already saved at --out")
    parser.add_argument("--dry-run", action="store_true", help="40 + 20 numbers, one epoch, nothing saved")
    args = parser.parse_args(argv)
    out = args.out or reader_path()
    if args.acceptance_only:
        about = read_json(out.with_suffix(".json"))
        about["acceptance"] = fit_acceptance_for(out.read_bytes(), args.acceptance_numbers, args.seed + 2,
                                                 args.validation_numbers)
        print(f"acceptance: {about['acceptance']['validation']}")
        print(f"saved {atomic_write_json(out.with_suffix('.json'), about)}")
        return

    from digit_core.images.number_canvas import TOUCHING_CHANCE, iter_numbers
    from digit_core.models.export import export_bytes

    count, validation_count, epochs = (40, 20, 1) if args.dry_run else (args.numbers, args.validation_numbers,
                                                                         args.epochs)
    examples = group_examples(iter_numbers("training", count, args.seed, touching_chance=TRAINING_TOUCHING))
    validation = group_examples(iter_numbers("training", validation_count, args.seed + 1))
    model = train(*examples, epochs=epochs, seed=args.seed, validation=validation)
    figures = read_right(model.predict(validation[0][..., np.newaxis], verbose=0), validation[1])
    print("validation: " + ", ".join(f"{name} {value:.2%}" for name, value in figures.items() if "right" in name))
    if args.dry_run:  # a network trained so briefly finds too few digits to fit an acceptance on
        return
    onnx_model = export_bytes(model, "onnx")
    acceptance = fit_acceptance_for(onnx_model, args.acceptance_numbers, args.seed + 2, validation_count)
    print(f"acceptance: {acceptance['validation']}")
    about = {"format": FORMAT, "validation": figures, "acceptance": acceptance, "trained_on": {
        "writers": "training (pendigits 1-24, MNIST train)", "numbers": count, "groups": len(examples[1]),
        "touching_chance": TRAINING_TOUCHING, "validation_numbers": validation_count,
        "validation_touching_chance": TOUCHING_CHANCE, "seed": args.seed, "epochs": epochs,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}}
    atomic_write_json(out.with_suffix(".json"), about)
    print(f"saved {atomic_write_bytes(out, onnx_model)}")


if __name__ == "__main__":
    main()
