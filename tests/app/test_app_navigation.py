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


def test_the_navigation_uses_material_icons_and_no_deploy_button(open_page, tiny_model: str) -> None:
    import tomllib

    at = open_page("app").run()
    assert not at.exception  # Streamlit refuses an icon name it does not know
    source = (PROJECT_ROOT / "app.py").read_text()
    icons = [part.split('"')[1] for part in source.split('icon=')[1:]]
    assert icons and all(icon.startswith(":material/") and icon.endswith(":") for icon in icons)
    settings = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["toolbarMode"] == "viewer"  # viewer options only: no Deploy button


def test_a_shared_link_to_the_start_page_keeps_its_settings(open_page, tiny_model: str) -> None:
    at = open_page("app")
    at.query_params.update(model=tiny_model, brush="30")
    at.run()
    assert not at.exception and at.title[0].value == PAGES["draw"]
    assert at.slider(key="brush_width").value == 30
