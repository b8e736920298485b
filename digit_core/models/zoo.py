"""The model zoo: named network configurations, their builders, and training presets.

Every notebook model is an entry with its notebook's defaults, plus ``tiny`` for tests and ``fast`` /
``best`` for our own models. A new architecture is one config dataclass (``digit_core.models.configs``)
and one builder here; a new preset is one entry in ``ZOO``.

All networks take input of shape (batch, 28, 28, 1), float32 in [0, 1], and output ten softmax
probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
# The zoo is where callers find a network's settings too: the configs are re-exported here.
from digit_core.models.configs import (INPUT_SHAPE, LR_SCHEDULES, OPTIMIZERS, CNNConfig, MLPConfig,  # noqa: F401
                                       NetworkConfig, TrainConfig, network_from_dict, network_to_dict,
                                       train_config_from_dict, with_overrides)

NUM_CLASSES = 10


@dataclass(frozen=True)
class ZooEntry:
    """A named preset: an architecture, how to train it, and a one-line description."""

    name: str
    family: str  # "perceptron", "mlp" or "cnn"
    network: NetworkConfig
    training: TrainConfig
    description: str
    # What the entry's notebook reported on MNIST test with this recipe; None where it gave no figure.
    notebook_test_accuracy: float | None = None


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        # The two SGD notebook models train at Keras' default batch of 32 for as many epochs as their
        # notebooks' figures take (the notebooks' own epochs are not known here): README, "The
        # model-comparison study".
        ZooEntry("slp", "perceptron", MLPConfig(hidden_units=()),
                 TrainConfig(optimizer="sgd", epochs=50, batch_size=32),
                 "Single-layer perceptron: one Dense(10) softmax layer.", notebook_test_accuracy=0.9216),
        ZooEntry("mlp_128_128", "mlp", MLPConfig((128, 128)), TrainConfig(optimizer="adam", epochs=10),
                 "MLP 128-128, ReLU, Adam.", notebook_test_accuracy=0.9716),
        ZooEntry("mlp_300_100", "mlp", MLPConfig((300, 100)), TrainConfig(optimizer="sgd", epochs=20),
                 "MLP 300-100 (LeCun's classic), SGD."),
        ZooEntry("mlp_64_64", "mlp", MLPConfig((64, 64)), TrainConfig(optimizer="sgd", epochs=20),
                 "MLP 64-64, SGD."),
        ZooEntry("mlp_128_dropout", "mlp", MLPConfig((128,), dropout_rate=0.3),
                 TrainConfig(optimizer="sgd", epochs=30, batch_size=32), "MLP 128 with dropout 0.3, SGD.",
                 notebook_test_accuracy=0.9719),
        ZooEntry("mlp_512_dropout", "mlp", MLPConfig((512,), dropout_rate=0.3),
                 TrainConfig(optimizer="adam", epochs=10), "MLP 512 with dropout 0.3, Adam.",
                 notebook_test_accuracy=0.9826),
        ZooEntry("cnn_32_64", "cnn", CNNConfig(((32,), (64,)), (True, True), (128, 64), dropout_rate=0.2),
                 TrainConfig(optimizer="adam", epochs=10),
                 "CNN conv 32-64, dense 128-64 with dropout 0.2, Adam."),
        ZooEntry("cnn_32_64_64", "cnn",
                 CNNConfig(((32,), (64,), (64,)), (True, True, False), (64,), dropout_rate=0.0),
                 TrainConfig(optimizer="adam", epochs=20, batch_size=128),
                 "CNN conv 32-64-64, dense 64, Adam (the notebooks' CNN recipe).", notebook_test_accuracy=0.9890),
        ZooEntry("tiny", "cnn", CNNConfig(((4,),), (True,), (16,), dropout_rate=0.0),
                 TrainConfig(optimizer="adam", epochs=1, batch_size=64, learning_rate=0.003),
                 "A tiny CNN for tests and smoke runs (seconds on a CPU)."),
        ZooEntry("fast", "cnn",
                 # No batch norm: on a CPU it doubles the time of an epoch, and the one-cycle schedule
                 # already reaches 99% in 3 epochs without it.
                 CNNConfig(((32,), (64,)), (True, True), (128,), dropout_rate=0.25),
                 TrainConfig(optimizer="adam", epochs=3, batch_size=128, learning_rate=0.003,
                             lr_schedule="one_cycle", validation_split=0.1),
                 "Our fast recipe: a CNN 32-64 / dense 128 with a one-cycle schedule, 3 epochs."),
        ZooEntry("best", "cnn",
                 CNNConfig(((32,), (64, 64)), (True, True), (128,), dropout_rate=0.3,
                           conv_dropout_rate=0.1, batch_norm=True),
                 TrainConfig(optimizer="adam", epochs=15, batch_size=128, learning_rate=0.003,
                             lr_schedule="one_cycle", augment=True, label_smoothing=0.05,
                             validation_split=0.05),
                 "Our best: batch-normalised CNN trained with augmentation, label smoothing and one-cycle."),
    )
}


def get_entry(name: str) -> ZooEntry:
    """The zoo entry called ``name``, or a ValueError listing the names that exist."""
    try:
        return ZOO[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; choose one of {', '.join(ZOO)}.") from None


def build_network(network: NetworkConfig, name: str = "digit_model"):
    """Build an (uncompiled) Keras model for ``network``."""
    builder: Callable = _build_mlp if isinstance(network, MLPConfig) else _build_cnn
    return builder(network, name)


def _build_mlp(config: MLPConfig, name: str):
    import keras
    from keras import layers

    model_layers = [keras.Input(shape=INPUT_SHAPE), layers.Flatten()]
    for units in config.hidden_units:
        model_layers.append(layers.Dense(units, activation=config.activation))
        if config.dropout_rate > 0:
            model_layers.append(layers.Dropout(config.dropout_rate))
    model_layers.append(layers.Dense(NUM_CLASSES, activation="softmax"))
    return keras.Sequential(model_layers, name=name)


def _build_cnn(config: CNNConfig, name: str):
    import keras
    from keras import layers

    model_layers: list = [keras.Input(shape=INPUT_SHAPE)]
    for block, pooled in zip(config.blocks, config.pool_after):
        for filters in block:
            if config.batch_norm:
                # Batch norm replaces the convolution's bias, so the bias is dropped.
                model_layers += [layers.Conv2D(filters, 3, padding=config.padding, use_bias=False),
                                 layers.BatchNormalization(), layers.Activation("relu")]
            else:
                model_layers.append(layers.Conv2D(filters, 3, padding=config.padding, activation="relu"))
        if pooled:
            model_layers.append(layers.MaxPooling2D(2))
            if config.conv_dropout_rate > 0:
                model_layers.append(layers.Dropout(config.conv_dropout_rate))
    model_layers.append(layers.GlobalAveragePooling2D() if config.global_pool else layers.Flatten())
    for units in config.dense_units:
        model_layers.append(layers.Dense(units, activation="relu"))
        if config.dropout_rate > 0:
            model_layers.append(layers.Dropout(config.dropout_rate))
    model_layers.append(layers.Dense(NUM_CLASSES, activation="softmax"))
    return keras.Sequential(model_layers, name=name)


def make_optimizer(training: TrainConfig, steps_per_epoch: int):
    """The Keras optimizer for ``training``, with its learning-rate schedule."""
    import keras

    classes = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam,
               "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad,
               "adadelta": keras.optimizers.Adadelta, "adamax": keras.optimizers.Adamax,
               "nadam": keras.optimizers.Nadam}
    optimizer_class = classes[training.optimizer]
    if training.learning_rate is None and training.lr_schedule == "constant":
        return optimizer_class()
    peak = training.learning_rate or optimizer_class().learning_rate.numpy().item()
    total_steps = max(1, steps_per_epoch * training.epochs)
    if training.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(peak, total_steps, alpha=0.01)
    elif training.lr_schedule == "one_cycle":
        # Warm up over the first 20% of steps, then cosine-decay to nearly zero.
        warmup = max(1, total_steps // 5)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            peak / 10, total_steps - warmup, alpha=0.002, warmup_target=peak, warmup_steps=warmup)
    else:
        learning_rate = peak
    return optimizer_class(learning_rate=learning_rate)


def count_parameters(network: NetworkConfig) -> int:
    """Number of parameters of a network (builds it; cheap for zoo sizes)."""
    return int(build_network(network).count_params())

