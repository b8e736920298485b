"""Mouse-up to prediction on screen in the Draw page, in a real browser (Debian's Chromium).

    python bench/draw_latency.py [--model PATH] [--drawings 30]

Starts the app (``streamlit run app.py`` on a free port) with one model, the shipped
``models/default.keras`` unless ``--model`` names another ``.keras`` file, opens the Draw page in one
headless Chromium tab and, for each drawing, clears the canvas, draws a one-stroke digit with the
mouse and times the last mouse-up until the "Prediction" metric is on screen. Prints every reading,
then the median and p95 (the first drawing, which warms the page up, is left out of both).

Both ends are timed inside the page: the mouse-up by a listener on the window, the answer by the
first animation frame after the metric enters the page. Timing from Python instead would add
Playwright's polling, which checks for an element at widening intervals (the last ones 500 ms
apart) and so reported a third of the answers about 450 ms late.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from common import percentile

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Longer than any answer takes, even on a loaded machine.
ANSWER_TIMEOUT_MS = 20_000
# Installed just before the timed mouse-up: window.__upAt is when the page sees the mouse-up,
# window.__shownAt the first frame painted after a visible "Prediction" metric enters the page.
_TIME_THE_ANSWER = """() => {
    window.__upAt = null;
    window.__shownAt = null;
    window.addEventListener('mouseup', () => { window.__upAt = performance.now(); },
                            {capture: true, once: true});
    const shown = () => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
        .some(label => label.offsetParent !== null && label.innerText.trim() === 'Prediction');
    const observer = new MutationObserver(() => {
        if (shown()) {
            observer.disconnect();
            requestAnimationFrame(() => { window.__shownAt = performance.now(); });
        }
    });
    observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "default.keras")
    parser.add_argument("--drawings", type=int, default=30)
    args = parser.parse_args()

    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    from digit_core.data.synthetic import digit_styles, stroke_points_on_canvas
    from tests.app_server import CHROMIUM, CHROMIUM_ARGS, running_app
    from tests.e2e.driver import AppDriver

    # One-stroke styles only, so the metric appears exactly on the timed mouse-up: (digit, style index).
    one_stroke = [(digit, style) for digit in range(10)
                  for style, strokes in enumerate(digit_styles(digit)) if len(strokes) == 1]
    workdir = Path(tempfile.mkdtemp(prefix="draw-latency-"))
    models_dir, runs_dir = workdir / "models", workdir / "runs"
    models_dir.mkdir()
    runs_dir.mkdir()
    for suffix in (".keras", ".json", ".onnx"):  # the model, its sidecar and the export the app runs
        if args.model.with_suffix(suffix).is_file():
            shutil.copyfile(args.model.with_suffix(suffix), models_dir / f"default{suffix}")

    timings_ms, read, missed = [], [], []
    with running_app(models_dir, runs_dir, workdir / "app.log") as app, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        driver = AppDriver(page, app.url, workdir)
        driver.open("")
        for index in range(args.drawings):
            digit, style = one_stroke[index % len(one_stroke)]
            if index > 0:
                driver.clear_canvas()
            driver.wait_until_canvas_draws()
            box = driver.canvas().bounding_box()
            (stroke,) = stroke_points_on_canvas(digit_styles(digit)[style], 280, scale=0.7)
            points = stroke + (box["x"], box["y"])
            page.mouse.move(float(points[0][0]), float(points[0][1]))
            page.mouse.down()
            for x, y in points[1:]:
                page.mouse.move(float(x), float(y), steps=1)
            page.evaluate(_TIME_THE_ANSWER)
            page.mouse.up()
            try:
                page.wait_for_function("() => window.__shownAt !== null", timeout=ANSWER_TIMEOUT_MS)
            except PlaywrightTimeoutError:
                # Not a timing: the app answered something else (such as "no digit found"), or the
                # stroke was lost. Say what the page shows and go on with the next drawing.
                driver.wait_until_idle()
                missed.append((digit, style, " | ".join(driver.main.get_by_test_id("stAlert").all_inner_texts())))
                print(f"drawing {index + 1} ({digit}, style {style}): no Prediction; {missed[-1][2]}", flush=True)
                continue
            timings_ms.append(page.evaluate("() => window.__shownAt - window.__upAt"))
            read.append((digit, driver.prediction().inner_text()))
            driver.wait_until_idle()
            print(f"drawing {index + 1}: {timings_ms[-1]:.0f} ms", flush=True)
        browser.close()
    shutil.rmtree(workdir, ignore_errors=True)

    for (digit, shown), timing in zip(read, timings_ms):
        print(f"drew {digit}, read {shown}: {timing:7.1f} ms")
    if missed:
        print(f"{len(missed)} drawings showed no Prediction: {missed}")
    warm = timings_ms[1:] or timings_ms
    print(f"mouse-up → Prediction on screen, {len(warm)} drawings after the first: "
          f"median {statistics.median(warm):.0f} ms, p95 {percentile(warm, 95):.0f} ms, first {timings_ms[0]:.0f} ms")


if __name__ == "__main__":
    main()
