"""The Train page in a real browser: a tiny run trains in the background with a live chart, the app stays
usable meanwhile, Stop ends the run and it is listed under Past runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Locator, expect

from digit_core.training import runs
from digit_core.data.synthetic import digit_styles, stroke_points_on_canvas
from tests.e2e.driver import AppDriver

if TYPE_CHECKING:
    from tests.e2e.conftest import AppServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RUN_NAME = "e2e-tiny"
MAX_EPOCHS = 50  # the Epochs slider's top: the run is still going when the test stops it
TRAINING_IMAGES = "10000"  # short epochs, yet far from 50 of them before Stop
# From Start to an epoch's end: TensorFlow builds the network, then the epoch (a few seconds on an idle CPU).
TRAINING_TIMEOUT_MS = 420_000
_LIVE_CHART_POINTS = """() => {
    const chart = document.querySelector('.st-key-live-accuracy .js-plotly-plot');
    return chart && chart.data && chart.data.length ? chart.data[0].x.length : 0;
}"""


def live_chart_points(app: AppDriver) -> int:
    """Epochs plotted on the live accuracy chart (its training curve)."""
    return app.page.evaluate(_LIVE_CHART_POINTS)


def wait_for_live_chart_points(app: AppDriver, count: int) -> None:
    app.page.wait_for_function(f"() => ({_LIVE_CHART_POINTS})() >= {count}", timeout=TRAINING_TIMEOUT_MS)


def set_up_tiny_run(app: AppDriver) -> None:
    """Choose the tiny zoo model, the most epochs, 10,000 images and our run name; each change reruns.

    Each change sets its widget from wherever it is (the driver makes a change again if the app
    dropped it; see ``AppDriver.change_widget``).
    """
    zoo_model = app.main.get_by_role("combobox", name="Zoo model")

    def choose_tiny() -> None:  # the preset's defaults replace the training settings
        zoo_model.click()
        app.page.get_by_role("option", name=re.compile(r"^tiny:")).click()

    app.change_widget(choose_tiny)
    expect(zoo_model).to_have_value(re.compile(r"^tiny:"))

    def keys_on(slider: Locator, *keys: str) -> Callable[[], None]:
        def change() -> None:
            slider.focus()
            for key in keys:
                app.page.keyboard.press(key)
        return change

    # The first key of each goes back to the value the app has (no change, so no run), in case a
    # dropped change left another value shown; the second makes the change.
    epochs = app.main.get_by_role("slider", name="Epochs")
    app.change_widget(keys_on(epochs, "Home", "End"))  # from the preset's 1 to the most
    expect(epochs).to_have_value(str(MAX_EPOCHS))

    images = app.main.get_by_role("slider", name="Training images")
    app.change_widget(keys_on(images, "End", "Home"))  # from all images (the default) to the fewest
    app.change_widget(keys_on(images, "Home", "ArrowRight"))  # then the next subset
    expect(images).to_have_attribute("aria-valuetext", TRAINING_IMAGES)

    run_name = app.main.get_by_label("Run name")

    def name_the_run() -> None:
        run_name.fill(RUN_NAME)
        expect(run_name).to_have_value(RUN_NAME)
        run_name.press("Enter")

    app.change_widget(name_the_run)
    expect(run_name).to_have_value(RUN_NAME)


def test_a_tiny_run_trains_live_keeps_the_app_usable_and_stops(app: AppDriver, app_server: AppServer) -> None:
    app.open("train")
    set_up_tiny_run(app)
    app.main.get_by_role("button", name="Start training").click()
    status = app.main.get_by_test_id("stAlert").filter(has_text="You are training")
    expect(status).to_contain_text(RUN_NAME)

    wait_for_live_chart_points(app, 1)
    app.screenshot("train/1-first-epoch", whole_page=True)
    plotted = live_chart_points(app)

    # Meanwhile the app answers: draw a digit on the Draw page, then come back to the run.
    app.navigate("Draw")
    app.draw(stroke_points_on_canvas(digit_styles(1)[0], 280, scale=0.6))
    expect(app.prediction()).to_have_text("1")
    app.navigate("Train")
    expect(status).to_contain_text(RUN_NAME)
    wait_for_live_chart_points(app, max(2, plotted + 1))
    app.screenshot("train/2-live", whole_page=True)

    app.main.get_by_role("button", name="Stop", exact=True).click()
    result = app.main.get_by_test_id("stAlertContentSuccess").filter(has_text=f"Run {RUN_NAME} stopped after")
    expect(result).to_be_visible(timeout=TRAINING_TIMEOUT_MS)
    epochs_done = int(re.search(r"stopped after (\d+) epochs", result.inner_text()).group(1))
    assert 2 <= epochs_done < MAX_EPOCHS, result.inner_text()

    past_runs = app.main.get_by_test_id("stMultiSelect").filter(has_text="Runs to compare")
    expect(past_runs).to_contain_text(RUN_NAME)
    expect(past_runs).to_contain_text("stopped")
    app.wait_until_idle()
    expect(app.exceptions()).to_have_count(0)
    app.screenshot("train/3-stopped", whole_page=True)

    # The run directory says the same: one run, stopped, with the epochs the page showed.
    (run,) = runs.list_runs(app_server.runs_dir)
    assert (run.name, run.status, run.epochs_done) == (RUN_NAME, "stopped", epochs_done)
