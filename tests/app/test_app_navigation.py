"""app.py: the page navigation, Draw first."""

from __future__ import annotations

import pytest

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PAGES = {"draw": "Draw a digit", "explore": "Explore the data", "train": "Train a model",
         "evaluate": "Evaluate a model", "model": "Inside a model"}


@pytest.mark.skipif(not (PROJECT_ROOT / "pages" / "compare.py").is_file(),
                    reason="pages/compare.py (the Compare page, written separately) is not in the tree yet")
def test_every_page_is_reachable_and_draw_comes_first(open_page, tiny_model: str) -> None:
    at = open_page("app").run()
    assert not at.exception
    assert at.title[0].value == PAGES["draw"]
    for name, title in PAGES.items():
        at.switch_page(f"pages/{name}.py").run()
        assert not at.exception, name
        assert at.title[0].value == title
    at.switch_page("pages/compare.py").run()
    assert not at.exception
