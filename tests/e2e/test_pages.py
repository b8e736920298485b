"""Every page of the navigation in a real browser: it runs without a traceback or an error box, its
address opens it directly (as a bookmark would), and a screenshot of each is kept in artifacts/e2e/pages/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.driver import AppDriver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PAGES = ["Draw", "Explore", "Train", "Evaluate", "Compare", "Model"]  # app.py's navigation, in order


def page_problems(app: AppDriver) -> list[str]:
    """Tracebacks and error boxes on the current page (it must have finished running)."""
    return ([f"exception: {text}" for text in app.exceptions().all_inner_texts()]
            + [f"error: {text}" for text in app.error_alerts().all_inner_texts()])


def test_every_page_in_the_navigation_loads_without_an_exception_or_an_error(app: AppDriver) -> None:
    app.open("")
    # The root address opens the first page, Draw, at its own address.
    expect(app.page).to_have_url(re.compile(r"/draw$"))
    expect(app.title()).to_have_text("Draw a digit")
    navigation = app.page.get_by_test_id("stSidebarNav")
    labels = app.navigation_labels()
    assert labels == PAGES, f"The navigation changed to {labels}: update PAGES here."

    problems: dict[str, list[str]] = {}
    titles: dict[str, str] = {}  # page address -> its title
    for index, label in enumerate(labels):
        if index:
            app.navigate(label)  # a click in the sidebar: the same session, as a person goes through the app
        titles[navigation.get_by_role("link", name=label, exact=True).get_attribute("href")] = app.title().inner_text()
        app.screenshot(f"pages/{index + 1}-{label.lower()}", whole_page=True)
        problems[label] = page_problems(app)
    assert not any(problems.values()), f"Pages showing a traceback or an error: {problems}"

    # Each address opens its page directly, as a new visit, without a "Page not found" dialog.
    for address, title in titles.items():
        app.page.goto(address)
        expect(app.title()).to_have_text(title)
        app.wait_until_idle()
        expect(app.page.get_by_role("dialog")).to_have_count(0)
        assert not page_problems(app), f"{address}: {page_problems(app)}"
