"""Draw page: draw a digit or a number, or upload photos of them, and see what the model reads."""

import numpy as np
import streamlit as st

import app_state
import app_timing
from app_charts import (drawing_downloads, load_predictor, offer_number_mode, pick_model, show_number,
                        show_prediction, why_this_answer)
from app_collection import label_buttons, name_field
from digit_core.images.imageio import ACCEPTED_EXTENSIONS, ACCEPTED_NAMES, ImageDecodeError, decode_image
from digit_core.inference.number import count_digits, read_number
from digit_core.inference.predict import Prediction, Predictor

CANVAS_SIDE = 280
NUMBER_CANVAS_WIDTH = 700  # a number's canvas: room for a few digits side by side


def show_reading(model: Predictor, image: np.ndarray, number_mode: bool, key: str) -> Prediction | None:
    """The number, or the digit (unless the image clearly holds several: then an offer to read a number)."""
    if number_mode:
        try:
            show_number(read_number(model, image))
        except ValueError as error:  # more digits than a number is read for
            st.error(str(error))
        return None
    digits = count_digits(image)
    app_timing.mark("digits counted")
    if digits > 1:
        offer_number_mode(digits, key=f"number-mode-{key}")
        return None
    prediction = model.predict_image(image, keep_steps=True)
    app_timing.mark("read")
    show_prediction(prediction, steps_key=f"{app_state.STEPS}-{key}")
    return prediction


@st.fragment
@app_timing.timed_run
def drawing_panel(model: Predictor | None, model_id: str | None, number_mode: bool) -> None:
    """The canvas and the model's reading of it. A stroke reruns only this panel, not the whole page."""
    canvas_column, result_column = ((st.container(), st.container()) if number_mode
                                    else st.columns([1, 1.4], gap="large"))
    with canvas_column:
        from streamlit_drawable_canvas import st_canvas  # only importable inside a running app

        app_state.seed_from_url(app_state.BRUSH_WIDTH, "brush", range(6, 41), 20)
        brush_width = st.slider("Brush width", 6, 40, key=app_state.BRUSH_WIDTH)
        app_state.to_url("brush", brush_width)
        st.space("small")  # room for the canvas's toolbar, which floats above it on hover
        version = st.session_state.setdefault(app_state.CANVAS_VERSION, 0)
        # update_streamlit sends the drawing on mouse-up, so the model reads each finished stroke.
        canvas = st_canvas(stroke_width=brush_width, stroke_color="#000000", background_color="#ffffff",
                           height=CANVAS_SIDE, width=NUMBER_CANVAS_WIDTH if number_mode else CANVAS_SIDE,
                           drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
                           key=f"canvas-{'number' if number_mode else 'digit'}-{version}")
        st.button("Clear", on_click=lambda: st.session_state.update({app_state.CANVAS_VERSION: version + 1}))
    app_timing.mark("widgets")
    with result_column:
        drawing = canvas.image_data if (canvas.json_data or {}).get("objects") else None  # (h, w, 4) RGBA
        if model is None:
            st.info("Pick a usable model above to read your drawing.")
        elif drawing is None:
            st.info(f"The canvas is empty: draw a {'number' if number_mode else 'digit'} on it.")
        else:
            app_timing.mark("canvas decoded")
            prediction = show_reading(model, drawing, number_mode, key="drawing")
            if prediction is not None:
                label_buttons(drawing, prediction, model_id, key=f"label-canvas-{version}")
                app_timing.mark("label buttons")
                drawing_downloads(drawing, prediction)
                app_timing.mark("downloads")
            if prediction is not None and prediction.found:
                why_this_answer(model_id, prediction.preprocessed.image, key=app_state.EXPLAIN_DRAWING)
                app_timing.mark("why this answer")


app_timing.mark("page")
app_state.use_app_navigation()
st.title("Draw a digit")
st.caption("Draw one digit 0–9, or a number, with the mouse or a finger; the model reads it each time you "
           "lift the pen.")
model_column, name_column = st.columns([2, 1])
with model_column:
    model_id = pick_model()
with name_column:
    name_field()
# Loaded before the canvas: loading it while the browser mounted the canvas made a fresh page take the
# pen about 0.3 s later on this 2-core machine (bench/NOTES.md).
predictor = load_predictor(model_id) if model_id else None
app_timing.mark("model loaded")
mode = st.radio("Read", app_state.DRAW_MODES, horizontal=True, key=app_state.DRAW_MODE)
number_mode = mode == app_state.NUMBER_MODE

draw_tab, upload_tab = st.tabs(["Draw", "Upload"])
with draw_tab:
    drawing_panel(predictor, model_id, number_mode)

with upload_tab:
    # One label in both modes: a widget whose label changes is a new one, and would drop the uploads.
    uploads = st.file_uploader(f"Photos or scans of digits or numbers ({ACCEPTED_NAMES}, one each)",
                               type=list(ACCEPTED_EXTENSIONS), accept_multiple_files=True,
                               max_upload_size=app_state.IMAGE_UPLOAD_MB)
    if uploads and predictor is None:
        st.info("Pick a usable model above to read your images.")
    for upload in uploads if predictor is not None else []:
        with st.container(border=True):
            st.subheader(upload.name)
            try:
                image = decode_image(upload.getvalue(), name=upload.name)
            except ImageDecodeError as error:
                st.error(f"{error} Upload a photo or scan of a single {'number' if number_mode else 'digit'} "
                         f"({ACCEPTED_NAMES}).")
                continue
            picture_column, result_column = st.columns([1, 2])
            picture_column.image(image, caption="uploaded", width=160)
            with result_column:
                prediction = show_reading(predictor, image, number_mode, key=upload.file_id)
                if prediction is not None:
                    label_buttons(image, prediction, model_id, key=f"label-{upload.file_id}")
            if prediction is not None and prediction.found:
                why_this_answer(model_id, prediction.preprocessed.image,
                                key=f"{app_state.EXPLAIN_UPLOAD}-{upload.file_id}")
