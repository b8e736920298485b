"""Where to cut a group of strokes that may be digits written touching: the cheapest paths from top to
bottom through the fewest strokes, each leaving enough stroke on both sides."""

from __future__ import annotations

import cv2
import numpy as np

from digit_core.images import locate
from digit_core.images.segment import Group, Layout

# Cuts between touching digits (``cut_paths``): a sideways step costs this fraction of crossing a
# stroke pixel; a cut leaves at least SIDE_INK_FRACTION of the strokes on either side and ends at
# least CUT_SPACING line heights from the next cut. Paths are looked for with the line at most
# PATH_LINE_HEIGHT pixels tall: a canvas's at full resolution, since shrinking closes the narrow
# gaps between strokes that a cut passes through (on numbers by pendigits' training writers,
# cuts found with the line 48 px tall let 114 of 185 touching pairs be read right, against 140).
SIDE_STEP_COST = 0.3
SIDE_INK_FRACTION = 0.08
CUT_SPACING = 0.15
PATH_LINE_HEIGHT = 160


def _cheapest_paths(crossing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cost of the cheapest path from the top row to each column of the bottom row, the step each
    path took into each pixel: -1 from the column to the left, 0 straight down, +1 from the right,
    the stroke pixels left of each path).

    A path moves down a row at a time, at most one column sideways, each step sideways costing
    SIDE_STEP_COST and each pixel its ``crossing`` value (dynamic programming, row by row).
    """
    height, width = crossing.shape
    padded = np.full(width + 2, np.inf, np.float32)
    padded[1:-1] = crossing[0]
    # Stroke pixels left of each column, row by row; summed along each path as it is extended.
    left_of = np.cumsum(crossing, axis=1) - crossing
    ink_left = np.zeros(width + 2, np.float32)
    ink_left[1:-1] = left_of[0]
    # Windows (x - 1, x, x + 1) of the padded row above.
    windows = np.lib.stride_tricks.sliding_window_view(padded, 3)
    step_costs = np.array([SIDE_STEP_COST, 0.0, SIDE_STEP_COST], np.float32)
    came_from = np.zeros((height, width), np.int8)
    columns = np.arange(width)
    for row in range(1, height):
        candidates = windows + step_costs
        came_from[row] = step = candidates.argmin(axis=1)
        ink_left[1:-1] = ink_left[columns + step] + left_of[row]
        padded[1:-1] = candidates[columns, step] + crossing[row]
    return padded[1:-1].copy(), came_from - 1, ink_left[1:-1].copy()


def cut_paths(layout: Layout, group: Group, count: int) -> list[np.ndarray]:
    """Up to ``count`` places where a group of touching digits might be cut apart, left to right:
    each a path, the cut's column in each row of the group's box.

    Two digits written touching meet at a point or along a short stroke, and their other strokes
    may reach past each other. So a cut is a path from the group's top to its bottom crossing few
    stroke pixels, stepping sideways to pass between strokes (``_cheapest_paths``). Of the paths
    leaving SIDE_INK_FRACTION of the strokes on either side and ending CUT_SPACING line heights
    apart, the cheapest are kept. A line taller than PATH_LINE_HEIGHT (a photo's large digits) is
    shrunk to about that first.
    """
    line_height = layout.line_height
    factor, crossing = _crossing(layout, group)
    total, came_from, ink_left = _cheapest_paths(crossing)
    # A 1 may be no wider than its stroke, so a cut may come near the group's side, but not cut
    # off a sliver: the strokes left of the path (along all of it) are weighed.
    all_ink = float(crossing.sum())
    sides_inked = (ink_left >= SIDE_INK_FRACTION * all_ink) & (ink_left <= (1 - SIDE_INK_FRACTION) * all_ink)
    spacing = max(1, int(CUT_SPACING * line_height / factor))
    ends: list[int] = []
    for column in np.argsort(np.where(sides_inked, total, np.inf), kind="stable"):
        if not sides_inked[column] or len(ends) == count:
            break
        if all(abs(int(column) - other) >= spacing for other in ends):
            ends.append(int(column))
    return [_traced(end, came_from, factor, group.strokes.shape) for end in sorted(ends)]


def cuts_between(layout: Layout, group: Group, middles: list[float]) -> list[np.ndarray]:
    """The cuts parting digits whose middles (columns of the group's box, left to right) are known:
    between each two neighbours, the cheapest path (``_cheapest_paths``) ending in the middle half of
    the way from one middle to the next (of equally cheap ones, the nearest halfway)."""
    factor, crossing = _crossing(layout, group)
    total, came_from, _ = _cheapest_paths(crossing)
    cuts = []
    for left, right in zip(middles, middles[1:]):
        quarter = (right - left) / 4
        low = min(len(total) - 1, max(0, int(np.ceil((left + quarter) / factor))))
        high = max(low, min(len(total) - 1, int((right - quarter) / factor)))
        columns = np.arange(low, high + 1)
        halfway = (left + right) / 2 / factor
        end = low + int(np.argmin(total[low:high + 1] + 1e-3 * np.abs(columns - halfway)))
        cuts.append(_traced(end, came_from, factor, group.strokes.shape))
    return cuts


def _crossing(layout: Layout, group: Group) -> tuple[int, np.ndarray]:
    """(the factor the group is shrunk by, its stroke pixels as 1.0 at that size): a line taller than
    PATH_LINE_HEIGHT is shrunk to about that."""
    factor = max(1, int(round(layout.line_height / PATH_LINE_HEIGHT)))
    # Any stroke pixel in a block marks the block: a thin stroke is still a stroke.
    crossing = (locate.shrink_by(group.strokes.astype(np.uint8) * 255, factor, cv2.BORDER_CONSTANT) > 0
                ).astype(np.float32)
    return factor, crossing


def _traced(end: int, came_from: np.ndarray, factor: int, full_shape: tuple[int, int]) -> np.ndarray:
    """The path ending at column ``end`` of the bottom row, as its column in each row of the group's box."""
    height = came_from.shape[0]
    path = np.empty(height, np.int64)
    path[-1] = end
    for row in range(height - 1, 0, -1):
        path[row - 1] = path[row] + came_from[row, path[row]]
    # Back to the group's full resolution: each row of the shrunk strokes stands for `factor` rows.
    return np.minimum(np.repeat(path, factor)[:full_shape[0]] * factor + factor // 2, full_shape[1] - 1)
