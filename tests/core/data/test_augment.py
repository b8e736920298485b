"""Training-time augmentation: every image is changed, keeps its shape, and keeps most of its ink."""

from __future__ import annotations

import numpy as np

from digit_core.data.augment import augment_images


def test_augmentation_keeps_shape_and_ink(mnist) -> None:
    images = mnist.x_train[:50]
    warped = augment_images(images, np.random.default_rng(1))
    assert warped.shape == images.shape and warped.dtype == np.uint8
    ink_before = images.reshape(50, -1).sum(axis=1).astype(float)
    ink_after = warped.reshape(50, -1).sum(axis=1)
    assert not np.array_equal(warped, images)
    assert np.all(ink_after > 0.3 * ink_before)
