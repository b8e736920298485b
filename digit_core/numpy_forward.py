"""A trained network as a plain NumPy forward pass, for classifying one drawing in about a millisecond.

A direct call of a Keras model costs about a millisecond for one 28×28 image on a 2-core CPU, most of
it TensorFlow's per-call overhead rather than arithmetic, and its thread pool keeps spinning after the
call, slowing the OpenCV preprocessing that follows. For a single image the same network is a few
small matrix products. ``compile_forward`` translates the zoo's layer types (convolution, batch norm
folded into the layer before it, pooling, dense, activations, dropout as identity) and averaging
ensembles of them; anything else returns None and the caller keeps using TensorFlow. Every compiled
forward pass is checked against Keras on probe images before it is returned.

Every step works on a stack of activations, (members, N, ...): an ensemble whose members share one
architecture runs as one network whose weights have a leading axis of members, so each step is one
NumPy call for all of them (for the shipped three, about 1.1 ms per drawing instead of 1.7 ms when
timed between preprocessing calls, as the app makes them; bench/README.md). Members of different
architectures run one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Forward = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) float32 → (N, 10) probabilities
# (members or 1, N, ...) → (members or 1, N, ...): the input, shared by every member, has a leading 1
# until the first step with weights.
Step = Callable[[np.ndarray], np.ndarray]

# The compiled pass must match Keras to within float32 rounding on the probe images.
_TOLERANCE = 1e-4


class Unsupported(Exception):
    """A layer or setting this translator does not handle."""


def compile_forward(model: Any) -> Forward | None:
    """A NumPy forward pass equal to ``model(x, training=False)``, or None when it cannot be built."""
    try:
        translations = _translations(model)
    except Exception:  # noqa: BLE001 (Unsupported, or a layer attribute another Keras spells differently)
        # TensorFlow answers instead, so a translation problem can never give a wrong digit.
        return None
    for forward in translations:  # the fastest first
        try:
            if _matches_keras(forward, model):
                return forward
        except Exception:  # noqa: BLE001 (a shape this translation gets wrong: try the next one)
            continue
    return None


def _matches_keras(forward: Forward, model: Any) -> bool:
    probes = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    probes[0] = 0.0
    expected = np.asarray(model(probes, training=False))
    return expected.shape == (4, 10) and np.allclose(forward(probes), expected, atol=_TOLERANCE)


def _translations(model: Any) -> list[Forward]:
    """The ways to run ``model`` in NumPy, fastest first; raises Unsupported when there is none."""
    import keras

    if isinstance(model, keras.Sequential):
        return [_run(_compile_sequential(model.layers))]
    # An averaging ensemble: Input → several Sequential members → Average.
    members = [layer for layer in model.layers if isinstance(layer, keras.Sequential)]
    others = [layer for layer in model.layers
              if not isinstance(layer, (keras.Sequential, keras.layers.InputLayer))]
    if not members or len(others) != 1 or not isinstance(others[0], keras.layers.Average):
        raise Unsupported(f"model {model.name!r} is neither Sequential nor an averaging ensemble")
    step_lists = [_compile_sequential(member.layers) for member in members]
    forwards = [_run(steps) for steps in step_lists]
    one_after_another = lambda x: np.mean([forward(x) for forward in forwards], axis=0)  # noqa: E731
    try:
        return [_run(_stack_members(step_lists)), one_after_another]
    except Unsupported:  # members of different architectures
        return [one_after_another]


def _run(steps: list[Step]) -> Forward:
    def forward(x: np.ndarray) -> np.ndarray:
        x = x[np.newaxis]  # (1, N, 28, 28, 1): one input, shared by every member
        for step in steps:
            x = step(x)
        return x.mean(axis=0)  # (N, 10): the members' average

    return forward


def _compile_sequential(model_layers: list) -> list[Step]:
    steps: list[Step] = []
    for layer in model_layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            _fold_batch_norm(layer, steps)
        elif kind in _TRANSLATORS:
            steps.extend(_TRANSLATORS[kind](layer))
        else:
            raise Unsupported(f"layer type {kind}")
    _pool_before_relu(steps)
    return steps


def _pool_before_relu(steps: list[Step]) -> None:
    """Swap each ReLU followed by max-pooling: the two commute, and ReLU on the pooled map is less work."""
    for index in range(len(steps) - 1):
        if steps[index] == _Elementwise("relu") and isinstance(steps[index + 1], _MaxPool):
            steps[index], steps[index + 1] = steps[index + 1], steps[index]


def _stack_members(step_lists: list[list[Step]]) -> list[Step]:
    """One list of steps running every member at once; Unsupported unless they share an architecture."""
    if len({len(steps) for steps in step_lists}) != 1:
        raise Unsupported("members of different depths")
    stacked: list[Step] = []
    for steps in zip(*step_lists):
        first = steps[0]
        if isinstance(first, (_Affine, _Scale)) and all(type(step) is type(first) for step in steps):
            stacked.append(type(first).stack(steps))  # type: ignore[arg-type]
        elif all(step == first for step in steps):  # the same operation, without weights
            stacked.append(first)
        else:
            raise Unsupported("members with different layers")
    return stacked


class _Affine:
    """A convolution or dense layer as one weight matrix and a bias per member, so a batch norm can be folded in."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, conv_padding: str | None) -> None:
        self.kernel_shape = kernel.shape  # conv: (kh, kw, in, out); dense: (in, out)
        # (members, rows, out); a convolution's rows in the order of its window columns (kh, kw, in),
        # Keras' own order.
        self.matrices = np.ascontiguousarray(kernel.reshape(1, -1, kernel.shape[-1]), np.float32)
        self.biases = bias.astype(np.float32).reshape(1, -1)  # (members, out)
        self.conv_padding = conv_padding  # None for a dense layer
        self.side_by_side: np.ndarray | None = None  # (rows, members × out), set when members are stacked

    @classmethod
    def stack(cls, layers: Sequence[_Affine]) -> _Affine:
        first = layers[0]
        if any(layer.kernel_shape != first.kernel_shape or layer.conv_padding != first.conv_padding
               for layer in layers):
            raise Unsupported("members with layers of different shapes")
        stacked = cls.__new__(cls)
        stacked.kernel_shape, stacked.conv_padding = first.kernel_shape, first.conv_padding
        stacked.matrices = np.concatenate([layer.matrices for layer in layers])
        stacked.biases = np.concatenate([layer.biases for layer in layers])
        members, rows, filters = stacked.matrices.shape
        # For an input every member shares (the first layer): one product with their filters side by side.
        stacked.side_by_side = np.ascontiguousarray(
            stacked.matrices.transpose(1, 0, 2).reshape(rows, members * filters))
        return stacked

    def fold(self, scale: np.ndarray, shift: np.ndarray) -> None:
        """Absorb ``y·scale + shift`` applied to this layer's output: (Wx + b)·s + t = (W·s)x + (b·s + t)."""
        self.matrices = np.ascontiguousarray(self.matrices * scale, np.float32)
        self.biases = (self.biases * scale + shift).astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        members, filters = self.biases.shape
        # A dense layer acts on the last axis of any input; a convolution on its windows.
        columns = x if self.conv_padding is None else _windows(x, self.kernel_shape, self.conv_padding)
        shared, *middle, size = columns.shape  # shared: 1 (one input for every member) or members
        if shared == 1 and self.side_by_side is not None:
            product = columns.reshape(-1, size) @ self.side_by_side
            product = np.moveaxis(product.reshape(*middle, members, filters), -2, 0)
        else:  # (members or 1, rows, size) @ (members, size, out)
            product = (columns.reshape(shared, -1, size) @ self.matrices).reshape(members, *middle, filters)
        return product + self.biases.reshape(members, *(1,) * len(middle), filters)


def _windows(x: np.ndarray, kernel_shape: tuple[int, ...], padding: str) -> np.ndarray:
    """Stride-1 convolution windows of (members or 1, N, H, W, C) side by side: (…, N, H', W', kh·kw·C)."""
    kernel_height, kernel_width = kernel_shape[:2]
    if padding == "same":
        pad_h, pad_w = (kernel_height - 1) // 2, (kernel_width - 1) // 2
        x = np.pad(x, ((0, 0), (0, 0), (pad_h, kernel_height - 1 - pad_h),
                       (pad_w, kernel_width - 1 - pad_w), (0, 0)))
    out_height, out_width = x.shape[2] - kernel_height + 1, x.shape[3] - kernel_width + 1
    # The shifted images side by side (im2col), two to three times faster than copying a
    # sliding-window view.
    return np.concatenate([x[:, :, dy:dy + out_height, dx:dx + out_width, :]
                           for dy in range(kernel_height) for dx in range(kernel_width)], axis=-1)


class _Scale:
    """A batch norm that no layer before it could absorb: ``x·scale + shift`` per channel and member."""

    def __init__(self, scale: np.ndarray, shift: np.ndarray) -> None:
        self.scale, self.shift = scale, shift  # (members, channels)

    @classmethod
    def stack(cls, layers: Sequence[_Scale]) -> _Scale:
        if len({layer.scale.shape for layer in layers}) != 1:
            raise Unsupported("members with batch norms of different widths")
        return cls(np.concatenate([layer.scale for layer in layers]), np.concatenate([layer.shift for layer in layers]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        shape = (len(self.scale),) + (1,) * (x.ndim - 2) + (self.scale.shape[1],)
        return x * self.scale.reshape(shape) + self.shift.reshape(shape)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _softmax(x: np.ndarray) -> np.ndarray:
    exponentials = np.exp(x - x.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


_ACTIVATIONS: dict[str, Step] = {
    "relu": _relu,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "softmax": _softmax,
}


@dataclass(frozen=True)
class _Elementwise:
    """An activation, by name (so two members' steps compare equal)."""

    name: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return _ACTIVATIONS[self.name](x)


@dataclass(frozen=True)
class _MaxPool:
    """Non-overlapping square max-pooling, ``size`` × ``size``."""

    size: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        step = self.size
        rows, cols = x.shape[2] // step, x.shape[3] // step
        cropped = x[:, :, :rows * step, :cols * step]
        # The element-wise maximum of the step² strided sub-images: several times faster than a
        # reshape and max over two axes.
        pooled = np.maximum(cropped[:, :, 0::step, 0::step], cropped[:, :, 0::step, 1::step])
        for dy in range(step):
            for dx in range(step):
                if dy > 0 or dx > 1:
                    np.maximum(pooled, cropped[:, :, dy::step, dx::step], out=pooled)
        return pooled


@dataclass(frozen=True)
class _Flatten:
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], x.shape[1], -1)  # row-major (H, W, C), as Keras


@dataclass(frozen=True)
class _GlobalAverage:
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.mean(axis=(2, 3))


def _activation(name: str) -> list[Step]:
    if name == "linear":
        return []
    if name not in _ACTIVATIONS:
        raise Unsupported(f"activation {name}")
    return [_Elementwise(name)]


def _activation_name(layer: Any) -> str:
    return getattr(layer.activation, "__name__", str(layer.activation))


def _affine_layer(layer: Any, conv_padding: str | None) -> list[Step]:
    weights = [np.asarray(w) for w in layer.get_weights()]
    kernel = weights[0]
    bias = weights[1] if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
    # A linear affine layer stays last in the steps, so a batch norm after it can be folded in.
    return [_Affine(kernel, bias, conv_padding), *_activation(_activation_name(layer))]


def _conv_layer(layer: Any) -> list[Step]:
    if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
        raise Unsupported("convolution with strides, dilation or groups")
    if layer.data_format != "channels_last" or layer.padding not in ("valid", "same"):
        raise Unsupported("convolution layout")
    return _affine_layer(layer, layer.padding)


def _max_pool(layer: Any) -> list[Step]:
    size = tuple(layer.pool_size)
    if size != tuple(layer.strides) or layer.padding != "valid" or size[0] != size[1] or size[0] < 2:
        raise Unsupported("pooling other than non-overlapping square 'valid' windows")
    return [_MaxPool(size[0])]


def _fold_batch_norm(layer: Any, steps: list[Step]) -> None:
    """Fold inference-time batch norm into the convolution or dense layer just before it, else scale on its own."""
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    if axis not in (-1, len(layer.input.shape) - 1):
        raise Unsupported("batch norm over a non-channel axis")
    variance = np.asarray(layer.moving_variance, np.float32)
    scale = 1.0 / np.sqrt(variance + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * np.asarray(layer.gamma, np.float32)
    shift = -np.asarray(layer.moving_mean, np.float32) * scale
    if layer.beta is not None:
        shift = shift + np.asarray(layer.beta, np.float32)
    # Only an affine layer without an activation of its own can absorb it.
    if steps and isinstance(steps[-1], _Affine):
        steps[-1].fold(scale, shift)
        return
    steps.append(_Scale(scale.astype(np.float32)[np.newaxis], shift.astype(np.float32)[np.newaxis]))


_TRANSLATORS: dict[str, Callable[[Any], list[Step]]] = {
    "InputLayer": lambda layer: [],
    "Dropout": lambda layer: [],  # identity at inference
    "Flatten": lambda layer: [_Flatten()],
    "Conv2D": _conv_layer,
    "Dense": lambda layer: _affine_layer(layer, None),
    "Activation": lambda layer: _activation(_activation_name(layer)),
    "MaxPooling2D": _max_pool,
    "GlobalAveragePooling2D": lambda layer: [_GlobalAverage()],
}
