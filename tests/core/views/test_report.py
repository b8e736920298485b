"""The Explore page's downloadable report: one standalone HTML file with the numbers and figures."""

from __future__ import annotations

import re

import numpy as np

from digit_core.views import report
from digit_core.data.profile import profile_dataset


def _report() -> str:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), [120, 130, 100, 100, 100, 100, 100, 100, 100, 37]).astype(np.uint8)
    images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    profile = profile_dataset(images, labels)
    return report.dataset_report("My <digits>", profile, images[0], images[:20],
                                 {"train": profile.label_counts.tolist(), "test": [1] * 10})


def test_report_holds_the_numbers() -> None:
    page = _report()
    assert "My &lt;digits&gt;" in page and "<digits>" not in page  # names are escaped
    assert "<td>987</td>" in page  # image count
    assert "<td>28×28</td>" in page
    assert "<td>0.28</td>" in page  # balance: 37 / 130
    assert "<td>130</td>" in page and "<td>13.2%</td>" in page  # the 1s and their share
    assert page.count('class="plotly-graph-div"') == 5
    assert 'src="data:image/png;base64,' in page


def test_report_is_standalone() -> None:
    page = _report()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]*\bsrc=[\"']?(https?:)?//", page), "no script may load from the network"
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1, "plotly.js must be inlined exactly once"
