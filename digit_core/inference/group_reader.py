"""Reading a group of strokes whole: how many digits it holds, where each one's middle is, and what each is.

Two digits written touching are one group of strokes (``segment.find_digits``). The digit model reads
one digit at a time, and squeezed into its 20×20 box a touching pair often reads surely as one
digit. A small network learned instead to scan a group: the group's ink, scaled to GROUP_SHAPE, is
read in FRAMES bands a FRAME_WIDTH wide, left to right, and for each band the network gives the
chance that no digit's middle lies in it, or that digit 0-9's does (``group_reader_training`` trains
it on numbers by training writers, where every digit's middle is known). A digit is found where that
chance is the highest within SEPARATION bands either side and above "none"; ``number.read_number``
then, where the finding is taken (``GroupReader.accepts``), cuts the group between the digits found
so that each has its own box, and gives each piece the network's reading of that digit.

The network ships as ``models/number_groups.onnx`` (run in ONNX Runtime) with a JSON sidecar saying
how it was trained and what it read on validation numbers.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from digit_core import config
from digit_core.store.atomic import read_json

logger = logging.getLogger(__name__)

GROUP_SHAPE = (32, 128)  # (height, width) of the image of a group the network reads
MARGIN = 2  # pixels of background kept round the group's ink on each side of that image
FRAME_WIDTH = 2  # columns of the group image per band (frame)
FRAMES = GROUP_SHAPE[1] // FRAME_WIDTH
# Two middles found within this many frames (4 columns: a seventh of the ink's height) are taken
# for one digit's: the network's chance of a middle spreads over a frame or two either side of it.
SEPARATION = 2
FILE_NAME = "number_groups.onnx"
FORMAT = "digit_core.group_reader/1"
# What decides whether the digits the network finds in a group are taken (``GroupReader.accepts``):
# a wide single digit (a long-tailed 3, a 5 with a long bar) can look like two digits to it.
ACCEPTANCE_FEATURES = ("bias", "log_least_presence", "log_least_confidence", "log_whole_confidence",
                       "width", "digits_found")


class GroupReaderError(ValueError):
    """The group reader's file is missing, damaged or not one of ours."""


@dataclass(frozen=True)
class GroupImage:
    """A group's ink as the network reads it, and where it came from."""

    pixels: np.ndarray  # (32, 128) float32 in [0, 1], light on dark
    scale: float  # group-image pixels per ink-map pixel
    left: int  # the column of the group image where the group's ink begins
    x0: int  # the group's left edge in the ink map

    def column(self, ink_x: float) -> float:
        """The group image's column of the ink map's column ``ink_x``."""
        return (ink_x - self.x0) * self.scale + self.left

    def ink_x(self, frame: float) -> float:
        """The ink map's column at the middle of ``frame`` (``column``'s inverse there)."""
        return self.x0 + ((frame + 0.5) * FRAME_WIDTH - self.left) / self.scale


def group_image(ink: np.ndarray, strokes: np.ndarray, box: tuple[int, int, int, int]) -> GroupImage:
    """The group's strokes (``strokes``: bool, in ``box`` of the ink map ``ink``) with their anti-aliased
    fringe, other ink blanked, scaled to fit GROUP_SHAPE less MARGIN, centred."""
    x0, y0, x1, y1 = box
    mask = cv2.dilate(strokes.view(np.uint8), np.ones((3, 3), np.uint8))
    group_ink = cv2.multiply(ink[y0:y1, x0:x1], mask).astype(np.float32) / 255.0
    height, width = group_ink.shape
    scale = min((GROUP_SHAPE[0] - 2 * MARGIN) / height, (GROUP_SHAPE[1] - 2 * MARGIN) / width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    top, left = (GROUP_SHAPE[0] - new_height) // 2, (GROUP_SHAPE[1] - new_width) // 2
    pixels = np.zeros(GROUP_SHAPE, np.float32)
    pixels[top:top + new_height, left:left + new_width] = cv2.resize(group_ink, (new_width, new_height),
                                                                     interpolation=cv2.INTER_AREA)
    return GroupImage(pixels, scale, left, x0)


@dataclass(frozen=True)
class FoundDigit:
    """A digit the network found in a group: where its middle is and how it reads it."""

    x: float  # the ink map's column of its middle
    presence: float  # the chance that a digit's middle is there
    probabilities: np.ndarray  # (10,) the network's reading of it, summing to 1


def acceptance_features(found: list[FoundDigit], whole: np.ndarray | None, width: float) -> np.ndarray:
    """ACCEPTANCE_FEATURES of the digits found in a group: how surely the network finds and reads the
    least sure of them, how surely the digit model reads the group whole (``whole``: its
    probabilities, None when it found no digit), and the group's width in line heights."""
    least_presence = min(digit.presence for digit in found)
    least_confidence = min(float(digit.probabilities.max()) for digit in found)
    whole_confidence = float(whole.max()) if whole is not None else 1e-3
    return np.array([1.0, np.log(least_presence), np.log(least_confidence), np.log(whole_confidence), width,
                     len(found)])


def digits_in_frames(frames: np.ndarray) -> list[int]:
    """The frames where a digit's middle is: ``frames`` (FRAMES, 11) holds each frame's chances of
    no digit (column 0) and of each digit. A frame is taken when a digit is likelier than none there
    and no frame within SEPARATION either side is likelier still (the leftmost of equals)."""
    presence = 1.0 - frames[:, 0]
    found: list[int] = []
    for frame, chance in enumerate(presence):
        near = presence[max(0, frame - SEPARATION):frame + SEPARATION + 1]
        if chance > 0.5 and chance >= near.max() and not (found and frame - found[-1] <= SEPARATION):
            found.append(frame)
    return found


class GroupReader:
    """The group-reading network in ONNX Runtime."""

    def __init__(self, onnx_model: bytes, about: dict[str, Any] | None = None) -> None:
        """``about`` is the sidecar; its ``acceptance`` weights (one per ACCEPTANCE_FEATURES) decide
        which findings are taken, and without them every finding of several digits is."""
        from digit_core.models.export import onnx_reader

        self.about = about or {}
        weights = self.about.get("acceptance", {}).get("weights")
        self.acceptance = np.asarray(weights, np.float64) if weights is not None else None
        self._read = onnx_reader(onnx_model)

    def accepts(self, features: np.ndarray) -> bool:
        """Whether the digits found in a group are taken rather than the group read whole, from its
        ``acceptance_features``: a logistic regression fitted on training writers' groups
        (``group_reader_training.fit_acceptance``)."""
        return self.acceptance is None or float(features @ self.acceptance) > 0.0

    def frames(self, images: list[GroupImage]) -> np.ndarray:
        """(N, FRAMES, 11) chances per frame for each image."""
        batch = np.stack([image.pixels for image in images])[..., np.newaxis]
        return np.asarray(self._read(batch), np.float32)

    def read(self, images: list[GroupImage]) -> list[list[FoundDigit]]:
        """For each group image, the digits found in it, left to right."""
        if not images:
            return []
        found = []
        for image, frames in zip(images, self.frames(images)):
            digits = []
            for frame in digits_in_frames(frames):
                probabilities = frames[frame, 1:] / frames[frame, 1:].sum()
                digits.append(FoundDigit(image.ink_x(frame), float(1.0 - frames[frame, 0]), probabilities))
            found.append(digits)
        return found


def reader_path() -> Path:
    """Where the group reader is read from: the models directory's, else the one shipped in the project's."""
    return config.shipped_or_own(FILE_NAME)


def load_group_reader(path: str | Path) -> GroupReader:
    """The reader saved at ``path`` (and its ``.json`` sidecar); GroupReaderError when either is
    missing or damaged, or the network does not read a group image into FRAMES × 11 chances."""
    path = Path(path)
    try:
        about = read_json(path.with_suffix(".json"))
        if not isinstance(about, dict) or about.get("format") != FORMAT:
            raise ValueError(f"its sidecar is not a {FORMAT} file")
        weights = np.asarray(about.get("acceptance", {}).get("weights", []), np.float64)
        if weights.shape != (len(ACCEPTANCE_FEATURES),) or not np.isfinite(weights).all():
            raise ValueError(f"its sidecar holds no {len(ACCEPTANCE_FEATURES)} finite acceptance weights")
        reader = GroupReader(path.read_bytes(), about)
        shape = reader.frames([GroupImage(np.zeros(GROUP_SHAPE, np.float32), 1.0, 0, 0)]).shape
    except (OSError, ValueError) as error:
        raise GroupReaderError(f"Cannot read the group reader {path}: {error}") from error
    except Exception as error:  # noqa: BLE001 (ONNX Runtime raises its own types for a damaged file)
        raise GroupReaderError(f"Cannot read the group reader {path}: {type(error).__name__}: "
                               f"{str(error)[:200]}") from error
    if shape != (1, FRAMES, 11):
        raise GroupReaderError(f"Cannot use the group reader {path}: it gives {shape[1:]} per image, "
                               f"not {(FRAMES, 11)}")
    return reader


@functools.lru_cache(maxsize=4)
def _reader_at(path: Path, modified: float) -> GroupReader | None:
    try:
        return load_group_reader(path)
    except GroupReaderError as error:
        logger.warning("%s. Numbers are read with the way scorer alone instead (fewer touching digits are "
                       "read right); retrain it with python -m digit_core.inference.group_reader_training.", error)
        return None


def default_group_reader() -> GroupReader | None:
    """The saved reader (``reader_path``), loaded once per version of the file; None, with a warning,
    when it is missing or damaged."""
    path = reader_path()
    return _reader_at(path, config.file_version(path))
