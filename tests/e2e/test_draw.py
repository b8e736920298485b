"""The Draw page in a real browser: digits drawn with the mouse are read right, Clear empties the canvas,
a number drawn on the wide canvas of Number mode is read digit by digit, and uploads of a good and a
corrupt image are read and refused one by one without breaking the page."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from digit_core.data.synthetic import digit_styles, render_strokes, stroke_points_on_canvas
from tests.e2e.driver import AppDriver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CANVAS_SIDE = 280  # pages/draw.py draws a square canvas of this many CSS pixels
DRAW_PAGE = "draw"
EMPTY_HINT = "The canvas is empty"


@dataclass(frozen=True)
class Drawing:
    """A digit written in one of its stroke styles, at a size and place on the canvas."""

    digit: int
    style: int  # index into digit_styles(digit)
    scale: float  # the digit's height as a fraction of the canvas
    center: tuple[float, float]  # (x, y) as fractions of the canvas

    def strokes(self) -> list[np.ndarray]:
        return stroke_points_on_canvas(digit_styles(self.digit)[self.style], CANVAS_SIDE, scale=self.scale,
                                       center=self.center)


DRAWINGS = {
    "zero-large-centred": Drawing(0, style=0, scale=0.75, center=(0.5, 0.5)),
    "one-tall-right": Drawing(1, style=0, scale=0.6, center=(0.62, 0.55)),
    "four-two-strokes-lower-right": Drawing(4, style=0, scale=0.55, center=(0.62, 0.6)),
    "four-small-lower-left": Drawing(4, style=1, scale=0.4, center=(0.3, 0.68)),
    "seven-crossed-two-strokes": Drawing(7, style=1, scale=0.5, center=(0.45, 0.62)),
    "seven-small-upper-right": Drawing(7, style=0, scale=0.35, center=(0.7, 0.3)),
}


def open_empty_canvas(app: AppDriver) -> None:
    app.open(DRAW_PAGE)
    expect(app.main.get_by_text(EMPTY_HINT)).to_be_visible()
    expect(app.metric("Prediction")).to_have_count(0)


def clear_canvas(app: AppDriver) -> None:
    app.main.get_by_role("button", name="Clear", exact=True).click()
    expect(app.main.get_by_text(EMPTY_HINT)).to_be_visible()
    expect(app.metric("Prediction")).to_have_count(0)
    app.wait_until_idle()


@pytest.mark.parametrize("name", DRAWINGS)
def test_a_digit_drawn_with_the_mouse_is_read_and_clear_empties_the_canvas(app: AppDriver, name: str) -> None:
    drawing = DRAWINGS[name]
    open_empty_canvas(app)

    app.draw(drawing.strokes())
    expect(app.prediction()).to_have_text(str(drawing.digit))
    app.screenshot(f"draw/{name}")
    expect(app.exceptions()).to_have_count(0)

    clear_canvas(app)


def test_after_clear_the_next_drawing_starts_from_an_empty_canvas(app: AppDriver) -> None:
    open_empty_canvas(app)
    app.draw(Drawing(0, style=1, scale=0.4, center=(0.7, 0.32)).strokes())
    expect(app.prediction()).to_have_text("0")
    clear_canvas(app)

    # Left over on the canvas, the 0 would turn this small 1 into something else.
    app.draw(Drawing(1, style=0, scale=0.4, center=(0.3, 0.32)).strokes())
    expect(app.prediction()).to_have_text("1")


def test_a_number_drawn_on_the_wide_canvas_is_read_digit_by_digit(app: AppDriver) -> None:
    open_empty_canvas(app)
    app.change_widget(lambda: app.main.get_by_text("A number", exact=True).click())
    expect(app.main.get_by_text("The canvas is empty: draw a number on it.")).to_be_visible()
    assert round(app.canvas().bounding_box()["width"]) == 700
    # A 4 in two strokes and a 2 beside it, each 170 px tall, as (x0, y0, side) boxes on the canvas.
    app.draw([*stroke_points_on_canvas(digit_styles(4)[0], box=(150, 50, 170)),
              *stroke_points_on_canvas(digit_styles(2)[0], box=(380, 50, 170))])
    expect(app.prediction()).to_have_text("42")
    app.screenshot("draw/number-42")
    expect(app.exceptions()).to_have_count(0)


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_good_and_a_corrupt_upload_are_read_and_refused_and_the_page_keeps_working(app: AppDriver) -> None:
    good = _png(render_strokes(digit_styles(4)[1], scale=0.6, stroke_width=18)[..., :3])  # RGB, white paper
    corrupt = good[: len(good) // 2]  # a PNG cut off half-way, as an interrupted download leaves it
    app.open(DRAW_PAGE)
    app.main.get_by_role("tab", name="Upload").click()
    app.main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([
        {"name": "four.png", "mimeType": "image/png", "buffer": good},
        {"name": "corrupt.png", "mimeType": "image/png", "buffer": corrupt},
    ])

    # Each file gets its own bordered box, headed by its name.
    four_box = app.main.get_by_test_id("stVerticalBlock").filter(
        has=app.page.get_by_role("heading", name="four.png")).last
    corrupt_box = app.main.get_by_test_id("stVerticalBlock").filter(
        has=app.page.get_by_role("heading", name="corrupt.png")).last
    expect(app.prediction(four_box)).to_have_text("4")
    expect(app.error_alerts(corrupt_box)).to_contain_text("corrupt.png")
    expect(app.metric("Prediction", corrupt_box)).to_have_count(0)
    app.wait_until_idle()
    expect(app.exceptions()).to_have_count(0)
    expect(app.error_alerts()).to_have_count(1)
    app.screenshot("upload/good-and-corrupt", whole_page=True)

    # The page still works: a digit drawn now is read, and the uploads' readings stay.
    app.main.get_by_role("tab", name="Draw").click()
    app.draw(Drawing(7, style=0, scale=0.6, center=(0.5, 0.5)).strokes())
    expect(app.prediction()).to_have_text("7")
    app.main.get_by_role("tab", name="Upload").click()
    expect(app.prediction(four_box)).to_have_text("4")
    expect(app.exceptions()).to_have_count(0)


def test_a_drawing_labelled_right_with_a_double_click_is_stored_once(app: AppDriver, app_server) -> None:
    from digit_core.store.collection import Collection

    open_empty_canvas(app)
    name = app.main.get_by_label("Your name (saved with the drawings you label)")

    def type_name() -> None:
        name.fill("Ada e2e")
        name.press("Enter")

    app.change_widget(type_name)
    app.draw(DRAWINGS["seven-crossed-two-strokes"].strokes())
    expect(app.prediction()).to_have_text("7")
    app.main.get_by_role("button", name="Right", exact=True).dblclick()
    expect(app.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("as a 7 (drawing #")
    app.wait_until_idle()
    expect(app.exceptions()).to_have_count(0)

    collection = Collection.open(f"sqlite:///{app_server.runs_dir.parent / 'collection.db'}")
    try:
        (stored,) = [drawing for drawing in collection.drawings() if drawing.who == "Ada e2e"]
        png = collection.image_png(stored.id)
    finally:
        collection.close()
    assert (stored.label, stored.predicted, stored.model_id) == (7, 7, "default")
    drawn = np.asarray(Image.open(io.BytesIO(png)))
    assert drawn.shape == (CANVAS_SIDE, CANVAS_SIDE, 4) and drawn[..., 3].any()  # the canvas as drawn
