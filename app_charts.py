"""Streamlit pieces several pages show: the model picker, a prediction card, images of digits, explanations.

Figures themselves are built in ``digit_core.views.figures``; this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

import app_state
import app_timing
from digit_core.views import figures
from digit_core.store import registry

if TYPE_CHECKING:
    from digit_core.inference.explain import Explanation
    from digit_core.training.jobs import TrainingSnapshot
    from digit_core.inference.number import NumberReading
    from digit_core.inference.predict import Prediction, Predictor


def _model_label(info: registry.ModelInfo) -> str:
    accuracy = f", {info.test_accuracy:.2%} on MNIST test" if info.test_accuracy is not None else ""
    where = "run" if info.source == "run" else "saved"
    label = f"{info.name} ({where}{accuracy})"
    return f"{label}: unavailable" if info.broken else label


def pick_model(label: str = "Model") -> str | None:
    """A model picker over the registry; the chosen id, or None (with the reason shown) when none is usable."""
    models = registry.list_models()
    if not models:
        st.error(f"No model found. {app_state.NO_MODEL_HELP}")
        return None
    by_id = {info.model_id: info for info in models}
    usable = [info.model_id for info in models if not info.broken]
    # A shared link names its model; after that, this session's choice holds on every page.
    linked = None if app_state.MODEL_ID in st.session_state else st.query_params.get(app_state.URL_MODEL)
    preferred = [linked, st.session_state.get(app_state.MODEL_ID), registry.active_model_id(), *usable,
                 models[0].model_id]
    default = next(model_id for model_id in preferred if model_id in by_id)
    model_id = st.selectbox(label, list(by_id), index=list(by_id).index(default),
                            format_func=lambda chosen: _model_label(by_id[chosen]))
    st.session_state[app_state.MODEL_ID] = model_id
    app_state.to_url(app_state.URL_MODEL, model_id)
    if by_id[model_id].broken:
        st.error(f"{by_id[model_id].name} cannot be used: {by_id[model_id].broken} {app_state.NO_MODEL_HELP}")
        return None
    return model_id


def load_predictor(model_id: str) -> Predictor | None:
    """The cached predictor, or None after an ``st.error`` saying what to do."""
    try:
        return app_state.predictor(model_id)
    except registry.ModelLoadError as error:
        st.error(f"{error} {app_state.NO_MODEL_HELP}")
        return None


def digit_images(images: np.ndarray, captions: list[str], scale: int = 3) -> None:
    """Small digits side by side, enlarged without blurring."""
    st.image([figures.enlarge(figures.to_uint8(image), scale) for image in images], caption=captions)


def show_prediction(prediction: Prediction, steps_key: str | None = None) -> None:
    """The model's answer: the digit, its confidence, all ten probabilities and, given a ``steps_key``,
    how the input was prepared."""
    if not prediction.found:
        st.info(f"{prediction.preprocessed.message} Draw or upload a single digit.")
        return
    digit_column, confidence_column = st.columns(2)
    digit_column.metric("Prediction", prediction.digit)
    confidence_column.metric("Confidence", f"{prediction.confidence:.1%}")
    app_timing.mark("answer")
    if prediction.low_confidence:
        st.warning("The model is unsure. Try writing the digit larger, centred and in one clear shape.")
    show_probabilities(prediction.probabilities)
    app_timing.mark("probabilities")
    if prediction.second_looks:
        st.caption(f"Unsure at first, the model took a second look: it also read the digit "
                   f"{' and '.join(prediction.second_looks)}. These are the {prediction.looks} readings averaged.")
    if steps_key is not None and prediction.preprocessed.steps:
        preprocessing_steps(prediction.preprocessed.steps, key=steps_key)
    app_timing.mark("steps")


def preprocessing_steps(steps: Sequence[tuple[str, np.ndarray]], key: str) -> None:
    """The preprocessing steps, down to the 28×28 the model saw, in an expander filled only while open.

    Their images are sent with each stroke only to someone who opened it: sent always, they took
    a good part of the browser's work after each stroke (bench/NOTES.md). ``key`` keeps it open.
    """
    expander = st.expander("Preprocessing steps, down to the 28×28 the model saw", key=key, on_change="rerun")
    if not expander.open:
        return
    names, images = zip(*steps)
    with expander:
        st.image([figures.thumbnail(image) for image in images[:-1]], caption=list(names[:-1]))
        st.image(figures.enlarge(figures.to_uint8(images[-1]), 6), caption=f"{names[-1]}: what the model saw")


def drawing_downloads(drawing: np.ndarray, prediction: Prediction) -> None:
    """Download buttons for a drawing as drawn and, when a digit was found, the 28×28 input it became.

    The PNGs are made on a click, not on every stroke: the time from pen-up to answer stays as it was.
    """
    from digit_core.views.downloads import png_bytes

    row = st.container(horizontal=True, gap="small")  # lighter than columns: sent with every stroke
    row.download_button("Download the drawing (PNG)", lambda: png_bytes(drawing), file_name="drawing.png",
                        mime="image/png", on_click="ignore")
    if prediction.found:
        row.download_button("Download the 28×28 (PNG)", lambda: png_bytes(prediction.preprocessed.image),
                            file_name=f"drawing-28x28-read-as-{prediction.digit}.png", mime="image/png",
                            on_click="ignore")


def show_number(reading: NumberReading) -> None:
    """A number's reading: the whole number, then each digit as the model saw it, with its reading and
    confidence, the unsure ones marked."""
    if not reading.found:
        st.info(f"{reading.message} Draw or upload a number.")
        return
    st.metric("Prediction", reading.number)
    # Ten to a row, so each digit stays large enough to see.
    for start in range(0, len(reading.digits), 10):
        digits = reading.digits[start:start + 10]
        st.image([figures.enlarge(figures.to_uint8(digit.image), 3) for digit in digits],
                 caption=[f"{digit.digit} · {digit.confidence:.0%}" + (" · unsure" if digit.low_confidence else "")
                          for digit in digits])
    if reading.unsure:
        st.warning("The model is unsure of the digits marked unsure. Try writing them larger, apart and in "
                   "one clear shape each.")


def offer_number_mode(digits: int, key: str) -> None:
    """Say that an image holds several digits, not one, and offer to read it as a number."""
    st.info(f"This looks like {digits} digits side by side, not one digit. Read it as a number?")
    if st.button("Read it as a number", key=key, on_click=app_state.use_number_mode):
        st.rerun()  # the whole page, whose mode switch is outside the drawing's fragment


def show_probabilities(probabilities: np.ndarray) -> None:
    """All ten probabilities as bars, the read digit in bold, digits 0–4 and 5–9 side by side.

    Plain progress bars rather than a chart: the browser shows them at once, where a plotly chart
    takes a good part of the time from lifting the pen to seeing the answer.
    """
    predicted = int(np.argmax(probabilities))
    for column, digits in zip(st.columns(2), (range(0, 5), range(5, 10))):
        for digit in digits:
            text = f"{digit}: {probabilities[digit]:.1%}"
            column.progress(float(np.clip(probabilities[digit], 0.0, 1.0)),
                            text=f"**{text}**" if digit == predicted else text)


def show_training(snapshot: TrainingSnapshot, mine: bool) -> None:
    """A run's status, its batch and epoch progress, and its accuracy and loss curves so far."""
    who = "You are" if mine else f"**{snapshot.owner}** is"
    if snapshot.active:
        if snapshot.stop_requested:
            doing = "stopping at the next batch (the best checkpoint is kept)"
        elif snapshot.status == "training" and not snapshot.batches_per_epoch:
            doing = "starting TensorFlow and building the network"
        else:
            doing = {"loading data": "loading MNIST", "evaluating": "evaluating on the MNIST test set"}.get(
                snapshot.status, f"at epoch {min(snapshot.epoch + 1, snapshot.epochs)} of {snapshot.epochs}")
        st.info(f"{who} training **{snapshot.name}**: {doing}.")
        st.progress(snapshot.epoch_progress, text=f"Batch {snapshot.batch} of {snapshot.batches_per_epoch or '…'}")
        st.progress(snapshot.epoch / snapshot.epochs, text=f"Epoch {snapshot.epoch} of {snapshot.epochs} done")
    elif snapshot.status == "failed":
        st.error(f"The run {snapshot.name} failed: {snapshot.error} Check the settings and start it again.")
    else:
        accuracy = snapshot.metrics.get("test_accuracy")
        scored = f", {accuracy:.2%} accurate on the MNIST test set" if accuracy is not None else ""
        st.success(f"Run {snapshot.name} {snapshot.status} after {snapshot.epoch} epochs{scored}. "
                   f"It is saved as run `{snapshot.run_id}`: make it the active model under Past runs.")
    if snapshot.history:
        accuracy_column, loss_column = st.columns(2)
        histories = {snapshot.name: snapshot.history}
        accuracy_column.plotly_chart(figures.history_figure(histories, "accuracy"), key="live-accuracy")
        loss_column.plotly_chart(figures.history_figure(histories, "loss"), key="live-loss")


def why_this_answer(model_id: str, image: np.ndarray, key: str) -> None:
    """The "Why this answer" expander for a (28, 28) model input, computed only once switched on.

    An expander runs its body even when closed, so a switch inside keeps each reading as fast as before.
    """
    with st.expander("Why this answer"):
        if st.toggle("Show what the network looks at", key=key):
            show_explanation(model_id, image)


def show_explanation(model_id: str, image: np.ndarray) -> None:
    """Saliency heatmaps for the answer and the runner-up, each network's reading, the feature maps."""
    from digit_core.inference.explain import SALIENCY_DESCRIPTION

    try:
        explanation = app_state.explainer(model_id).explain(image)
    except (registry.ModelLoadError, ValueError, OSError) as error:
        st.error(f"Cannot explain this reading: {error}")
        return
    st.image([figures.saliency_overlay(explanation.image, explanation.saliency),
              figures.saliency_overlay(explanation.image, explanation.runner_up_saliency)],
             caption=[f"What makes it a {explanation.digit} ({explanation.confidence:.1%})",
                      f"What would make it a {explanation.runner_up}, the runner-up "
                      f"({explanation.runner_up_probability:.1%})"])
    st.caption(f"{SALIENCY_DESCRIPTION} Each map is scaled to its own strongest pixel.")
    if explanation.members:
        st.caption("Each network of the ensemble alone: " + "; ".join(
            f"{member.name} reads {member.digit} ({member.confidence:.1%})" for member in explanation.members) + ".")
    _show_feature_maps(explanation)


def _show_feature_maps(explanation: Explanation) -> None:
    """The convolution layers' feature maps as grids, one tab per network of an ensemble."""
    if not explanation.feature_maps:
        st.caption("This network has no convolution layers, so there are no feature maps to show.")
        return
    networks = list(dict.fromkeys(maps.layer.rpartition("/")[0] for maps in explanation.feature_maps))
    tabs = st.tabs([name or "network" for name in networks]) if len(networks) > 1 else [st.container()]
    for network, tab in zip(networks, tabs):
        with tab:
            for maps in explanation.feature_maps:
                if maps.layer.rpartition("/")[0] == network:
                    channels, height, width = maps.maps.shape
                    st.image(figures.feature_map_grid(maps.maps),
                             caption=f"{maps.layer}: {channels} feature maps of {height}×{width}, "
                                     "bright where the filter found its pattern")
