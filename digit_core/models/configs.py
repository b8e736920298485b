"""The settings of a network and of its training, as frozen dataclasses that check their values, and
their JSON form (as run configs and sidecars record them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")
LR_SCHEDULES = ("constant", "cosine", "one_cycle")
INPUT_SHAPE = (28, 28, 1)


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
