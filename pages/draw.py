"""Draw page: draw a digit, or upload photos of digits, and see what the model reads."""

import streamlit as st

import app_state
from app_charts import drawing_downloads, load_predictor, pick_model, show_prediction, why_this_answer
from app_collection import label_buttons, name_field
from digit_core.imageio import ACCEPTED_EXTENSIONS, ACCEPTED_NAMES, ImageDecodeError, decode_image
from digit_core.predict import Predictor

CANVAS_SIDE = 280


@st.fragment
def drawing_panel(model: Predictor | None, model_id: str | None) -> None:
    """The canvas and the model's reading of it. A stroke reruns only this panel, not the whole page."""
    canvas_column, result_column = st.columns([1, 1.4], gap="large")
    with canvas_column:
        from streamlit_drawable_canvas import st_canvas  # only importable inside a running app

        app_state.seed_from_url(app_state.BRUSH_WIDTH, "brush", range(6, 41), 20)
        brush_width = st.slider("Brush width", 6, 40, key=app_state.BRUSH_WIDTH)
        app_state.to_url("brush", brush_width)
        st.space("small")  # room for the canvas's toolbar, which floats above it on hover
        version = st.session_state.setdefault(app_state.CANVAS_VERSION, 0)
        # update_streamlit sends the drawing on mouse-up, so the model reads each finished stroke.
        canvas = st_canvas(stroke_width=brush_width, stroke_color="#000000", background_color="#ffffff",
                           height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode="freedraw", update_streamlit=True,
                           return_image_data=True, key=f"canvas-{version}")
        st.button("Clear", on_click=lambda: st.session_state.update({app_state.CANVAS_VERSION: version + 1}))
    with result_column:
        strokes = (canvas.json_data or {}).get("objects") or []
        if model is None:
            st.info("Pick a usable model above to read your drawing.")
        elif not strokes or canvas.image_data is None:
            st.info("The canvas is empty: draw a digit on it.")
        else:
            prediction = model.predict_image(canvas.image_data, keep_steps=True)
            show_prediction(prediction)
            label_buttons(canvas.image_data, prediction, model_id, key=f"label-canvas-{version}")
            drawing_downloads(canvas.image_data, prediction)
            if prediction.found:
                why_this_answer(model_id, prediction.preprocessed.image, key=app_state.EXPLAIN_DRAWING)


app_state.use_app_navigation()
st.title("Draw a digit")
st.caption("Draw one digit 0–9 with the mouse or a finger; the model reads it each time you lift the pen.")
model_column, name_column = st.columns([2, 1])
with model_column:
    model_id = pick_model()
with name_column:
    name_field()
predictor = load_predictor(model_id) if model_id else None

draw_tab, upload_tab = st.tabs(["Draw", "Upload"])
with draw_tab:
    drawing_panel(predictor, model_id)

with upload_tab:
    uploads = st.file_uploader(f"Photos or scans of digits ({ACCEPTED_NAMES}, one digit each)",
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
                st.error(f"{error} Upload a photo or scan of a single digit ({ACCEPTED_NAMES}).")
                continue
            picture_column, result_column = st.columns([1, 2])
            picture_column.image(image, caption="uploaded", width=160)
            with result_column:
                prediction = predictor.predict_image(image, keep_steps=True)
                show_prediction(prediction)
                label_buttons(image, prediction, model_id, key=f"label-{upload.file_id}")
            if prediction.found:
                why_this_answer(model_id, prediction.preprocessed.image,
                                key=f"{app_state.EXPLAIN_UPLOAD}-{upload.file_id}")
