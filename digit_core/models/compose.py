"""Networks composed on the Train page from a few plain settings, as zoo config dataclasses."""

from __future__ import annotations

from digit_core.models import zoo


def parse_sizes(text: str, what: str) -> tuple[int, ...]:
    """Layer sizes written as ``"128, 64"`` → ``(128, 64)``; blank gives ``()``.

    Raises ValueError naming ``what`` (e.g. "hidden units") when a part is not a whole number.
    """
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    try:
        return tuple(int(part) for part in parts)
    except ValueError:
        raise ValueError(f"The {what} must be whole numbers separated by commas, such as '128, 64'; "
                         f"got {text!r}.") from None


def compose_mlp(hidden_units: str, dropout_rate: float, activation: str = "relu") -> zoo.MLPConfig:
    """An MLP with the given hidden layer sizes (blank: the single-layer perceptron)."""
    return zoo.MLPConfig(hidden_units=parse_sizes(hidden_units, "hidden units"), dropout_rate=dropout_rate,
                         activation=activation)


def compose_cnn(conv_filters: str, dense_units: str, dropout_rate: float, batch_norm: bool) -> zoo.CNNConfig:
    """A CNN with one 3×3 convolution (then 2×2 max-pooling) per entry of ``conv_filters``."""
    filters = parse_sizes(conv_filters, "convolution filters")
    if not filters:
        raise ValueError("A CNN needs at least one convolution: give its filters, such as '32, 64'.")
    return zoo.CNNConfig(blocks=tuple((count,) for count in filters), pool_after=(True,) * len(filters),
                         dense_units=parse_sizes(dense_units, "dense units"), dropout_rate=dropout_rate,
                         batch_norm=batch_norm)
