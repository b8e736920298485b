"""The running app under load, in a real browser: one server, one Chromium, several sessions.

With a training running (started on the Train page), five sessions draw a digit with the mouse at the
same time and all get their prediction; a second training request is refused; bad uploads get an
error each; XSRF protection is on. The server is started once for the module and always stopped.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from digit_core.data.synthetic import digit_styles, stroke_points_on_canvas
from tests.app_server import AppServer as Server, running_app

playwright_api = pytest.importorskip("playwright.sync_api")
PlaywrightTimeout = playwright_api.TimeoutError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_FILES = ("app.py", "app_state.py", "pages/draw.py", "pages/train.py", "digit_core/training/jobs.py")
SERVER_START_S = 120
PAGE_TIMEOUT_MS = 180_000  # a page's first run imports TensorFlow on a machine that is also training
SESSIONS = 5
DIGITS = (0, 2, 3, 6, 8)  # drawn in one stroke each, so one mouse-up asks for one prediction
DRAW, TRAIN = "/draw", "/train"

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Iterator[Server]:
    """``streamlit run app.py`` on a free loopback port, with the tiny model and empty runs."""
    missing = [name for name in APP_FILES if not (PROJECT_ROOT / name).is_file()]
    if missing:
        pytest.skip(f"the app is not written yet: {', '.join(missing)} missing")
    root = tmp_path_factory.mktemp("server")
    shutil.copytree(tiny_models_dir, root / "models")
    (root / "runs").mkdir()
    log = root / "server.log"
    with running_app(root / "models", root / "runs", log, SERVER_START_S) as running:
        yield running
    ours = [block for block in log.read_text().split("Traceback (most recent call last):")[1:]
            if _mentions_project_code(block)]
    assert not ours, "the app raised:\n" + "\n".join(ours)


def _mentions_project_code(traceback: str) -> bool:
    """True when a traceback passes through the project's own files (not only Streamlit's or Starlette's)."""
    return any(str(PROJECT_ROOT) in line and "/.venv/" not in line for line in traceback.splitlines()
               if line.strip().startswith("File "))


def _open(browser, url: str):
    """A page in a fresh context: a separate browser session with its own cookies."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    page.goto(url)
    return page


def _main(page):
    return page.get_by_test_id("stMain")


def _page_found(page) -> bool:
    return page.get_by_text("Page not found").count() == 0


def _alerts(page) -> list[str]:
    return _main(page).get_by_test_id("stAlert").all_inner_texts()


def test_xsrf_protection_is_on(server: Server, browser) -> None:
    page = _open(browser, server.url + DRAW)
    page.get_by_text("Draw a digit", exact=True).wait_for()
    assert "_streamlit_xsrf" in {cookie["name"] for cookie in page.context.cookies()}
    page.context.close()
    # An upload without the token (a forged cross-site request) is refused before anything is stored.
    forged = urllib.request.Request(f"{server.url}/_stcore/upload_file/some-session/some-file", data=b"x",
                                    method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    assert refused.value.code == 403
    assert "XSRF" in refused.value.read().decode()


def test_bad_uploads_in_the_browser_get_an_error_each_and_the_good_one_a_prediction(
        server: Server, browser, bad_input_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "document.png").write_bytes((bad_input_dir / "document.pdf").read_bytes())
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(6 * 1024 * 1024))
    files = [bad_input_dir / "good.png", bad_input_dir / "notes.png", bad_input_dir / "bomb.png",
             tmp_path / "document.png", bad_input_dir / "white.png", tmp_path / "huge.png"]
    page = _open(browser, server.url + DRAW)
    page.get_by_text("The canvas is empty").wait_for()  # the model is loaded and both tabs are drawn
    page.get_by_role("tab", name="Upload").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(path) for path in files])
    main = _main(page)
    main.get_by_role("heading", name="white.png").wait_for()
    main.get_by_test_id("stMetric").filter(has_text="Prediction").wait_for()
    errors = main.get_by_test_id("stAlertContentError").all_inner_texts()
    for name in ("notes.png", "bomb.png", "document.png"):
        assert sum(name in error for error in errors) == 1, (name, errors)
    assert any("bomb.png has too many pixels" in error for error in errors)
    assert any("No digit found" in info for info in main.get_by_test_id("stAlertContentInfo").all_inner_texts())
    # Streamlit itself refuses the file over server.maxUploadSize; it never reaches the page.
    page.get_by_text("huge.png").first.wait_for()
    assert main.get_by_role("heading", name="huge.png").count() == 0
    assert "Traceback" not in main.inner_text() and _page_found(page)
    page.context.close()


def _draw(pages_and_boxes: list[tuple], strokes_per_page: list[list]) -> list[float]:
    """Draw each page's stroke with the mouse, all pages in turn point by point; the mouse-up times."""
    for (page, box), strokes in zip(pages_and_boxes, strokes_per_page):
        page.mouse.move(box["x"] + strokes[0][0][0], box["y"] + strokes[0][0][1])
        page.mouse.down()
    longest = max(len(strokes[0]) for strokes in strokes_per_page)
    for step in range(1, longest + 3, 4):  # every 4th point: smooth enough, and light on a busy machine
        for (page, box), strokes in zip(pages_and_boxes, strokes_per_page):
            x, y = strokes[0][min(step, len(strokes[0]) - 1)]
            page.mouse.move(box["x"] + x, box["y"] + y)
    released = []
    for page, _ in pages_and_boxes:
        page.mouse.up()
        released.append(time.perf_counter())
    return released


def _wait_for_predictions(pages: list, released: list[float], timeout_s: float) -> list[float]:
    """Seconds from each mouse-up to that page's Prediction metric."""
    waits: list[float | None] = [None] * len(pages)
    deadline = time.monotonic() + timeout_s
    while None in waits and time.monotonic() < deadline:
        for index, page in enumerate(pages):
            if waits[index] is None and _main(page).get_by_test_id("stMetric").filter(has_text="Prediction").count():
                waits[index] = time.perf_counter() - released[index]
        time.sleep(0.05)
    missing = [index for index, wait in enumerate(waits) if wait is None]
    assert not missing, f"sessions {missing} got no prediction in {timeout_s} s: {[_alerts(pages[i]) for i in missing]}"
    return waits


def _start_a_long_tiny_run(page) -> None:
    """Pick the tiny zoo model and the most epochs on the Train page, then press Start."""
    main = _main(page)
    main.get_by_test_id("stSelectbox").filter(has_text="Zoo model").click()
    page.get_by_role("option").filter(has_text="tiny:").click()
    epochs = main.get_by_test_id("stSlider").filter(has_text="Epochs")
    # The tiny preset's own default (1 epoch) shows once the page has rerun with it.
    epochs.get_by_test_id("stSliderThumbValue").filter(has_text=re.compile(r"^1$")).wait_for()
    for _ in range(5):  # a key press that lands during a rerun can be lost: press until it shows
        epochs.get_by_role("slider").press("End")
        try:
            epochs.get_by_test_id("stSliderThumbValue").filter(has_text="50").wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    main.get_by_role("button", name="Start training").click()


def _draw_and_time(drawers: list, digits: tuple[int, ...]) -> list[float]:
    """Every session draws its digit at the same time; seconds from each mouse-up to its Prediction."""
    for page in drawers:
        page.get_by_text("The canvas is empty").wait_for()
    boxes = [page.locator("canvas.upper-canvas").bounding_box() for page in drawers]
    strokes = [stroke_points_on_canvas(digit_styles(digit)[0], 280) for digit in digits]
    released = _draw(list(zip(drawers, boxes)), strokes)
    waits = _wait_for_predictions(drawers, released, timeout_s=PAGE_TIMEOUT_MS / 1000)
    readings = [_main(page).get_by_test_id("stMetric").filter(has_text="Prediction").inner_text()
                for page in drawers]
    assert all(reading.split()[-1].isdigit() for reading in readings), readings
    assert all(_page_found(page) for page in drawers)
    return waits


def _describe(waits: list[float]) -> str:
    return (f"median {statistics.median(waits):.2f} s, max {max(waits):.2f} s "
            f"({', '.join(f'{wait:.2f}' for wait in waits)})")


def test_five_sessions_draw_while_a_training_runs_and_a_second_training_is_refused(server: Server,
                                                                                   browser) -> None:
    started = time.perf_counter()
    phase = lambda name: print(f"[{time.perf_counter() - started:6.1f} s] {name}")  # noqa: E731
    trainer = _open(browser, server.url + TRAIN)
    latecomer = _open(browser, server.url + TRAIN)  # opened before the run starts: its button stays live
    drawers = [_open(browser, server.url + DRAW) for _ in range(SESSIONS)]
    for page in (trainer, latecomer):
        page.get_by_role("button", name="Start training").wait_for()
    # The first drawing of a session also draws its first chart; the second one shows the steady state.
    for label, digits in (("first drawing", DIGITS), ("idle", DIGITS[::-1])):
        phase(f"{label}: mouse-up to Prediction, {SESSIONS} sessions at once: "
              f"{_describe(_draw_and_time(drawers, digits))}")
        for page in drawers:
            _main(page).get_by_role("button", name="Clear").click()

    # The tiny network for 50 epochs: a run that lasts, without starving a small shared test machine.
    _start_a_long_tiny_run(trainer)
    _main(trainer).get_by_text("You are training tiny").wait_for()
    phase("training started")
    busy = _draw_and_time(drawers, DIGITS)
    phase(f"training: mouse-up to Prediction, {SESSIONS} sessions at once: {_describe(busy)}")
    trainer_says = " ".join(_alerts(trainer))  # the run went on the whole time, and still does
    assert "You are training tiny" in trainer_says and "failed" not in trainer_says, trainer_says

    # A second request (from a page that still shows the Start button) does not start a second run:
    # the page turns to watching the run in progress, naming its owner, and its Start button is disabled.
    latecomer.get_by_role("button", name="Start training").click()
    _main(latecomer).get_by_text("is training tiny").wait_for()
    assert "You are training" not in " ".join(_alerts(latecomer))
    _main(latecomer).get_by_text("New run").click()  # the settings fold away while a run is in progress
    assert latecomer.get_by_role("button", name="Start training").is_disabled()
    assert len([path for path in server.runs_dir.iterdir() if path.is_dir()]) == 1
    phase("second request refused")

    _main(trainer).get_by_role("button", name="Stop").click()
    _main(trainer).get_by_text(re.compile("stopping at the next batch|stopped after")).first.wait_for()
    phase("stop requested")
    for page in [trainer, latecomer, *drawers]:
        page.context.close()
