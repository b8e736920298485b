"""A small page object for Digit Studio in a real browser: open and navigate, wait, draw, read.

Every wait is on the page's state: Streamlit marks its root element with ``data-test-script-state``
("running" while a script run is in progress, "notRunning" when it is done), so "the app has finished
answering" is a condition to wait for, not a number of seconds.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

# The first run of a page may import TensorFlow and load a model on a busy 2-core machine.
PAGE_TIMEOUT_MS = 180_000
# A widget change starts its run within a second or two; one that starts none in this long was lost.
RERUN_PATIENCE_MS = 30_000
# How long a fresh canvas may take to switch to drawing mode after it appears.
CANVAS_READY_TIMEOUT_S = 30
# Screenshots: the tallest picture taken, and how long to wait for the charts on it to be drawn.
MAX_SCREENSHOT_HEIGHT = 8000
CHARTS_TIMEOUT_MS = 10_000

_SCRIPT_IDLE = "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
# Sets window.__e2eRunFinished once the next script run has started and finished. Installed just before
# an action that triggers a run (a widget change, a mouse-up on the canvas), so it cannot see an older run.
# It also logs each state change with its time since the watch began, for the message when no run comes.
_WATCH_NEXT_RUN = """() => {
    window.__e2eRunFinished = false;
    const app = document.querySelector('[data-testid="stApp"]');
    const began = performance.now();
    window.__e2eRunLog = [`watching from ${app.dataset.testScriptState}`];
    let started = false;
    const observer = new MutationObserver(() => {
        const state = app.dataset.testScriptState;
        window.__e2eRunLog.push(`${Math.round(performance.now() - began)} ms: ${state}`);
        if (state !== 'notRunning') {
            started = true;
        } else if (started) {
            observer.disconnect();
            window.__e2eRunFinished = true;
        }
    });
    observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
_RUN_FINISHED = "() => window.__e2eRunFinished === true"
# What the canvases look like when one never takes the pen, for the failure message. The component
# draws inside a shadow root, which querySelectorAll does not enter by itself.
_CANVASES = """() => {
    const found = [];
    const visit = root => root.querySelectorAll('*').forEach(element => {
        if (element.matches('canvas.upper-canvas')) found.push(element);
        if (element.shadowRoot) visit(element.shadowRoot);
    });
    visit(document);
    return found.map(canvas => ({connected: canvas.isConnected, shown: canvas.offsetParent !== null,
        cursor: canvas.style.cursor, size: `${canvas.width}x${canvas.height}`,
        toolbar: canvas.closest('.dc-root')?.querySelector('.dc-toolbar')?.style.display ?? null}));
}"""
_CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .every(chart => chart.querySelector('.main-svg') !== null)"""


class RerunNeverAsked(AssertionError):
    """An action that should rerun the script left the page idle: no run began at all."""


class AppDriver:
    """One browser tab on the app, with the few actions and readings the tests need."""

    def __init__(self, page: Page, base_url: str, artifacts_dir: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.artifacts_dir = artifacts_dir

    # Navigation and waiting.

    @property
    def main(self) -> Locator:
        """The page's main area (the header's own "Stop" button and the sidebar are outside it)."""
        return self.page.get_by_test_id("stMain")

    def title(self) -> Locator:
        return self.main.get_by_role("heading", level=1)

    def open(self, url_path: str = "") -> None:
        """Load a page by its URL (a new Streamlit session) and wait until its script has run."""
        self.page.goto(f"{self.base_url}/{url_path}")
        expect(self.title()).to_be_visible()
        self.wait_until_idle()

    def navigate(self, label: str) -> None:
        """Click a page in the sidebar navigation (same session) and wait until it has run."""
        previous_title = self.title().inner_text()
        self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=label, exact=True).click()
        expect(self.title()).not_to_have_text(previous_title)
        self.wait_until_idle()

    def wait_until_idle(self, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
        """Wait until no script run is in progress."""
        self.page.wait_for_function(_SCRIPT_IDLE, timeout=timeout_ms)

    @contextmanager
    def expect_rerun(self, timeout_ms: float = PAGE_TIMEOUT_MS) -> Iterator[None]:
        """Around an action that reruns the script (a widget change): wait until that run has finished.

        Waiting for "idle" right after the action could see the moment before the run starts. The
        action waits for any run still in progress: a run's end re-renders the widgets (a half-typed
        value can be lost), and a rerun asked for during a run restarts that run without ever
        showing "not running" in between, so the watch would never see its own run begin.
        """
        self.wait_until_idle(timeout_ms)
        self.page.evaluate(_WATCH_NEXT_RUN)
        yield
        try:
            self.page.wait_for_function(_RUN_FINISHED, timeout=timeout_ms)
        except PlaywrightTimeoutError:
            log = self.page.evaluate("() => window.__e2eRunLog")
            # The log opens with the state at the start; nothing after it means no run ever began.
            error = RerunNeverAsked if len(log) == 1 else AssertionError
            raise error(f"No script run started and finished within {timeout_ms / 1000:.0f} s of the "
                        f"action; script states since: {log}") from None

    def change_widget(self, change: Callable[[], None], attempts: int = 3) -> None:
        """Make a widget change and wait for its rerun; make it again if the app never asked for one.

        Streamlit's frontend can drop a change made just as a run ends: in CI a slider moved by the
        keyboard showed its new value, yet no run began in 180 s. ``change`` must set the widget's
        final value from wherever it is (e.g. Home, then End), so making it again is harmless. Only
        a change that started no run at all is made again; a run that starts and stalls fails.
        """
        for attempt in range(1, attempts + 1):
            try:
                with self.expect_rerun(RERUN_PATIENCE_MS if attempt < attempts else PAGE_TIMEOUT_MS):
                    change()
                return
            except RerunNeverAsked as error:
                if attempt == attempts:
                    raise
                # Said in the test report's warnings, so a retry is seen, not hidden.
                warnings.warn(f"A widget change was made again (attempt {attempt + 1}): {error}", stacklevel=2)

    def navigation_labels(self) -> list[str]:
        """The page names in the sidebar navigation, in order (without their icons)."""
        links = self.page.get_by_test_id("stSidebarNav").get_by_test_id("stSidebarNavLink")
        return [label.strip() for label in links.get_by_test_id("stMarkdownContainer").all_inner_texts()]

    # Readings.

    def exceptions(self) -> Locator:
        """Tracebacks shown by Streamlit: a page must never show one."""
        return self.page.get_by_test_id("stException")

    def error_alerts(self, within: Locator | None = None) -> Locator:
        """``st.error`` boxes (info, success and warning boxes are other test ids)."""
        return (within or self.main).get_by_test_id("stAlertContentError")

    def metric(self, label: str, within: Locator | None = None) -> Locator:
        """The visible ``st.metric`` whose label is exactly ``label`` (hidden tabs are left out)."""
        exact_label = self.page.get_by_test_id("stMetricLabel").filter(
            has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
        return (within or self.main).get_by_test_id("stMetric").filter(visible=True).filter(has=exact_label)

    def prediction(self, within: Locator | None = None) -> Locator:
        """The value of the visible "Prediction" metric: the digit the model read."""
        return self.metric("Prediction", within).get_by_test_id("stMetricValue")

    # The drawing canvas.

    def canvas(self) -> Locator:
        """The canvas that takes the pen (fabric.js draws on its 'upper' canvas)."""
        return self.main.locator("canvas.upper-canvas").filter(visible=True)

    def wait_until_canvas_draws(self) -> None:
        """Hover the pen over the canvas until it shows the drawing cursor.

        A fresh canvas appears before it is ready: it first loads its (empty) initial drawing, and a
        stroke drawn before that is wiped. Once ready, fabric.js shows a crosshair on hover.
        """
        canvas = self.canvas()
        expect(canvas).to_be_visible()
        deadline = time.monotonic() + CANVAS_READY_TIMEOUT_S
        wiggle = 0
        while canvas.evaluate("element => element.style.cursor") != "crosshair":
            if time.monotonic() > deadline:
                raise AssertionError(f"The canvas did not switch to drawing mode in {CANVAS_READY_TIMEOUT_S} s. "
                                     f"Canvases on the page: {self.page.evaluate(_CANVASES)}")
            # Where the canvas is now (the page may still be laying out around it), in its middle:
            # another element of the page can cover its corners.
            box = canvas.bounding_box()
            if box is not None:
                wiggle = 1 - wiggle
                self.page.mouse.move(box["x"] + box["width"] / 2 + wiggle, box["y"] + box["height"] / 2)
            self.page.wait_for_timeout(50)  # a hover, then look again

    def draw(self, strokes: list[np.ndarray], expect_reruns: bool = True) -> None:
        """Draw strokes given in canvas pixels, (n, 2) arrays of (x, y), with the mouse.

        After each stroke, wait until the app has read the drawing (its run after the mouse-up has
        finished), as a person lifting the pen would see the reading update. With ``expect_reruns``
        off, a stroke that asks for no run (a pen dot the canvas drops) is no error: the canvas's
        200 ms debounce and any run are waited out instead.
        """
        self.wait_until_canvas_draws()
        box = self.canvas().bounding_box()
        for stroke in strokes:
            points = stroke + (box["x"], box["y"])
            self.page.mouse.move(float(points[0][0]), float(points[0][1]))
            self.page.mouse.down()
            for x, y in points[1:]:
                self.page.mouse.move(float(x), float(y), steps=1)
            if expect_reruns:
                with self.expect_rerun():
                    self.page.mouse.up()
            else:
                self.page.mouse.up()
                self.page.wait_for_timeout(400)
                self.wait_until_idle()

    def clear_canvas(self) -> None:
        """Press Clear and wait until the old canvas has left the page and no reading is shown.

        Clear gives the canvas a new key: a stroke drawn before the old one has gone could land on
        it and be wiped with it.
        """
        old_canvas = self.canvas().element_handle()
        self.main.get_by_role("button", name="Clear", exact=True).click()
        self.page.wait_for_function("canvas => !canvas.isConnected", arg=old_canvas)
        expect(self.metric("Prediction")).to_have_count(0)
        self.wait_until_idle()

    # Artefacts.

    def screenshot(self, name: str, whole_page: bool = False) -> Path:
        """Save the window (or the whole page) as ``<artifacts>/<name>.png`` for a person to look at.

        Streamlit scrolls inside its main area, so a "full page" screenshot would stop at the window's
        bottom: for the whole page the window is made as tall as the content, then put back.
        """
        path = self.artifacts_dir / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        viewport = self.page.viewport_size
        if whole_page:
            content_height = self.page.evaluate(
                "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0")
            height = min(max(viewport["height"], content_height), MAX_SCREENSHOT_HEIGHT)
            self.page.set_viewport_size({"width": viewport["width"], "height": height})
        try:
            self.page.wait_for_function(_CHARTS_DRAWN, timeout=CHARTS_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            pass  # a picture with a blank chart is still worth having
        self.page.screenshot(path=path)
        if whole_page:
            self.page.set_viewport_size(viewport)
        return path
