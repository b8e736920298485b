"""The Explore page's "Download report": one standalone HTML file with the numbers and the figures.

plotly.js is written inline once, and images are data URIs, so the file opens offline and can be
mailed as it is.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from digit_core.views import figures
from digit_core.data.profile import DatasetProfile
from digit_core.training.runs import now_iso

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img.samples { image-rendering: pixelated; border: 1px solid #ccc; }
"""


def _table(rows: Sequence[Mapping[str, object]]) -> str:
    if not rows:
        return ""
    header = "".join(f"<th>{html.escape(str(key))}</th>" for key in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row.values()) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _png_data_uri(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def summary_rows(profile: DatasetProfile) -> list[dict[str, object]]:
    """The dataset summary as (quantity, value) rows, for the page and the report alike."""
    summary = profile.summary
    shape = "×".join(str(size) for size in summary["shape"][1:])
    return [{"quantity": "images", "value": f"{summary['count']:,}"},
            {"quantity": "image shape", "value": shape},
            {"quantity": "dtype", "value": summary["dtype"]},
            {"quantity": "value range", "value": f"{summary['min']} – {summary['max']}"},
            {"quantity": "missing values", "value": f"{summary['missing']:,}"},
            {"quantity": "class balance (smallest / largest class)",
             "value": f"{profile.balance:.2f}" if profile.labelled else "no labels"}]


def class_rows(profile: DatasetProfile) -> list[dict[str, object]]:
    """Images, share and mean ink per digit (none without labels)."""
    if not profile.labelled:
        return []
    total = max(1, int(profile.label_counts.sum()))
    return [{"digit": digit, "images": int(count), "share": f"{count / total:.1%}",
             "mean ink (pixels)": f"{profile.ink_mean[digit]:.1f}"}
            for digit, count in enumerate(profile.label_counts)]


def render_html(title: str, tables: Mapping[str, Sequence[Mapping[str, object]]],
                plots: Sequence[go.Figure], images: Mapping[str, np.ndarray] | None = None) -> str:
    """A standalone HTML page: titled tables, RGB/grey uint8 images, then figures (plotly.js inline once)."""
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>Generated {html.escape(now_iso())} by Digit Studio.</p>"]
    for heading, rows in tables.items():
        parts += [f"<h2>{html.escape(heading)}</h2>", _table(rows)]
    for heading, image in (images or {}).items():
        parts += [f"<h2>{html.escape(heading)}</h2>",
                  f'<img class="samples" alt="{html.escape(heading)}" src="{_png_data_uri(image)}">']
    for index, figure in enumerate(plots):
        parts.append(figure.to_html(full_html=False, include_plotlyjs=index == 0))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def dataset_report(name: str, profile: DatasetProfile, example: np.ndarray, samples: np.ndarray | None = None,
                   counts_by_split: Mapping[str, Sequence[int]] | None = None) -> str:
    """The Explore page's analysis of one dataset as a standalone HTML document."""
    per_digit = [figures.label_counts_figure(counts_by_split or {name: profile.label_counts.tolist()}),
                 figures.class_means_figure(profile.class_means)] if profile.labelled else []
    plots = [*per_digit, figures.intensity_histogram(profile.intensity_counts),
             *([figures.ink_figure(profile.ink_mean, profile.ink_std)] if profile.labelled else []),
             figures.pixel_heatmap(example, title="Pixel values of one example")]
    images = {"Samples": figures.tile_images(samples, columns=10)} if samples is not None and len(samples) else {}
    return render_html(f"Dataset report: {name}", {"Summary": summary_rows(profile), "Per digit": class_rows(profile)},
                       plots, images)
