"""A trained network as a plain NumPy forward pass, for classifying one drawing in well under a millisecond.

A direct call of a Keras model costs about a millisecond for one 28×28 image on a 2-core CPU, most of
it TensorFlow's per-call overhead rather than arithmetic, and its thread pool keeps spinning after the
call, slowing the OpenCV preprocessing that follows. For a single image the same network is a few
small matrix products. ``compile_forward`` translates the zoo's layer types (convolution, batch norm
folded into the layer before it, pooling, dense, activations, dropout as identity) and averaging
ensembles of them; anything else returns None and the caller keeps using TensorFlow. Every compiled
forward pass is checked against Keras on probe images before it is returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Forward = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) float32 → (N, 10) probabilities

# The compiled pass must match Keras to within float32 rounding on the probe images.
_TOLERANCE = 1e-4


class Unsupported(Exception):
    """A layer or setting this translator does not handle."""


def compile_forward(model: Any) -> Forward | None:
    """A NumPy forward pass equal to ``model(x, training=False)``, or None when it cannot be built."""
    try:
        forward = _compile_model(model)
        matches = _matches_keras(forward, model)
    except Exception:  # noqa: BLE001 (Unsupported, or a layer attribute another Keras spells differently)
        # TensorFlow answers instead, so a translation problem can never give a wrong digit.
        return None
    return forward if matches else None


def _matches_keras(forward: Forward, model: Any) -> bool:
    probes = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    probes[0] = 0.0
    expected = np.asarray(model(probes, training=False))
    return expected.shape == (4, 10) and np.allclose(forward(probes), expected, atol=_TOLERANCE)


def _compile_model(model: Any) -> Forward:
    import keras

    if isinstance(model, keras.Sequential):
        return _compile_sequential(model.layers)
    # An averaging ensemble: Input → several Sequential members → Average.
    members = [layer for layer in model.layers if isinstance(layer, keras.Sequential)]
    others = [layer for layer in model.layers
              if not isinstance(layer, (keras.Sequential, keras.layers.InputLayer))]
    if not members or len(others) != 1 or not isinstance(others[0], keras.layers.Average):
        raise Unsupported(f"model {model.name!r} is neither Sequential nor an averaging ensemble")
    forwards = [_compile_sequential(member.layers) for member in members]
    return lambda x: np.mean([forward(x) for forward in forwards], axis=0)


def _compile_sequential(model_layers: list) -> Forward:
    steps: list[Forward] = []
    for layer in model_layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            _fold_batch_norm(layer, steps)
        elif kind in _TRANSLATORS:
            steps.extend(_TRANSLATORS[kind](layer))
        else:
            raise Unsupported(f"layer type {kind}")
    _pool_before_relu(steps)

    def forward(x: np.ndarray) -> np.ndarray:
        for step in steps:
            x = step(x)
        return x

    return forward


def _pool_before_relu(steps: list[Forward]) -> None:
    """Swap each ReLU followed by max-pooling: the two commute, and ReLU on the pooled map is 4× less work."""
    for index in range(len(steps) - 1):
        if steps[index] is _relu and getattr(steps[index + 1], "is_max_pool", False):
            steps[index], steps[index + 1] = steps[index + 1], steps[index]


class _Affine:
    """A convolution or dense layer as one weight matrix and a bias, so a batch norm can be folded in."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, conv_padding: str | None) -> None:
        self.kernel_shape = kernel.shape  # conv: (kh, kw, in, out); dense: (in, out)
        # A convolution's rows in the order of its window columns (kh, kw, in): Keras' own order.
        self.matrix = np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1]), np.float32)
        self.bias = bias.astype(np.float32)
        self.conv_padding = conv_padding  # None for a dense layer

    def fold(self, scale: np.ndarray, shift: np.ndarray) -> None:
        """Absorb ``y·scale + shift`` applied to this layer's output: (Wx + b)·s + t = (W·s)x + (b·s + t)."""
        self.matrix = np.ascontiguousarray(self.matrix * scale, np.float32)
        self.bias = (self.bias * scale + shift).astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.conv_padding is None:
            return x @ self.matrix + self.bias
        return _conv2d(x, self.kernel_shape, self.matrix, self.conv_padding) + self.bias


def _conv2d(x: np.ndarray, kernel_shape: tuple[int, ...], matrix: np.ndarray, padding: str) -> np.ndarray:
    """Stride-1 convolution of (N, H, W, C) as one matrix product of its windows (im2col)."""
    kernel_height, kernel_width, channels, filters = kernel_shape
    if padding == "same":
        pad_h, pad_w = (kernel_height - 1) // 2, (kernel_width - 1) // 2
        x = np.pad(x, ((0, 0), (pad_h, kernel_height - 1 - pad_h), (pad_w, kernel_width - 1 - pad_w), (0, 0)))
    count, height, width, _ = x.shape
    out_height, out_width = height - kernel_height + 1, width - kernel_width + 1
    # (N, H', W', kh·kw·C): the shifted images side by side, two to three times faster than
    # copying a sliding-window view.
    columns = np.concatenate([x[:, dy:dy + out_height, dx:dx + out_width, :]
                              for dy in range(kernel_height) for dx in range(kernel_width)], axis=-1)
    flat = columns.reshape(count * out_height * out_width, kernel_height * kernel_width * channels)
    return (flat @ matrix).reshape(count, out_height, out_width, filters)


def _activation(name: str) -> Forward:
    functions: dict[str, Forward] = {
        "linear": lambda x: x,
        "relu": _relu,
        "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
        "tanh": np.tanh,
        "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
        "softmax": _softmax,
    }
    if name not in functions:
        raise Unsupported(f"activation {name}")
    return functions[name]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _softmax(x: np.ndarray) -> np.ndarray:
    exponentials = np.exp(x - x.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _activation_name(layer: Any) -> str:
    return getattr(layer.activation, "__name__", str(layer.activation))


def _affine_layer(layer: Any, conv_padding: str | None) -> list[Forward]:
    weights = [np.asarray(w) for w in layer.get_weights()]
    kernel = weights[0]
    bias = weights[1] if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
    activation = _activation_name(layer)
    # A linear affine layer stays last in the steps, so a batch norm after it can be folded in.
    return [_Affine(kernel, bias, conv_padding)] + ([] if activation == "linear" else [_activation(activation)])


def _conv_layer(layer: Any) -> list[Forward]:
    if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
        raise Unsupported("convolution with strides, dilation or groups")
    if layer.data_format != "channels_last" or layer.padding not in ("valid", "same"):
        raise Unsupported("convolution layout")
    return _affine_layer(layer, layer.padding)


def _max_pool(layer: Any) -> list[Forward]:
    size = tuple(layer.pool_size)
    if size != tuple(layer.strides) or layer.padding != "valid" or size[0] != size[1] or size[0] < 2:
        raise Unsupported("pooling other than non-overlapping square 'valid' windows")
    step = size[0]

    def pool(x: np.ndarray) -> np.ndarray:
        rows, cols = x.shape[1] // step, x.shape[2] // step
        cropped = x[:, :rows * step, :cols * step]
        # The element-wise maximum of the step² strided sub-images: several times faster than a
        # reshape and max over two axes.
        pooled = np.maximum(cropped[:, 0::step, 0::step], cropped[:, 0::step, 1::step])
        for dy in range(step):
            for dx in range(step):
                if dy > 0 or dx > 1:
                    np.maximum(pooled, cropped[:, dy::step, dx::step], out=pooled)
        return pooled

    pool.is_max_pool = True  # type: ignore[attr-defined]
    return [pool]


def _fold_batch_norm(layer: Any, steps: list[Forward]) -> None:
    """Fold inference-time batch norm into the convolution or dense layer just before it."""
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
    steps.append(lambda x: x * scale + shift)


_TRANSLATORS: dict[str, Callable[[Any], list[Forward]]] = {
    "InputLayer": lambda layer: [],
    "Dropout": lambda layer: [],  # identity at inference
    "Flatten": lambda layer: [lambda x: x.reshape(len(x), -1)],  # row-major (H, W, C), as Keras
    "Conv2D": _conv_layer,
    "Dense": lambda layer: _affine_layer(layer, None),
    "Activation": lambda layer: [_activation(_activation_name(layer))],
    "MaxPooling2D": _max_pool,
    "GlobalAveragePooling2D": lambda layer: [lambda x: x.mean(axis=(1, 2))],
}
