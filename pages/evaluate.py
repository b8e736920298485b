"""Evaluate page: how well a model reads the 10,000 MNIST test digits, and where it goes wrong."""

import numpy as np
import streamlit as st

import app_state
from app_charts import digit_images, pick_model, show_explanation
from digit_core.views import downloads, figures
from digit_core.store import registry
from digit_core.data import DataNotFoundError

GALLERY_SIZE = 30

app_state.use_app_navigation()
st.title("Evaluate a model")
st.caption("Accuracy and mistakes on the 10,000 MNIST test digits, and on USPS digits written by other people.")
model_id = pick_model()
if model_id is None:
    st.stop()
try:
    evaluation = app_state.evaluation(model_id)
    test = app_state.mnist()
except (DataNotFoundError, registry.ModelLoadError) as error:
    st.error(f"{error}")
    st.stop()

columns = st.columns(4)
columns[0].metric("Test accuracy", f"{evaluation.accuracy:.2%}")
columns[1].metric("Test loss", f"{evaluation.loss:.4f}")
columns[2].metric(f"Mistakes (of {evaluation.n:,})", f"{len(evaluation.misclassified):,}")
try:
    columns[3].metric("USPS accuracy", f"{app_state.evaluation(model_id, on='usps').accuracy:.2%}",
                      help="Accuracy on the 2,007 USPS test digits, other writers scanned another way.")
except DataNotFoundError as error:
    columns[3].warning(f"No USPS accuracy: {error}")

st.subheader("Classification report")
st.dataframe(evaluation.report_rows(), hide_index=True)
report_column, mistakes_column = st.columns(2)
report_column.download_button("Download the report (CSV)", downloads.rows_csv(evaluation.report_rows()),
                              file_name=f"classification-report-{model_id}.csv", mime="text/csv", on_click="ignore")
mistakes_column.download_button(
    f"Download the {len(evaluation.misclassified):,} misclassified digits (zip of PNGs)", on_click="ignore",
    data=lambda: downloads.mistakes_zip(test.x_test, test.y_test, evaluation.predictions, evaluation.misclassified),
    file_name=f"misclassified-{model_id}.zip", mime="application/zip", disabled=not len(evaluation.misclassified))

st.subheader("Confusion matrix")
event = st.plotly_chart(figures.confusion_figure(evaluation.confusion), on_select="rerun",
                        selection_mode="points", key="confusion")
clicked = figures.selected_cell(event.selection.points) if event else None
if clicked is not None and clicked != st.session_state.get(app_state.EVALUATE_CLICKED):
    st.session_state[app_state.EVALUATE_CLICKED] = clicked
    st.session_state[app_state.EVALUATE_TRUE], st.session_state[app_state.EVALUATE_PREDICTED] = clicked
worst_true, worst_predicted = figures.most_confused(evaluation.confusion)  # shown until a cell is clicked
app_state.seed_from_url(app_state.EVALUATE_TRUE, "true", range(10), worst_true)
app_state.seed_from_url(app_state.EVALUATE_PREDICTED, "predicted", range(10), worst_predicted)
true_column, predicted_column = st.columns(2)
true_digit = true_column.selectbox("True digit", range(10), key=app_state.EVALUATE_TRUE)
predicted_digit = predicted_column.selectbox("Predicted digit", range(10), key=app_state.EVALUATE_PREDICTED)
app_state.to_url("true", true_digit)
app_state.to_url("predicted", predicted_digit)
cell = np.flatnonzero((test.y_test == true_digit) & (evaluation.predictions == predicted_digit))
if len(cell):
    st.caption(f"{len(cell)} test images are {true_digit}s read as {predicted_digit}" + (
        f"; the first {GALLERY_SIZE}:" if len(cell) > GALLERY_SIZE else ":"))
    digit_images(test.x_test[cell[:GALLERY_SIZE]], [f"#{i} ({evaluation.confidences[i]:.0%})" for i in cell[:GALLERY_SIZE]])
    with st.expander("Why this answer"):  # nothing is computed until an image is picked
        picked = st.pills("Pick one of these test images", [int(i) for i in cell[:GALLERY_SIZE]],
                          format_func=lambda i: f"#{i}",
                          key=f"{app_state.EXPLAIN_TEST_DIGIT}-{true_digit}-{predicted_digit}")
        if picked is not None:
            show_explanation(model_id, test.x_test[picked])
else:
    st.info(f"No test image is a {true_digit} read as {predicted_digit}.")

st.subheader("Most confident mistakes")
wrong = evaluation.misclassified[:GALLERY_SIZE]
if len(wrong):
    digit_images(test.x_test[wrong], [f"{test.y_test[i]} read as {evaluation.predictions[i]} "
                                      f"({evaluation.confidences[i]:.0%})" for i in wrong])
else:
    st.success("No mistakes on the test set.")

st.subheader("Predictions grid")
app_state.seed_from_url(app_state.EVALUATE_FIRST, "first", range(0, evaluation.n - 99), 0)
start = st.number_input("First test image", 0, evaluation.n - 100, step=100, key=app_state.EVALUATE_FIRST)
app_state.to_url("first", start)
shown = slice(start, start + 100)
right = evaluation.predictions[shown] == test.y_test[shown]
st.image(figures.tile_images(test.x_test[shown], columns=20, frames=right, scale=2))
st.caption(f"Green frame: read right; red frame: read wrong ({int((~right).sum())} of 100 here).")
