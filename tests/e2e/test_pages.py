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
    # The root address opens the first page, Draw, at its own address (with its settings as a query).
    expect(app.page).to_have_url(re.compile(r"/draw(\?.*)?$"))
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


def test_icons_are_material_and_there_is_no_deploy_button(app: AppDriver) -> None:
    app.open("draw")
    links = app.page.get_by_test_id("stSidebarNav").get_by_test_id("stSidebarNavLink")
    expect(links).to_have_count(len(PAGES))
    # Streamlit draws a :material/...: icon with its own font (the icon's name as text), never an emoji.
    icons = links.get_by_test_id("stIconMaterial")
    expect(icons).to_have_count(len(PAGES))
    names = icons.all_inner_texts()
    assert all(re.fullmatch(r"[a-z_]+", name) for name in names), names
    expect(app.page.get_by_test_id("stAppDeployButton")).to_have_count(0)
    expect(app.page.get_by_role("button", name="Deploy")).to_have_count(0)


def test_a_shared_link_opens_the_same_view(app: AppDriver) -> None:
    app.open("explore?source=MNIST+test&digit=3&count=20")
    main = app.page.get_by_test_id("stMain")
    expect(main.get_by_role("radio", name="MNIST test")).to_be_checked()
    expect(main.get_by_test_id("stTable")).to_contain_text("10,000")
    expect(main.get_by_test_id("stSlider")).to_contain_text("20")
    # A setting changed on the page goes back into the address, so copying it shares the new view.
    # The label, as a person clicks it (the radio's own circle sits under the page's sticky header).
    app.change_widget(lambda: main.get_by_test_id("stRadio").get_by_text("USPS test", exact=True).click())
    expect(main.get_by_role("radio", name="USPS test")).to_be_checked()
    expect(app.page).to_have_url(re.compile(r"source=USPS\+test"))
    expect(app.page).to_have_url(re.compile(r"digit=3"))


@pytest.mark.parametrize("address, title", [("compare", "Compare models"), ("train", "Train a model")])
def test_a_first_visitor_after_a_restart_gets_a_deep_link_inside_the_apps_navigation(
        browser, e2e_models_dir, tmp_path, artifacts_dir, address: str, title: str) -> None:
    """A fresh server whose first request is a page's own address, not the root: Streamlit would run
    that page's file alone, with a sidebar of file names, unless the page hands it to app.py."""
    from tests.app_server import running_app
    from tests.e2e.driver import PAGE_TIMEOUT_MS

    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    with running_app(e2e_models_dir, runs_dir, tmp_path / "server.log") as server:
        context = browser.new_context()
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            app = AppDriver(context.new_page(), server.url, artifacts_dir)
            app.open(address)
            expect(app.title()).to_have_text(title)
            assert app.navigation_labels() == PAGES
        finally:
            context.close()
