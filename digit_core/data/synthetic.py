"""Synthetic handwriting: digits drawn as strokes on a canvas, MNIST digits redrawn as canvases,
and pages under uneven light.

Tests, benchmarks and demos use these instead of data files. Strokes live in a unit box
[0, 1]² with y pointing down, like a browser canvas, and are drawn the way a browser draws a
round-capped brush. Everything is deterministic given its arguments.
"""

from __future__ import annotations

import functools
import math
import types
from typing import Literal, Mapping

import cv2
import numpy as np

Point = tuple[float, float]
Stroke = tuple[Point, ...]
Strokes = tuple[Stroke, ...]
Background = Literal["white", "black", "transparent"]

# Points per unit of curve length: dense enough that a curve looks smooth on a 280 px canvas
# and that a browser test replaying it with a mouse draws a smooth line.
_POINTS_PER_UNIT = 40
# Sub-pixel precision for OpenCV drawing: coordinates are scaled by 2**_SHIFT.
_SHIFT = 4


def _arc(center_x: float, center_y: float, radius_x: float, radius_y: float,
         start_deg: float, end_deg: float) -> list[Point]:
    """Points on an elliptical arc; 0° points right and 90° points down (y grows downwards)."""
    length = abs(math.radians(end_deg - start_deg)) * (radius_x + radius_y) / 2
    count = max(20, int(length * _POINTS_PER_UNIT))
    angles = np.radians(np.linspace(start_deg, end_deg, count))
    return [(center_x + radius_x * math.cos(a), center_y + radius_y * math.sin(a)) for a in angles]


def _line(*corners: Point) -> list[Point]:
    """A polyline through the corners, sampled densely so transforms and replays stay smooth."""
    points: list[Point] = [corners[0]]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        count = max(2, int(math.hypot(x1 - x0, y1 - y0) * _POINTS_PER_UNIT))
        points += [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in np.linspace(0, 1, count)[1:]]
    return points


def _smooth(*controls: Point) -> list[Point]:
    """A Catmull-Rom curve through the control points (a hand-drawn looking curve)."""
    padded = [controls[0], *controls, controls[-1]]
    points: list[Point] = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = (np.asarray(padded[j], dtype=float) for j in range(i - 1, i + 3))
        count = max(8, int(np.linalg.norm(p2 - p1) * _POINTS_PER_UNIT))
        for t in np.linspace(0, 1, count, endpoint=(i == len(padded) - 3)):
            point = 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                           + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3)
            points.append((float(point[0]), float(point[1])))
    return points


def _figure_eight() -> list[Point]:
    """One-stroke 8: a Lissajous curve that starts at the top and crosses itself in the middle."""
    angles = np.linspace(-0.15, 2 * math.pi + 0.1, 90)
    return [(0.5 + 0.26 * math.sin(2 * a), 0.5 - 0.48 * math.cos(a)) for a in angles]


def _build_styles() -> dict[int, tuple[Strokes, ...]]:
    """Two or more natural ways of writing each digit, as strokes in the unit box."""
    def strokes(*parts: list[Point]) -> Strokes:
        return tuple(tuple((round(x, 4), round(y, 4)) for x, y in part) for part in parts)

    return {
        0: (strokes(_arc(0.5, 0.5, 0.3, 0.48, -90, 275)),
            strokes(_smooth((0.55, 0.02), (0.3, 0.12), (0.2, 0.5), (0.32, 0.92), (0.58, 0.98),
                            (0.8, 0.62), (0.78, 0.2), (0.55, 0.02), (0.42, 0.1)))),
        1: (strokes(_line((0.5, 0.0), (0.5, 1.0))),
            strokes(_line((0.3, 0.22), (0.56, 0.0), (0.56, 1.0))),
            strokes(_line((0.3, 0.22), (0.56, 0.0), (0.56, 1.0)), _line((0.3, 1.0), (0.8, 1.0)))),
        2: (strokes(_arc(0.5, 0.28, 0.3, 0.27, 195, 360)
                    + _smooth((0.8, 0.28), (0.68, 0.55), (0.4, 0.8), (0.18, 1.0))
                    + _line((0.18, 1.0), (0.85, 1.0))[1:]),
            strokes(_smooth((0.2, 0.22), (0.45, 0.0), (0.75, 0.12), (0.72, 0.42), (0.42, 0.74),
                            (0.2, 0.9), (0.24, 1.0), (0.38, 0.92), (0.3, 0.82), (0.4, 0.95),
                            (0.6, 1.0), (0.85, 0.97)))),
        3: (strokes(_arc(0.48, 0.26, 0.3, 0.25, 200, 450) + _arc(0.48, 0.74, 0.33, 0.26, -90, 150)),
            strokes(_line((0.2, 0.0), (0.8, 0.0), (0.42, 0.42))
                    + _arc(0.48, 0.7, 0.33, 0.29, -100, 150)[1:])),
        4: (strokes(_line((0.62, 0.0), (0.14, 0.66), (0.86, 0.66)),
                    _line((0.64, 0.02), (0.64, 1.0))),
            strokes(_line((0.24, 0.0), (0.2, 0.6), (0.86, 0.6)), _line((0.68, 0.05), (0.68, 1.0)))),
        5: (strokes(_line((0.78, 0.0), (0.3, 0.0), (0.25, 0.44))
                    + _arc(0.5, 0.68, 0.3, 0.3, -140, 150)[1:]),
            strokes(_line((0.32, 0.02), (0.2, 0.5))
                    + _smooth((0.2, 0.5), (0.48, 0.38), (0.78, 0.56), (0.74, 0.86), (0.46, 0.99),
                              (0.16, 0.88))[1:],
                    _line((0.32, 0.02), (0.84, 0.0)))),
        6: (strokes(_smooth((0.72, 0.0), (0.45, 0.18), (0.26, 0.5), (0.24, 0.76))
                    + _arc(0.5, 0.72, 0.26, 0.26, 180, 540)[1:]),
            strokes(_smooth((0.68, 0.02), (0.35, 0.3), (0.22, 0.72), (0.4, 0.98), (0.7, 0.9),
                            (0.74, 0.62), (0.5, 0.5), (0.28, 0.66)))),
        7: (strokes(_line((0.15, 0.0), (0.85, 0.0), (0.4, 1.0))),
            strokes(_line((0.15, 0.0), (0.85, 0.0), (0.4, 1.0)), _line((0.35, 0.5), (0.78, 0.5)))),
        8: (strokes(_figure_eight()),
            strokes(_arc(0.5, 0.25, 0.22, 0.24, 0, 360), _arc(0.5, 0.73, 0.28, 0.26, -90, 270))),
        9: (strokes(_arc(0.48, 0.3, 0.26, 0.28, 0, 360), _line((0.74, 0.3), (0.7, 1.0))),
            strokes(_arc(0.48, 0.3, 0.26, 0.28, 0, 360)
                    + _smooth((0.74, 0.3), (0.72, 0.7), (0.55, 0.98), (0.3, 0.94))[1:])),
    }


@functools.cache
def _digit_strokes() -> Mapping[int, tuple[Strokes, ...]]:
    return types.MappingProxyType(_build_styles())


def __getattr__(name: str) -> object:
    """DIGIT_STROKES, built on first use rather than at import (sampling the curves takes ms)."""
    # DIGIT_STROKES: read-only {digit: (style, ...)}; a style is a tuple of strokes, a stroke a
    # tuple of (x, y) points in the unit box.
    if name == "DIGIT_STROKES":
        return _digit_strokes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def digit_styles(digit: int) -> list[Strokes]:
    """All stroke styles for a digit 0–9."""
    styles = _digit_strokes()
    if digit not in styles:
        raise ValueError(f"digit must be an integer 0–9, got {digit!r}")
    return list(styles[digit])


def _box_in_pixels(canvas_size: int, box: tuple[float, float, float] | None, scale: float,
                   center: tuple[float, float]) -> tuple[float, float, float]:
    """(x0, y0, size) in pixels: an explicit box, or a square of `scale` × canvas at `center`."""
    if box is not None:
        return box
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    size = scale * canvas_size
    return center[0] * canvas_size - size / 2, center[1] * canvas_size - size / 2, size


def stroke_points_on_canvas(strokes: Strokes, canvas_size: int = 280, *,
                            box: tuple[float, float, float] | None = None, scale: float = 0.7,
                            center: tuple[float, float] = (0.5, 0.5), slant: float = 0.0,
                            rotation_deg: float = 0.0, jitter: float = 0.0,
                            rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Pixel coordinates of each stroke, each an (n, 2) float array of (x, y).

    The unit box maps to `box` = (x0, y0, size) in pixels, or else to a square of `scale` × canvas
    centred at `center` (fractions of the canvas). `slant` shears the top to the right by
    slant × height; `rotation_deg` turns the digit anticlockwise; `jitter` adds Gaussian noise
    (in unit-box units) to every point and needs `rng`.
    """
    if jitter > 0 and rng is None:
        raise ValueError("jitter needs an rng (np.random.default_rng(seed)) to stay deterministic")
    x0, y0, size = _box_in_pixels(canvas_size, box, scale, center)
    angle = math.radians(rotation_deg)
    # Shear then rotate about the box centre; y points down, so anticlockwise uses -sin on x.
    transform = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    transform = transform @ np.array([[1.0, -slant], [0.0, 1.0]])
    result = []
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2) - 0.5
        if jitter > 0:
            points = points + rng.normal(0.0, jitter, size=points.shape)
        points = points @ transform.T + 0.5
        result.append(points * size + (x0, y0))
    return result


def _compose(coverage: np.ndarray, background: Background, ink: tuple[int, int, int]) -> np.ndarray:
    """RGBA canvas from an ink coverage map (uint8, 255 = full ink), as a browser returns it."""
    height, width = coverage.shape
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    if background == "transparent":
        # getImageData is not premultiplied: ink pixels keep the ink colour and carry the coverage.
        rgba[..., :3] = np.where(coverage[..., None] > 0, np.asarray(ink, dtype=np.uint8), 0)
        rgba[..., 3] = coverage
        return rgba
    if background not in ("white", "black"):
        raise ValueError(f"background must be 'white', 'black' or 'transparent', "
                         f"got {background!r}")
    paper = np.full(3, 255.0 if background == "white" else 0.0)
    weight = coverage[..., None].astype(np.float32) / 255.0
    rgba[..., :3] = np.rint(paper * (1 - weight) + np.asarray(ink, np.float32) * weight)
    rgba[..., 3] = 255
    return rgba


def render_strokes(strokes: Strokes, *, canvas_size: int = 280,
                   box: tuple[float, float, float] | None = None, scale: float = 0.7,
                   center: tuple[float, float] = (0.5, 0.5), stroke_width: float = 18,
                   slant: float = 0.0, rotation_deg: float = 0.0, background: Background = "white",
                   ink: tuple[int, int, int] = (0, 0, 0), jitter: float = 0.0,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Draw strokes like a browser canvas brush: (canvas_size, canvas_size, 4) uint8 RGBA.

    Lines are anti-aliased with round caps and joins. See `stroke_points_on_canvas` for the
    placement arguments.
    """
    if canvas_size < 1 or stroke_width <= 0:
        raise ValueError("canvas_size and stroke_width must be positive")
    coverage = np.zeros((canvas_size, canvas_size), dtype=np.uint8)
    radius = stroke_width / 2
    thickness = max(1, int(round(stroke_width)))
    for points in stroke_points_on_canvas(strokes, canvas_size, box=box, scale=scale, center=center,
                                          slant=slant, rotation_deg=rotation_deg, jitter=jitter,
                                          rng=rng):
        fixed = np.rint(points * (1 << _SHIFT)).astype(np.int32)
        cv2.polylines(coverage, [fixed], False, 255, thickness, cv2.LINE_AA, _SHIFT)
        # Filled circles at the ends and joints make the caps and joins round, as in a browser.
        for x, y in fixed:
            cv2.circle(coverage, (int(x), int(y)), int(round(radius * (1 << _SHIFT))), 255, -1,
                       cv2.LINE_AA, _SHIFT)
    return _compose(coverage, background, ink)


def mnist_as_canvas(digit28: np.ndarray, *, canvas_size: int = 280, scale: float = 0.8,
                    offset: tuple[float, float] = (0.0, 0.0), stroke_width_change: int = 0,
                    slant: float = 0.0, background: Background = "white",
                    ink: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Re-draw an MNIST digit (28×28 uint8, light on dark) as a browser canvas drawing.

    The 28×28 field is enlarged to `scale` × canvas, its edges sharpened like a brush stroke,
    thickened (positive `stroke_width_change`, canvas pixels) or thinned (negative), sheared by
    `slant` and placed at the centre moved by `offset` pixels.
    """
    digit = np.asarray(digit28)
    if digit.shape != (28, 28):
        raise ValueError(f"digit28 must have shape (28, 28), got {digit.shape}")
    size = max(1, int(round(scale * canvas_size)))
    grey = cv2.resize(digit.astype(np.float32) / max(1.0, float(digit.max())), (size, size),
                      interpolation=cv2.INTER_CUBIC)
    # A steep ramp around half intensity turns the blurry upscale into crisp, anti-aliased ink.
    ramp_width = max(0.08, 2.0 * 28 / size)
    coverage = np.clip((grey - 0.5) / ramp_width + 0.5, 0.0, 1.0)
    if stroke_width_change:
        # Dilating by r widens a stroke by 2r, so r is half the requested change.
        radius = max(1, int(round(abs(stroke_width_change) / 2)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        operation = cv2.dilate if stroke_width_change > 0 else cv2.erode
        coverage = operation(coverage, kernel)
    start = (canvas_size - size) / 2
    # Shear about the field's centre row, then move the field to its place on the canvas.
    matrix = np.array([[1.0, -slant, start + offset[0] + slant * size / 2],
                       [0.0, 1.0, start + offset[1]]])
    placed = cv2.warpAffine(coverage, matrix, (canvas_size, canvas_size), flags=cv2.INTER_LINEAR,
                            borderValue=0.0)
    return _compose(np.rint(np.clip(placed, 0, 1) * 255).astype(np.uint8), background, ink)


def lit_from_the_right(image: np.ndarray, darkest: float) -> np.ndarray:
    """A uint8 image under light falling off from full at its right edge to `darkest` (a fraction)
    at its left, as a page photographed beside a window."""
    light = np.linspace(darkest, 1.0, image.shape[1], dtype=np.float32)[None, :]
    if image.ndim == 3:
        light = light[..., None]
    return np.clip(image.astype(np.float32) * light, 0, 255).astype(np.uint8)
