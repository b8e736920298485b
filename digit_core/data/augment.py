"""Training-time augmentation: the ways real handwriting differs from MNIST.

Each image gets a random affine warp (rotation, scale, shear, shift) and, sometimes, a thicker or
thinner stroke. Everything runs in OpenCV on uint8 28×28 images: about 10 µs per image, so it costs a
second or two per MNIST epoch on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random changes; each is drawn uniformly per image."""

    max_rotation_deg: float = 12.0
    scale_range: tuple[float, float] = (0.85, 1.12)
    max_shear: float = 0.25  # horizontal shear factor, i.e. slant
    max_shift_px: float = 2.5
    thicken_probability: float = 0.2
    thin_probability: float = 0.15


def random_affine(rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """A 2×3 affine matrix about the image centre (14, 14)."""
    angle = np.deg2rad(rng.uniform(-config.max_rotation_deg, config.max_rotation_deg))
    scale = rng.uniform(*config.scale_range)
    shear = rng.uniform(-config.max_shear, config.max_shear)
    shift = rng.uniform(-config.max_shift_px, config.max_shift_px, size=2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = scale * rotation @ np.array([[1.0, shear], [0.0, 1.0]])
    centre = np.array([14.0, 14.0])
    offset = centre - linear @ centre + shift
    return np.hstack([linear, offset[:, None]]).astype(np.float32)


_KERNEL = np.ones((2, 2), np.uint8)


def augment_images(images: np.ndarray, rng: np.random.Generator,
                   config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """Randomly warp and re-stroke a batch of uint8 images of shape (batch, 28, 28)."""
    out = np.empty_like(images)
    draws = rng.random(len(images))
    for index, image in enumerate(images):
        warped = cv2.warpAffine(image, random_affine(rng, config), (28, 28), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if draws[index] < config.thicken_probability:
            warped = cv2.dilate(warped, _KERNEL)
        elif draws[index] < config.thicken_probability + config.thin_probability:
            thinned = cv2.erode(warped, _KERNEL)
            # Thin strokes can vanish when eroded; keep the original stroke then.
            warped = thinned if thinned.sum() > 0.4 * warped.sum() else warped
        out[index] = warped
    return out
