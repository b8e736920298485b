"""Plotly figures and display images for the app and the HTML report (pure functions, no Streamlit).

Every figure takes plain numbers (counts, probabilities, histories), never a model or a dataset
loader, so the same figure appears on a page and in a downloaded report and is tested alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

DIGITS = list(range(10))
RIGHT_COLOR, WRONG_COLOR = (46, 160, 67), (218, 54, 51)  # green and red frames
MUTED = "#4c78a8"
_LAYOUT = dict(margin=dict(l=40, r=20, t=50, b=40), template="plotly_white")


def _digit_axis(figure: go.Figure) -> go.Figure:
    figure.update_xaxes(tickmode="array", tickvals=DIGITS, title_text="digit")
    return figure


def label_counts_figure(counts_by_split: Mapping[str, Sequence[int]], title: str = "Images per digit") -> go.Figure:
    """Grouped bars: one trace per split (e.g. train and test), ten bars each, values written on them."""
    figure = go.Figure([go.Bar(name=split, x=DIGITS, y=list(counts), text=list(counts), textposition="outside")
                        for split, counts in counts_by_split.items()])
    figure.update_layout(title=title, barmode="group", yaxis_title="images", **_LAYOUT)
    return _digit_axis(figure)


def pixel_heatmap(image: np.ndarray, title: str = "Pixel values") -> go.Figure:
    """One image as a heatmap with each pixel's value written in its cell (row 0 at the top)."""
    values = np.asarray(image)
    text = values.astype(int) if np.issubdtype(values.dtype, np.integer) else np.round(values, 2)
    figure = go.Figure(go.Heatmap(z=values, text=text, texttemplate="%{text}", textfont=dict(size=8),
                                  colorscale="gray", showscale=False, hovertemplate="row %{y}, col %{x}: %{z}"))
    figure.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    figure.update_layout(title=title, height=640, **_LAYOUT)
    return figure


def class_means_figure(class_means: np.ndarray, title: str = "Mean image per digit") -> go.Figure:
    """Ten heatmaps in two rows of five: the average image of each digit."""
    figure = make_subplots(rows=2, cols=5, subplot_titles=[str(d) for d in DIGITS],
                           horizontal_spacing=0.02, vertical_spacing=0.08)
    for digit, mean in enumerate(class_means):
        figure.add_trace(go.Heatmap(z=mean, colorscale="gray", showscale=False, zmin=0, zmax=255,
                                    hovertemplate=f"digit {digit}, row %{{y}}, col %{{x}}: %{{z:.0f}}<extra></extra>"),
                         row=digit // 5 + 1, col=digit % 5 + 1)
    figure.update_yaxes(autorange="reversed", showticklabels=False)
    figure.update_xaxes(showticklabels=False)
    figure.update_layout(title=title, height=380, **_LAYOUT)
    return figure


def intensity_histogram(intensity_counts: Sequence[int], title: str = "Pixel intensities") -> go.Figure:
    """Bars of how many pixels take each value 0..255, on a log scale (background pixels dominate)."""
    counts = np.asarray(intensity_counts)
    figure = go.Figure(go.Bar(x=np.arange(len(counts)), y=counts, marker_color=MUTED))
    figure.update_layout(title=title, xaxis_title="pixel value", yaxis_title="pixels (log scale)",
                         yaxis_type="log", bargap=0, **_LAYOUT)
    return figure


def ink_figure(ink_mean: Sequence[float], ink_std: Sequence[float], title: str = "Ink per digit") -> go.Figure:
    """Mean ink per image of each digit (in fully inked pixels) with one standard deviation."""
    figure = go.Figure(go.Bar(x=DIGITS, y=list(ink_mean), error_y=dict(type="data", array=list(ink_std)),
                              text=[f"{value:.0f}" for value in ink_mean], textposition="inside", insidetextanchor="start",
                              marker_color=MUTED))
    figure.update_layout(title=title, yaxis_title="inked pixels per image", **_LAYOUT)
    return _digit_axis(figure)


def confusion_figure(confusion: np.ndarray, title: str = "Confusion matrix (click a cell)") -> go.Figure:
    """Counts of true (rows) against predicted (columns) digits.

    A near-invisible square marker sits on every cell: heatmaps cannot be selected in plotly, markers
    can, so clicking a cell selects the point whose (x, y) is (predicted, true).
    """
    confusion = np.asarray(confusion)
    off_diagonal = np.where(np.eye(10, dtype=bool), 0, confusion)
    figure = go.Figure(go.Heatmap(z=np.log1p(off_diagonal), x=DIGITS, y=DIGITS, text=confusion,
                                  texttemplate="%{text}", colorscale="Reds", showscale=False, hoverinfo="skip"))
    true_labels, predicted = np.divmod(np.arange(100), 10)
    figure.add_trace(go.Scatter(x=predicted, y=true_labels, mode="markers", customdata=confusion.ravel(),
                                marker=dict(symbol="square", size=28, opacity=0.01, color="black"),
                                hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>"))
    figure.update_xaxes(title_text="predicted", tickvals=DIGITS, side="top")
    figure.update_yaxes(title_text="true", tickvals=DIGITS, autorange="reversed", scaleanchor="x")
    figure.update_layout(title=title, height=520, showlegend=False, clickmode="event+select",
                         dragmode=False, **_LAYOUT)
    return figure


def most_confused(confusion: np.ndarray) -> tuple[int, int]:
    """(true, predicted) of the largest off-diagonal cell: the model's most frequent mistake."""
    mistakes = np.where(np.eye(len(confusion), dtype=bool), -1, np.asarray(confusion))
    true_label, predicted = np.unravel_index(int(np.argmax(mistakes)), mistakes.shape)
    return int(true_label), int(predicted)


def selected_cell(points: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """(true, predicted) of the confusion cell clicked, from a plotly selection's points."""
    for point in points:
        if "x" in point and "y" in point:
            return int(point["y"]), int(point["x"])
    return None


def history_figure(histories: Mapping[str, Mapping[str, Sequence[float]]], metric: str) -> go.Figure:
    """``metric`` per epoch for each named run: training solid, validation (``val_`` + metric) dashed."""
    figure = go.Figure()
    for run_name, history in histories.items():
        for key, dash, split in ((metric, "solid", "train"), (f"val_{metric}", "dash", "validation")):
            values = list(history.get(key, []))
            if values:
                figure.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers",
                                            name=f"{run_name} {split}" if len(histories) > 1 else split,
                                            line=dict(dash=dash)))
    figure.update_layout(title=metric.replace("_", " ").capitalize(), xaxis_title="epoch", yaxis_title=metric,
                         height=340, **_LAYOUT)
    figure.update_xaxes(dtick=1)
    return figure


def value_histogram(values: np.ndarray, title: str, bins: int = 50) -> go.Figure:
    """A histogram binned in NumPy, so a million weights become 50 bars, not a million points."""
    values = np.asarray(values, dtype=np.float64).ravel()
    counts, edges = np.histogram(values, bins=min(bins, max(5, values.size // 2)))  # a bias of 4 gets 5 bins
    figure = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), marker_color=MUTED))
    figure.update_layout(title=title, xaxis_title="value", yaxis_title="count", bargap=0, height=280, **_LAYOUT)
    return figure


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Any grey image stretched to uint8 0..255 for display (uint8 passes through unchanged)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    low, high = float(np.min(image)), float(np.max(image))
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image, dtype=np.float64)
    return np.round(scaled * 255).astype(np.uint8)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so a 28×28 digit stays crisp on screen instead of blurred."""
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)


def thumbnail(image: np.ndarray, side: int = 112) -> np.ndarray:
    """A grey image as a ``side``×``side`` uint8 square: padded with its background, then resized.

    Pipeline steps differ in shape (a tall crop, a 28×28 field); equal squares line up in a row.
    """
    import cv2

    pixels = to_uint8(image)
    height, width = pixels.shape
    edge = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = int(np.median(edge))
    longest = max(height, width)
    top, left = (longest - height) // 2, (longest - width) // 2
    square = np.full((longest, longest), background, np.uint8)
    square[top:top + height, left:left + width] = pixels
    shrinking = longest > side
    return cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_NEAREST)


def tile_images(images: np.ndarray, columns: int, frames: Sequence[bool] | None = None, scale: int = 2,
                border: int = 2) -> np.ndarray:
    """Grey images (N, H, W) in a grid as one RGB uint8 image; ``frames`` colours each border right/wrong."""
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"Expected a non-empty stack of images (N, H, W), got shape {images.shape}.")
    count, height, width = images.shape
    rows = -(-count // columns)
    cell_h, cell_w = height * scale + 2 * border, width * scale + 2 * border
    grid = np.full((rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * cell_h, (index % columns) * cell_w
        if frames is not None:
            grid[top:top + cell_h, left:left + cell_w] = RIGHT_COLOR if frames[index] else WRONG_COLOR
        pixels = enlarge(to_uint8(image), scale)
        grid[top + border:top + cell_h - border, left + border:left + cell_w - border] = pixels[..., np.newaxis]
    return grid


def run_rows(run_infos: Sequence[Any]) -> list[dict[str, Any]]:
    """One table row per training run (``runs.RunInfo``): its network, recipe and final metrics."""
    from digit_core.store.registry import describe_network

    rows = []
    for run in run_infos:
        training, history = run.config.get("training", {}), run.history
        final = {key: history[key][-1] for key in ("accuracy", "val_accuracy") if history.get(key)}
        rows.append({"run": run.run_id, "name": run.name, "status": run.status, "epochs": run.epochs_done,
                     "network": describe_network(run.config.get("network", {})),
                     "optimizer": training.get("optimizer"), "learning rate": training.get("learning_rate"),
                     "batch size": training.get("batch_size"), "augment": training.get("augment"),
                     "train accuracy": final.get("accuracy"), "validation accuracy": final.get("val_accuracy"),
                     "test accuracy": run.metrics.get("test_accuracy"), "params": run.metrics.get("params"),
                     "seconds": run.metrics.get("train_seconds")})
    return rows


def saliency_overlay(image: np.ndarray, saliency: np.ndarray, scale: int = 6) -> np.ndarray:
    """A saliency map as heat over the digit: RGB uint8, enlarged ``scale`` times.

    The digit (light on dark, as the model saw it) stays dimly visible in grey; pixels glow from red
    (some saliency) to yellow (the map's strongest). Each map is scaled to its own maximum.
    """
    image, saliency = np.asarray(image, np.float64), np.asarray(saliency, np.float64)
    if image.shape != saliency.shape or image.ndim != 2:
        raise ValueError(f"Expected an image and a saliency map of one 2-D shape, got {image.shape} "
                         f"and {saliency.shape}.")
    digit = to_uint8(image).astype(np.float64) / 255.0
    strongest = saliency.max()
    heat = np.clip(saliency / strongest, 0.0, 1.0) if strongest > 0 else np.zeros_like(saliency)
    base = np.repeat(0.35 * digit[..., np.newaxis], 3, axis=2)  # (h, w, 3) dim grey digit
    colour = np.stack([np.minimum(1.0, 2 * heat), np.clip(2 * heat - 1, 0.0, 1.0), np.zeros_like(heat)], axis=2)
    alpha = np.sqrt(heat)[..., np.newaxis]  # faint heat still shows
    blended = (1 - alpha) * base + alpha * colour
    return enlarge(np.round(blended * 255).astype(np.uint8), scale)


def feature_map_grid(maps: np.ndarray, cell_side: int = 56, columns: int = 16) -> np.ndarray:
    """A layer's feature maps (channels, h, w) as one RGB grid, each map stretched to its own range."""
    maps = np.asarray(maps)
    return tile_images(maps, columns=min(columns, len(maps)), scale=max(1, cell_side // maps.shape[-1]), border=1)
