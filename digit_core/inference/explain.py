"""Why the network reads a digit as it does: saliency maps, feature maps and each member's reading.

The saliency map is occlusion, one pixel at a time: for each inked pixel, how much the network's
probability of a digit falls when that pixel alone is erased (rises are set to zero). It measures
what the map claims, the strokes the answer leans on: zeroing the 10% most salient inked pixels of
an MNIST test digit lowered its probability more than zeroing 10% at random for 98 of 100 digits
(test digits 1000-1099) with the default model trained on other writers, where integrated gradients
of the log-odds, the method before, managed 88. All erased copies of a drawing go through the
network as one batch. tests/model/test_explain.py checks this on other digits.

The network is run layer by layer rather than through ``model(x)``, so one pass also yields the
activation maps of every convolution and, for an averaging ensemble (``digit_core.models.ensemble``),
each member's probabilities. Works on the zoo's networks (Keras ``Sequential`` chains) and on
ensembles of them; the predictor is not used, so it is free to run the model another way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# One sentence for the page, under the heatmaps.
SALIENCY_DESCRIPTION = ("Bright pixels are the strokes the network leans on for the digit: how much its "
                        "confidence falls when that one pixel is erased (occlusion); empty paper always "
                        "scores zero.")
# Layers that finish a convolution: its feature maps are shown after them (batch norm, then ReLU).
_CONVOLUTION_FINISHERS = ("BatchNormalization", "Activation", "ReLU", "LeakyReLU")


@dataclass(frozen=True)
class MemberReading:
    """One network's reading in an averaging ensemble."""

    name: str  # the member's layer name, e.g. "member_0"
    digit: int
    confidence: float
    probabilities: np.ndarray  # (10,) float32


@dataclass(frozen=True)
class FeatureMaps:
    """What one convolution layer computes from the drawing, after its batch norm and activation."""

    layer: str  # e.g. "member_0/conv2d" in an ensemble, "conv2d" in a single network
    maps: np.ndarray  # (channels, height, width) float32


@dataclass(frozen=True)
class Explanation:
    """A network's reading of one 28×28 input and why."""

    image: np.ndarray  # (28, 28) float32 in [0, 1]: the input explained
    probabilities: np.ndarray  # (10,) float32
    digit: int
    runner_up: int  # the second most probable digit
    saliency: np.ndarray  # (28, 28) float32 >= 0, for ``digit``
    runner_up_saliency: np.ndarray  # (28, 28) float32 >= 0, for ``runner_up``
    feature_maps: tuple[FeatureMaps, ...]
    members: tuple[MemberReading, ...]  # () for a single network

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])

    @property
    def runner_up_probability(self) -> float:
        return float(self.probabilities[self.runner_up])

    def to_json(self, path: str) -> dict[str, Any]:
        """The CLI's line: the reading, both saliency maps (28×28 lists) and each member's digit."""
        return {"path": path, "digit": self.digit, "confidence": round(self.confidence, 6),
                "saliency": _rounded(self.saliency), "runner_up": self.runner_up,
                "runner_up_confidence": round(self.runner_up_probability, 6),
                "runner_up_saliency": _rounded(self.runner_up_saliency),
                "probabilities": [round(float(p), 6) for p in self.probabilities],
                "members": [{"name": member.name, "digit": member.digit, "confidence": round(member.confidence, 6)}
                            for member in self.members]}


def _rounded(saliency: np.ndarray) -> list[list[float]]:
    return np.round(saliency.astype(np.float64), 6).tolist()


def network_chains(model: Any) -> list[tuple[str, list[Any]]]:
    """(name, layers) of each network the model averages: its members, or the model itself.

    Raises ValueError for a model that is neither a chain of layers nor an average of chains.
    """
    kinds = [type(layer).__name__ for layer in model.layers]
    members = [layer for layer in model.layers if hasattr(layer, "layers")]
    if members and "Average" in kinds and set(kinds) - {"InputLayer", "Average"} <= {"Sequential", "Functional"}:
        return [(member.name, _chain_layers(member)) for member in members]
    return [("", _chain_layers(model))]


def _chain_layers(model: Any) -> list[Any]:
    if type(model).__name__ != "Sequential":
        raise ValueError(f"Cannot explain model {model.name!r}: only chains of layers (Keras Sequential) "
                         "and averaging ensembles of them can be run layer by layer.")
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


class Explainer:
    """Explains a Keras model's readings of (28, 28) inputs in [0, 1]; built once per model."""

    def __init__(self, model: Any, normalization: str = "scale") -> None:
        import tensorflow as tf

        self.chains = network_chains(model)
        self.normalization = normalization
        self._explain = tf.function(self._explain_graph,
                                    input_signature=[tf.TensorSpec((28, 28), tf.float32)])
        self._probabilities = tf.function(lambda x: tf.exp(self._forward(x[..., tf.newaxis], keep_maps=False)[0]),
                                          input_signature=[tf.TensorSpec((None, 28, 28), tf.float32)])
        # Trace both now (about a second), not on the first drawing explained.
        self._explain(tf.zeros((28, 28)))
        self._probabilities(tf.zeros((1, 28, 28)))

    @classmethod
    def from_file(cls, path: str | Path) -> "Explainer":
        """Load the model the one way models are loaded (safe mode), its normalisation from its metadata."""
        from digit_core.store.registry import load_keras_model, metadata_beside

        path = Path(path)
        model = load_keras_model(path)
        training = metadata_beside(path).get("training", {})
        return cls(model, str(training.get("normalization", "scale")))

    def explain(self, image: np.ndarray) -> Explanation:
        """Explain one (28, 28) input: float in [0, 1] (as ``preprocess`` gives) or uint8 0–255."""
        image = np.asarray(image)
        if image.shape != (28, 28):
            raise ValueError(f"Expected one (28, 28) image, got shape {image.shape}.")
        pixels = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
        probabilities, member_probabilities, maps = self._explain(pixels)
        probabilities = probabilities.numpy()
        digit, runner_up = (int(index) for index in np.argsort(probabilities)[::-1][:2])
        saliency = self._occlusion(pixels, probabilities, (digit, runner_up))
        layer_names = [f"{name}/{layer.name}" if name else layer.name
                       for name, chain in self.chains for layer in chain if _is_convolution(layer)]
        feature_maps = tuple(FeatureMaps(name, np.moveaxis(layer_maps.numpy()[0], -1, 0))  # (channels, h, w)
                             for name, layer_maps in zip(layer_names, maps))
        members = ()
        if len(self.chains) > 1:
            members = tuple(MemberReading(name, int(p.argmax()), float(p.max()), p)
                            for (name, _), p in zip(self.chains, (value.numpy() for value in member_probabilities)))
        return Explanation(pixels, probabilities, digit, runner_up, saliency[0], saliency[1], feature_maps, members)

    def _explain_graph(self, image):
        import tensorflow as tf

        x = image[tf.newaxis, ..., tf.newaxis]  # (1, 28, 28, 1)
        log_probabilities, member_log_probabilities, maps = self._forward(x, keep_maps=True)
        probabilities = tf.exp(log_probabilities[0])
        member_probabilities = [tf.exp(member[0]) for member in member_log_probabilities]
        return probabilities, member_probabilities, maps

    def _occlusion(self, pixels: np.ndarray, probabilities: np.ndarray, classes: tuple[int, int]) -> np.ndarray:
        """(2, 28, 28): for each class, how much its probability falls when each inked pixel alone is erased."""
        inked = np.flatnonzero(pixels.ravel() > 0)
        saliency = np.zeros((2, 784), np.float32)
        if not len(inked):
            return saliency.reshape(2, 28, 28)
        erased = np.repeat(pixels.reshape(1, -1), len(inked), axis=0)  # (inked pixels, 784)
        erased[np.arange(len(inked)), inked] = 0.0
        classes = list(classes)
        falls = probabilities[classes] - self._probabilities(erased.reshape(-1, 28, 28)).numpy()[:, classes]
        saliency[:, inked] = np.maximum(falls, 0.0).T
        return saliency.reshape(2, 28, 28)

    def _forward(self, x, keep_maps: bool):
        """Log-probabilities (N, 10) of the average, each network's (N, 10), and conv feature maps."""
        import tensorflow as tf

        if self.normalization == "l2":
            # normalize_l2 in TensorFlow, so gradients reach the pixels; the floor keeps sqrt's
            # gradient finite on an empty column.
            x = x / tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(x), axis=1, keepdims=True), 1e-12))
        member_log_probabilities, maps = [], []
        for _, chain in self.chains:
            hidden = x
            for index, layer in enumerate(chain[:-1]):
                hidden = layer(hidden, training=False)
                if keep_maps and _finishes_convolution(chain, index):
                    maps.append(hidden)
            member_log_probabilities.append(_log_probabilities(chain[-1], hidden))
        stacked = tf.stack(member_log_probabilities)  # (members, N, 10)
        # log(mean of the members' probabilities), stable even where a probability underflows.
        average = tf.reduce_logsumexp(stacked, axis=0) - tf.math.log(float(len(member_log_probabilities)))
        return average, member_log_probabilities, maps


def _is_convolution(layer: Any) -> bool:
    return type(layer).__name__ in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")


def _finishes_convolution(chain: list[Any], index: int) -> bool:
    """Whether layer ``index`` is the last of a convolution and the layers that complete it."""
    start = index
    while start > 0 and type(chain[start]).__name__ in _CONVOLUTION_FINISHERS:
        start -= 1
    if not _is_convolution(chain[start]):
        return False
    following = chain[index + 1] if index + 1 < len(chain) else None
    return following is None or type(following).__name__ not in _CONVOLUTION_FINISHERS


def _log_probabilities(last_layer: Any, hidden: Any) -> Any:
    """The network's log-probabilities from its last layer, from logits where it is a softmax dense."""
    import keras
    import tensorflow as tf

    if type(last_layer).__name__ == "Dense" and last_layer.activation is keras.activations.softmax:
        logits = tf.matmul(hidden, last_layer.kernel) + (last_layer.bias if last_layer.use_bias else 0.0)
        return tf.nn.log_softmax(logits)
    # Any other last layer hands out probabilities; the floor keeps log finite where one underflows.
    return tf.math.log(tf.maximum(last_layer(hidden, training=False), 1e-30))
