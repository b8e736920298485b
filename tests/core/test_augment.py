"""Training-time augmentation and the served view of training images."""

from __future__ import annotations

import numpy as np

from digit_core.augment import as_served, augment_images, mix_in
from digit_core.preprocess import preprocess


def test_served_images_are_what_the_pipeline_makes_of_them(mnist) -> None:
    images = mnist.x_train[:20]
    served = as_served(images)
    assert served.shape == images.shape and served.dtype == np.uint8
    for image, remade in zip(images, served):
        expected = np.round(preprocess(image, keep_steps=False).image * 255)
        assert np.array_equal(remade, expected)
    # The pipeline re-strokes and re-centres, so the served view differs from MNIST's own.
    assert any(not np.array_equal(a, b) for a, b in zip(images, served))


def test_an_image_without_a_digit_is_served_as_it_is() -> None:
    blank = np.zeros((2, 28, 28), np.uint8)
    blank[1, 14, 14] = 255  # one speck is not a digit either
    assert np.array_equal(as_served(blank), blank)


def test_mix_in_replaces_the_asked_share_of_rows() -> None:
    rng = np.random.default_rng(0)
    zeros, ones = np.zeros((4000, 28, 28), np.uint8), np.ones((4000, 28, 28), np.uint8)
    assert mix_in(zeros, ones, 0.0, rng) is zeros
    assert np.array_equal(mix_in(zeros, ones, 1.0, rng), ones)
    mixed = mix_in(zeros, ones, 0.3, rng)
    rows_replaced = mixed.reshape(len(mixed), -1).max(axis=1)
    assert set(np.unique(mixed)) == {0, 1}
    assert 0.27 < rows_replaced.mean() < 0.33
    # A row is taken whole, never half from each.
    assert np.array_equal(mixed.reshape(len(mixed), -1).min(axis=1), rows_replaced)


def test_augmentation_keeps_shape_and_ink(mnist) -> None:
    images = mnist.x_train[:50]
    warped = augment_images(images, np.random.default_rng(1))
    assert warped.shape == images.shape and warped.dtype == np.uint8
    ink_before = images.reshape(50, -1).sum(axis=1).astype(float)
    ink_after = warped.reshape(50, -1).sum(axis=1)
    assert not np.array_equal(warped, images)
    assert np.all(ink_after > 0.3 * ink_before)
