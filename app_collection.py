"""Streamlit pieces of the collection: label a reading (Draw), look through the drawings (Explore),
fine-tune on them (Train).

The collection itself is ``digit_core.store.collection``; this module only lays it out. A database that
cannot be used is an ``st.error`` here, never a broken page: reading a drawing does not need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

import app_state
from digit_core.views import figures
from digit_core.store import registry

# digit_core.collection (SQLAlchemy: 0.2 s to import, most of a second on a busy machine) is imported
# where a drawing is saved or the collection shown, not on the way to the Draw page's first canvas.
if TYPE_CHECKING:
    from digit_core.training.jobs import TrainingManager, TrainingSnapshot
    from digit_core.inference.predict import Prediction

SAVED_MESSAGES = {"stored": "Saved as a {digit} (drawing #{id}). Thank you!",
                  "already stored": "Already saved as a {digit} (drawing #{id}).",
                  "relabelled": "Drawing #{id} is now saved as a {digit}."}


def name_field() -> None:
    """The name saved with the drawings this session labels."""
    st.text_input("Your name (saved with the drawings you label)", key=app_state.USER_NAME,
                  placeholder=app_state.user_name())


def label_buttons(image: np.ndarray, prediction: Prediction, model_id: str, key: str) -> None:
    """"Right" and "It was: 0–9" under a reading: a click stores the drawing, so labelled, once."""
    if not prediction.found:
        return
    # One row that wraps, not twelve columns: half the elements to send with each stroke, and the
    # digits stay readable in a narrow column (squeezed into columns, their labels were cut off).
    row = st.container(horizontal=True, vertical_alignment="center", gap="xsmall")
    clicked = prediction.digit if row.button("Right", key=f"{key}-right", type="primary") else None
    row.markdown("It was:", width="content")
    for digit in range(10):
        if row.button(str(digit), key=f"{key}-{digit}"):
            clicked = digit
    if clicked is None:
        return
    from digit_core.store.database import CollectionError
    from digit_core.store.drawings import labelled_drawing

    try:
        drawing = labelled_drawing(image, prediction, clicked, model_id=model_id, who=app_state.user_name(),
                                   session_id=app_state.session_id())
        saved = app_state.collection().add(drawing)
    except (CollectionError, ValueError) as error:
        st.error(f"Not saved: {error}")
        return
    st.success(SAVED_MESSAGES[saved.outcome].format(digit=clicked, id=saved.id))


def collected_drawings() -> None:
    """The Explore page's view of the collection: counts, the drawings, the active model on them, deleting."""
    from digit_core.store.database import CollectionError
    from digit_core.store.drawings import counts_by_person

    try:
        collected = app_state.collection().images()
    except CollectionError as error:
        st.error(str(error))
        return
    if not len(collected.ids):
        st.info("No drawings yet. Label what you draw on the Draw page (\"Right\" or \"It was: …\") and it "
                "appears here.")
        return
    st.subheader("Counts")
    st.plotly_chart(figures.label_counts_figure({"collected": np.bincount(collected.labels, minlength=10).tolist()}))
    st.dataframe(counts_by_person(collected.who, collected.labels), hide_index=True)
    right = _active_model_on(collected.images, collected.labels)
    st.subheader("The drawings")
    digits = ["any", *range(10)]
    app_state.seed_from_url(app_state.COLLECTED_DIGIT, "digit", digits, "any")  # as the Explore page's samples
    digit = st.selectbox("Digit", digits, key=app_state.COLLECTED_DIGIT)
    app_state.to_url("digit", digit)
    shown = np.flatnonzero(collected.labels == digit) if digit != "any" else np.arange(len(collected.ids))
    if len(shown):
        st.image(figures.tile_images(collected.images[shown], columns=10, scale=3,
                                     frames=None if right is None else right[shown]),
                 caption="The 28×28 the model saw; a green frame: the active model reads it right, red: wrong.")
    else:
        st.info(f"There are no drawings of {digit} in the collection.")
    _delete_controls(collected.ids, collected.labels, collected.who)


def _active_model_on(images: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """The active model's accuracy and confusions on the drawings; which it reads right (None: no model)."""
    from digit_core.inference.evaluate import evaluate

    model_id = registry.active_model_id()
    st.subheader(f"The active model ({model_id}) on them")
    try:
        evaluation = evaluate(app_state.predictor(model_id).probabilities, images, labels)
    except registry.ModelLoadError as error:
        st.error(f"{error} {app_state.NO_MODEL_HELP}")
        return None
    st.metric("Accuracy", f"{evaluation.accuracy:.1%}", help=f"{round(evaluation.accuracy * evaluation.n)} of "
              f"{evaluation.n} drawings read right")
    st.plotly_chart(figures.confusion_figure(evaluation.confusion, title="Confusion matrix"))
    return evaluation.predictions == labels


def _delete_controls(ids: np.ndarray, labels: np.ndarray, who: tuple[str, ...]) -> None:
    from digit_core.store.database import CollectionError

    st.subheader("Delete")
    collection = app_state.collection()
    by_id = {int(drawing_id): index for index, drawing_id in enumerate(ids)}
    chosen = st.selectbox("Drawing", list(by_id)[::-1], format_func=lambda drawing_id:
                          f"#{drawing_id}: a {labels[by_id[drawing_id]]} by {who[by_id[drawing_id]]}")
    try:
        st.image(collection.image_png(chosen), caption=f"Drawing #{chosen} as drawn", width=140)
    except (CollectionError, KeyError) as error:
        st.error(str(error))
    if st.button("Delete this drawing"):
        _deleted(lambda: len(collection.delete([chosen])), f"drawing #{chosen}")
    name_field()
    me = app_state.user_name()
    mine = sum(name == me for name in who)
    if st.button(f"Delete my drawings ({mine}, saved as {me})", disabled=not mine):
        _deleted(lambda: collection.delete_by(me), f"the drawings of {me}")


def _deleted(delete, what: str) -> None:
    from digit_core.store.database import CollectionError

    try:
        count = delete()
    except CollectionError as error:
        st.error(str(error))
        return
    st.toast(f"Deleted {what} ({count}).")
    st.rerun()


def fine_tune_starter(manager: TrainingManager, running: bool) -> None:
    """The Train page's "Fine-tune on collected drawings": start from the active model, in the background."""
    with st.expander("Fine-tune on collected drawings"):
        _fine_tune_settings(manager, running)


def _fine_tune_settings(manager: TrainingManager, running: bool) -> None:
    from digit_core.models import zoo
    from digit_core.store.database import CollectionError
    from digit_core.training.finetune import FineTuneConfig, FineTuneRequest
    from digit_core.training.jobs import TrainingBusyError

    model_id = registry.active_model_id()
    try:
        count = app_state.collection().count()
    except CollectionError as error:
        st.error(str(error))
        return
    st.caption(f"Starts from the active model, **{model_id}**, and learns the {count} drawings labelled on the Draw "
               "page (a fifth held back, to measure it), mixed with MNIST digits so that it keeps reading "
               "MNIST. It runs in the background like any run.")
    recipe = FineTuneConfig()
    epochs = st.slider("Epochs", 1, 10, recipe.training.epochs, key="fine_tune_epochs")
    if st.button("Fine-tune", type="primary", disabled=running or count == 0):
        request = FineTuneRequest(name=f"{model_id}-tuned", model_id=model_id, owner=app_state.user_name(),
                                  owner_id=app_state.session_id(), recipe=FineTuneConfig(
                                      training=zoo.with_overrides(recipe.training, epochs=epochs)))
        try:
            manager.start(request)
            st.rerun()
        except TrainingBusyError as error:
            st.error(str(error))


def fine_tune_result(snapshot: TrainingSnapshot, mine: bool) -> None:
    """A finished fine-tuning run's before-and-after report, and making it the active model."""
    from digit_core.training.finetune import report_rows
    from digit_core.training.jobs import make_active

    rows = report_rows(snapshot.metrics)
    if not rows:
        return
    st.table(rows)
    if not (mine and snapshot.promotable):
        return
    base = str(snapshot.metrics.get("fine_tuned_from", "model")).removeprefix(registry.RUN_PREFIX)
    model_id = st.text_input("Save as model id", f"{base}-tuned", key="fine_tuned_model_id")
    if st.button("Make the fine-tuned model active"):
        try:
            path = make_active(snapshot.run_id, model_id)
        except ValueError as error:  # includes registry.ModelLoadError
            st.error(f"{error} Choose another model id (letters, digits, '_', '-', '.').")
            return
        st.session_state[app_state.MODEL_ID] = model_id
        st.success(f"Saved as {path.name} and made active: the Draw, Evaluate and Model pages now use it.")
