"""What a Keras model is made of: its layers, how each parameter count comes about, its weights.

The functions read a built model's layers and weights; they never import Keras themselves, so
they work on any built ``keras.Model``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _shape_text(layer: Any) -> str:
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError):  # a layer that was never called has no output
        return "?"
    return "(" + ", ".join("None" if size is None else str(size) for size in shape) + ")"


def parameter_formula(layer: Any) -> str:
    """How the layer's parameter count is computed, e.g. ``3×3×1×32 + 32 = 320``."""
    kind = type(layer).__name__
    total = f"{layer.count_params():,}"
    weights = {weight.name: tuple(weight.shape) for weight in layer.weights}
    kernel, bias = weights.get("kernel"), weights.get("bias")
    if kernel is not None:
        product = "×".join(str(size) for size in kernel)
        return f"{product} + {bias[0]} = {total}" if bias is not None else f"{product} = {total}"
    if kind == "BatchNormalization":
        channels = weights["moving_mean"][0]
        return f"4×{channels} = {total} (γ and β trained; moving mean and variance tracked)"
    if not layer.weights:
        return "no parameters"
    return " + ".join("×".join(map(str, shape)) for shape in weights.values()) + f" = {total}"


def leaf_layers(model: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(name, layer) for every layer, with the layers of nested models (an ensemble's members) in place.

    A nested layer's name is prefixed by its model's, as in ``member_0/conv2d``.
    """
    leaves = []
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a model inside the model
            leaves += leaf_layers(layer, prefix=f"{prefix}{layer.name}/")
        else:
            leaves.append((prefix + layer.name, layer))
    return leaves


def layer_table(model: Any) -> list[dict[str, Any]]:
    """One row per layer: name, type, output shape, parameters and how they are counted."""
    return [{"layer": name, "type": type(layer).__name__, "output shape": _shape_text(layer),
             "params": int(layer.count_params()), "how": parameter_formula(layer)}
            for name, layer in leaf_layers(model)]


def weight_arrays(model: Any) -> list[tuple[str, str, np.ndarray]]:
    """(layer name, weight name such as ``kernel`` or ``bias``, values) for every weight of the model."""
    return [(name, weight.name, np.asarray(weight.numpy()))
            for name, layer in leaf_layers(model) for weight in layer.weights]


def first_layer_filters(model: Any) -> np.ndarray | None:
    """The first learned layer's filters as images (n, height, width), or None when it has none.

    A Conv2D kernel (h, w, 1, n) gives n small filters; a Dense layer right after flattening the
    28×28 input, a kernel (784, n), gives n full-size 28×28 templates.
    """
    for _, layer in leaf_layers(model):  # an ensemble shows its first member's filters
        weights = {weight.name: weight for weight in layer.weights}
        if "kernel" not in weights:
            continue
        kernel = np.asarray(weights["kernel"].numpy())
        if kernel.ndim == 4:  # (h, w, input channels, filters): show the first input channel
            return np.moveaxis(kernel[:, :, 0, :], -1, 0)
        if kernel.ndim == 2 and kernel.shape[0] == 28 * 28:
            return kernel.T.reshape(-1, 28, 28)
        return None
    return None
