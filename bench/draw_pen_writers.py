"""Real pen drawings drawn with the mouse on the Draw page, in a real browser (Debian's Chromium).

    python bench/draw_pen_writers.py [--model PATH] [--drawings 100] [--seed 0]

Starts the app (``streamlit run app.py`` on a free port) with one model, the shipped
``models/default.keras`` unless ``--model`` names another ``.keras`` file, opens the Draw page in
headless Chromium and, for each drawing, clears the canvas and replays with the mouse the pen strokes
of a digit written by one of pendigits' held-out writers (25-30, never trained on): ten of each digit,
chosen at random, each at a random size and place on the canvas, with the page's default brush. Then it
reads the "Prediction" metric. Prints every misreading and the count read right.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the project on the import path)

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CANVAS_SIDE = 280
# Longer than any answer takes, even on a loaded machine.
ANSWER_TIMEOUT_MS = 20_000


def chosen_drawings(count: int, seed: int) -> list[tuple[int, list[np.ndarray]]]:
    """(label, strokes in canvas pixels) of ``count`` held-out pen digits, the same number of each digit."""
    from digit_core import data
    from digit_core.data import writers
    from digit_core.data.pendigits import strokes_in_unit_box
    from digit_core.data.synthetic import stroke_points_on_canvas

    rng = np.random.default_rng(seed)
    _, held_out = writers.split_pen_writers(data.load_pendigits())
    per_digit = max(1, count // 10)
    drawings = []
    for label in range(10):
        candidates = [digit for digit in held_out if digit.label == label]
        for digit in rng.choice(len(candidates), size=per_digit, replace=False):
            scale = rng.uniform(0.45, 0.85)
            room = (1 - scale) / 2
            centre = tuple(0.5 + rng.uniform(-room, room, 2))
            drawings.append((label, stroke_points_on_canvas(strokes_in_unit_box(candidates[digit].strokes),
                                                            CANVAS_SIDE, scale=scale, center=centre)))
    order = rng.permutation(len(drawings))
    return [drawings[index] for index in order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "default.keras")
    parser.add_argument("--drawings", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from playwright.sync_api import expect, sync_playwright

    from tests.app_server import CHROMIUM, CHROMIUM_ARGS, running_app
    from tests.e2e.driver import AppDriver

    drawings = chosen_drawings(args.drawings, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="draw-pen-writers-"))
    models_dir, runs_dir = workdir / "models", workdir / "runs"
    models_dir.mkdir()
    runs_dir.mkdir()
    for suffix in (".keras", ".json", ".onnx"):
        if args.model.with_suffix(suffix).is_file():
            shutil.copyfile(args.model.with_suffix(suffix), models_dir / f"default{suffix}")

    right, wrong, retries = 0, [], 0
    with running_app(models_dir, runs_dir, workdir / "app.log") as app, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        driver = AppDriver(page, app.url, workdir)
        driver.open("")
        expect(driver.main.get_by_text("The canvas is empty")).to_be_visible()
        for index, (label, strokes) in enumerate(drawings):
            if index > 0:
                driver.clear_canvas()
            driver.draw(strokes, expect_reruns=False)
            if driver.main.get_by_text("The canvas is empty").count():
                # The strokes landed before the fresh canvas was ready and were wiped (the browser
                # harness, not the model): draw them once more, as a person would.
                retries += 1
                driver.draw(strokes, expect_reruns=False)
            try:
                expect(driver.prediction()).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
                shown = driver.prediction().inner_text().strip()
            except AssertionError:  # no Prediction: say what the page shows instead
                shown = "none (" + " | ".join(driver.main.get_by_test_id("stAlert").all_inner_texts()) + ")"
            if shown == str(label):
                right += 1
            else:
                wrong.append((index, label, shown))
                print(f"drawing {index + 1}: a {label} in {len(strokes)} strokes read as {shown}", flush=True)
        browser.close()
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"{right} of {len(drawings)} held-out pen drawings read right on the Draw page "
          f"(model {args.model}, seed {args.seed}; {retries} drawn again after the canvas lost them)")


if __name__ == "__main__":
    main()
