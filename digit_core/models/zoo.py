"""The model zoo: named network configurations, their builders, and training presets.

Every notebook model is an entry with its notebook's defaults, plus ``tiny`` for tests and ``fast`` /
``best`` for our own models. A new architecture is one config dataclass and one builder; a new preset
is one entry in ``ZOO``.

All networks take input of shape (batch, 28, 28, 1), float32 in [0, 1], and output ten softmax
probabilities.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")
LR_SCHEDULES = ("constant", "cosine", "one_cycle")
INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class MLPConfig:
    """A multilayer perceptron; no hidden layers gives the single-layer perceptron."""

    hidden_units: tuple[int, ...] = (128, 128)  # one entry per hidden Dense layer
    dropout_rate: float = 0.0  # after every hidden layer
    activation: str = "relu"

    def __post_init__(self) -> None:
        _require(len(self.hidden_units) <= 8, "An MLP has at most 8 hidden layers.")
        for units in self.hidden_units:
            _require(isinstance(units, int) and 1 <= units <= 4096,
                     f"Hidden units must be whole numbers from 1 to 4096, got {units!r}.")
        _require(0.0 <= self.dropout_rate < 1.0,
                 f"Dropout rate must be in [0, 1), got {self.dropout_rate}.")
        _require(self.activation in ("relu", "sigmoid", "tanh", "elu", "gelu"),
                 f"Unknown activation {self.activation!r}.")


@dataclass(frozen=True)
class CNNConfig:
    """A convolutional network: blocks of 3×3 convolutions, each block optionally max-pooled."""

    blocks: tuple[tuple[int, ...], ...] = ((32,), (64,))  # filters of each conv in each block
    pool_after: tuple[bool, ...] = (True, True)  # max-pool 2×2 after each block?
    dense_units: tuple[int, ...] = (128, 64)
    dropout_rate: float = 0.2  # after every dense hidden layer
    conv_dropout_rate: float = 0.0  # after every pooled block
    batch_norm: bool = False
    padding: str = "valid"
    global_pool: bool = False  # global average pooling instead of flattening

    def __post_init__(self) -> None:
        _require(1 <= len(self.blocks) <= 6, "A CNN has 1 to 6 convolution blocks.")
        _require(len(self.pool_after) == len(self.blocks),
                 "pool_after needs one entry per convolution block.")
        for block in self.blocks:
            _require(len(block) >= 1, "Every convolution block needs at least one layer.")
            for filters in block:
                _require(isinstance(filters, int) and 1 <= filters <= 512,
                         f"Convolution filters must be whole numbers from 1 to 512, got {filters!r}.")
        for units in self.dense_units:
            _require(isinstance(units, int) and 1 <= units <= 4096,
                     f"Dense units must be whole numbers from 1 to 4096, got {units!r}.")
        _require(0.0 <= self.dropout_rate < 1.0, f"Dropout rate must be in [0, 1), got {self.dropout_rate}.")
        _require(0.0 <= self.conv_dropout_rate < 1.0,
                 f"Convolution dropout rate must be in [0, 1), got {self.conv_dropout_rate}.")
        _require(self.padding in ("valid", "same"), f"Padding must be 'valid' or 'same', got {self.padding!r}.")
        _check_cnn_fits(self)


def _check_cnn_fits(config: CNNConfig) -> None:
    size = 28
    for block, pooled in zip(config.blocks, config.pool_after):
        for _ in block:
            size = size if config.padding == "same" else size - 2
            _require(size >= 1, "Too many 'valid' convolutions: the image shrinks below 1×1.")
        if pooled:
            size //= 2
            _require(size >= 1, "Too many pooling steps: the image shrinks below 1×1.")


@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained; every field is validated with a clear error."""

    optimizer: str = "adam"
    learning_rate: float | None = None  # None: the optimizer's Keras default
    batch_size: int = 128
    epochs: int = 10
    validation_split: float = 0.1
    early_stopping_patience: int = 0  # 0 disables early stopping
    augment: bool = False  # random shifts, rotations, scaling, shear and stroke thickness
    label_smoothing: float = 0.0
    lr_schedule: str = "constant"
    normalization: str = "scale"  # "scale" (x / 255) or "l2" (Keras' normalize, as one notebook did)
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.optimizer in OPTIMIZERS,
                 f"Unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
        _require(self.learning_rate is None or 0.0 < self.learning_rate <= 10.0,
                 f"Learning rate must be in (0, 10], got {self.learning_rate}.")
        _require(isinstance(self.batch_size, int) and 1 <= self.batch_size <= 8192,
                 f"Batch size must be a whole number from 1 to 8192, got {self.batch_size!r}.")
        _require(isinstance(self.epochs, int) and 1 <= self.epochs <= 500,
                 f"Epochs must be a whole number from 1 to 500, got {self.epochs!r}.")
        _require(0.0 <= self.validation_split < 0.5,
                 f"Validation split must be in [0, 0.5), got {self.validation_split}.")
        _require(isinstance(self.early_stopping_patience, int) and self.early_stopping_patience >= 0,
                 f"Early-stopping patience must be a whole number ≥ 0, got {self.early_stopping_patience!r}.")
        _require(0.0 <= self.label_smoothing < 0.5,
                 f"Label smoothing must be in [0, 0.5), got {self.label_smoothing}.")
        _require(self.lr_schedule in LR_SCHEDULES,
                 f"Unknown learning-rate schedule {self.lr_schedule!r}; choose one of {', '.join(LR_SCHEDULES)}.")
        _require(self.normalization in ("scale", "l2"),
                 f"Normalization must be 'scale' or 'l2', got {self.normalization!r}.")


NetworkConfig = MLPConfig | CNNConfig


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
        ZooEntry("slp", "perceptron", MLPConfig(hidden_units=()), TrainConfig(optimizer="sgd", epochs=10),
                 "Single-layer perceptron: one Dense(10) softmax layer.", notebook_test_accuracy=0.9216),
        ZooEntry("mlp_128_128", "mlp", MLPConfig((128, 128)), TrainConfig(optimizer="adam", epochs=10),
                 "MLP 128-128, ReLU, Adam.", notebook_test_accuracy=0.9716),
        ZooEntry("mlp_300_100", "mlp", MLPConfig((300, 100)), TrainConfig(optimizer="sgd", epochs=20),
                 "MLP 300-100 (LeCun's classic), SGD."),
        ZooEntry("mlp_64_64", "mlp", MLPConfig((64, 64)), TrainConfig(optimizer="sgd", epochs=20),
                 "MLP 64-64, SGD."),
        ZooEntry("mlp_128_dropout", "mlp", MLPConfig((128,), dropout_rate=0.3),
                 TrainConfig(optimizer="sgd", epochs=20), "MLP 128 with dropout 0.3, SGD.",
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


def with_overrides(config: Any, **overrides: Any) -> Any:
    """A copy of a frozen config with the non-None ``overrides`` applied (and validated)."""
    changes = {key: value for key, value in overrides.items() if value is not None}
    unknown = set(changes) - {f.name for f in dataclasses.fields(config)}
    if unknown:
        raise ValueError(f"Unknown setting(s) for {type(config).__name__}: {', '.join(sorted(unknown))}.")
    return dataclasses.replace(config, **changes)


def network_to_dict(network: NetworkConfig) -> dict[str, Any]:
    """A JSON-ready description of a network config, with its kind."""
    kind = "mlp" if isinstance(network, MLPConfig) else "cnn"
    return {"kind": kind, **dataclasses.asdict(network)}


def network_from_dict(payload: dict[str, Any]) -> NetworkConfig:
    """Rebuild a network config saved by ``network_to_dict``."""
    payload = dict(payload)
    kind = payload.pop("kind", None)
    if kind == "mlp":
        return MLPConfig(hidden_units=tuple(payload.get("hidden_units", ())),
                         **{k: v for k, v in payload.items() if k != "hidden_units"})
    if kind == "cnn":
        return CNNConfig(blocks=tuple(tuple(block) for block in payload.pop("blocks")),
                         pool_after=tuple(payload.pop("pool_after")),
                         dense_units=tuple(payload.pop("dense_units", ())), **payload)
    raise ValueError(f"Unknown network kind {kind!r} in saved config.")


def train_config_from_dict(payload: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig from JSON, ignoring keys this version does not know."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in payload.items() if k in known})


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

