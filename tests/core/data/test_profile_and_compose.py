"""The Explore page's numbers and the Train page's composed networks."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core.models import compose, zoo
from digit_core.data.profile import profile_dataset, sample_indices


@pytest.fixture
def small_set() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 2, 2, 2, 9], np.uint8)
    return rng.integers(0, 256, (len(labels), 5, 4), dtype=np.uint8), labels


def test_profile_matches_plain_numpy(small_set: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = small_set
    profile = profile_dataset(images, labels)
    assert profile.label_counts.tolist() == [2, 1, 3, 0, 0, 0, 0, 0, 0, 1]
    np.testing.assert_allclose(profile.class_means[2], images[3:6].mean(axis=0), rtol=1e-6)
    assert not profile.class_means[5].any()  # no 5s: a blank mean, not NaN
    assert profile.intensity_counts.sum() == images.size
    assert profile.intensity_counts[images[0, 0, 0]] >= 1
    ink = images.reshape(len(images), -1).sum(axis=1) / 255
    assert profile.ink_mean[0] == pytest.approx(ink[:2].mean()) and profile.ink_std[2] == pytest.approx(ink[3:6].std())
    assert profile.balance == 0.0  # some digits are missing
    assert profile.summary["count"] == 7 and profile.summary["shape"] == (7, 5, 4)


def test_profile_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        profile_dataset(np.zeros((2, 28, 28), np.float32), np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="labels"):
        profile_dataset(np.zeros((2, 28, 28), np.uint8), np.zeros(3, np.uint8))


def test_sample_indices_pick_the_digit_asked_for(small_set: tuple[np.ndarray, np.ndarray]) -> None:
    _, labels = small_set
    chosen = sample_indices(labels, 2, 10)
    assert sorted(chosen.tolist()) == [3, 4, 5]
    assert len(sample_indices(labels, None, 4)) == 4
    assert len(sample_indices(labels, 7, 4)) == 0


def test_compose_builds_zoo_configs() -> None:
    assert compose.parse_sizes(" 128, 64 ;32", "units") == (128, 64, 32)
    assert compose.compose_mlp("", 0.0) == zoo.MLPConfig(hidden_units=(), dropout_rate=0.0)
    cnn = compose.compose_cnn("32, 64", "128", 0.25, batch_norm=True)
    assert cnn.blocks == ((32,), (64,)) and cnn.pool_after == (True, True) and cnn.dense_units == (128,)
    assert cnn.batch_norm and cnn.dropout_rate == 0.25


@pytest.mark.parametrize("call, message", [
    (lambda: compose.compose_mlp("128, lots", 0.1), "hidden units must be whole numbers"),
    (lambda: compose.compose_cnn("", "128", 0.1, False), "at least one convolution"),
    (lambda: compose.compose_cnn("8, 8, 8, 8", "", 0.1, False), "shrinks below"),
    (lambda: compose.compose_mlp("64", 1.5), "Dropout rate"),
])
def test_compose_explains_bad_settings(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
