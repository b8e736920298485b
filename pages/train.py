"""Train page: pick or compose a network, train it in the background, watch it learn, keep the best."""

import json

import streamlit as st

import app_state
from app_charts import show_training
from app_collection import fine_tune_result, fine_tune_starter
from digit_core.models import compose, zoo
from digit_core import config
from digit_core.views import figures
from digit_core.training import runs
from digit_core.training.jobs import TrainingBusyError, TrainingRequest, make_active

SUBSETS = (2_000, 10_000, 30_000, 60_000)

app_state.use_app_navigation()
manager = app_state.training_manager()
current_run = manager.snapshot()
running = current_run is not None and current_run.active
st.title("Train a model")
st.caption("Pick a zoo model or compose your own, then watch it learn. One run at a time on this server.")
with st.expander("New run", expanded=not running):
    kind = st.radio("Network", ["Zoo model", "Compose an MLP", "Compose a CNN"], horizontal=True)
    preset = None
    try:
        if kind == "Compose an MLP":
            units_column, dropout_column, activation_column = st.columns(3)
            network = compose.compose_mlp(units_column.text_input("Hidden units per layer", "128, 64"),
                                          dropout_column.slider("Dropout rate", 0.0, 0.8, 0.2, 0.05),
                                          activation_column.selectbox("Activation", ["relu", "tanh", "sigmoid"]))
        elif kind == "Compose a CNN":
            filters_column, dense_column, dropout_column = st.columns(3)
            network = compose.compose_cnn(filters_column.text_input("Filters per convolution", "32, 64"),
                                          dense_column.text_input("Dense units per layer", "128"),
                                          dropout_column.slider("Dropout rate", 0.0, 0.8, 0.2, 0.05),
                                          st.checkbox("Batch normalisation"))
        else:
            preset = st.selectbox("Zoo model", list(zoo.ZOO), index=list(zoo.ZOO).index("fast"),
                                  format_func=lambda name: f"{name}: {zoo.ZOO[name].description}")
            network = zoo.ZOO[preset].network
    except ValueError as error:
        st.error(f"{error} Change the layer settings.")
        st.stop()
    defaults = zoo.ZOO[preset].training if preset else zoo.TrainConfig()
    columns = st.columns(4)
    optimizer = columns[0].selectbox("Optimizer", zoo.OPTIMIZERS, index=zoo.OPTIMIZERS.index(defaults.optimizer))
    learning_rate = columns[1].number_input("Learning rate (0: the optimizer's default)", 0.0, 1.0,
                                            defaults.learning_rate or 0.0, format="%.4f", step=0.0005)
    batch_size = columns[2].select_slider("Batch size", [32, 64, 128, 256, 512], defaults.batch_size)
    epochs = columns[3].slider("Epochs", 1, 50, defaults.epochs)
    validation_split = columns[0].slider("Validation split", 0.05, 0.3, max(0.05, defaults.validation_split), 0.05)
    patience = columns[1].number_input("Early stopping patience (0: off)", 0, 20, defaults.early_stopping_patience)
    subset = columns[2].select_slider("Training images", SUBSETS, SUBSETS[-1])
    augment = columns[3].checkbox("Augmentation", defaults.augment, help="Random shifts, rotations, scaling and stroke width.")
    training = zoo.with_overrides(defaults, optimizer=optimizer, learning_rate=learning_rate or None,
                                  batch_size=batch_size, epochs=epochs, validation_split=validation_split,
                                  early_stopping_patience=int(patience), augment=augment)
    rows = app_state.layer_rows(json.dumps(zoo.network_to_dict(network)))
    st.dataframe(rows, hide_index=True)
    st.caption(f"{sum(row['params'] for row in rows):,} parameters in total.")
    name_column, owner_column = st.columns(2)
    run_name = name_column.text_input("Run name", preset or kind.split()[-1].lower())
    owner_column.text_input("Your name (shown to others while you train)", key=app_state.USER_NAME)
    tensorboard = st.checkbox("TensorBoard logs", help="Also write logs into the run's tensorboard/ folder; "
                              "see them with `tensorboard --logdir runs`.")
    if st.button("Start training", type="primary", disabled=running):
        try:
            manager.start(TrainingRequest(name=run_name or "run", network=network, training=training,
                                          owner=app_state.user_name(), owner_id=app_state.session_id(),
                                          subset=None if subset == SUBSETS[-1] else subset, tensorboard=tensorboard))
            st.rerun()
        except TrainingBusyError as error:
            st.error(str(error))
fine_tune_starter(manager, running)


def live_panel() -> None:
    """The current run; reruns itself every second while it trains (see the st.fragment call below)."""
    snapshot = manager.snapshot()
    if snapshot is None:
        st.info("No run on this server yet: set one up above and start it.")
        return
    mine = snapshot.owner_id == app_state.session_id()
    show_training(snapshot, mine)
    fine_tune_result(snapshot, mine)
    if snapshot.active and mine:
        st.button("Stop", on_click=manager.request_stop, disabled=snapshot.stop_requested)
    # When the run ends, rerun the whole page once: it leaves live mode and lists the finished run.
    if snapshot.active:
        st.session_state[app_state.SEEN_TRAINING_ACTIVE] = True
    elif st.session_state.pop(app_state.SEEN_TRAINING_ACTIVE, False):
        st.rerun()


st.subheader("Current run")
st.fragment(live_panel, run_every=1.0 if running else None)()

st.subheader("Past runs")
# Runs still in progress (this server's, shown above, or a CLI run) are not past runs yet.
past = {run.run_id: run for run in runs.list_runs(config.runs_dir()) if run.status != "running"}
if not past:
    st.info("No finished runs yet.")
    st.stop()
chosen = st.multiselect("Runs to compare", list(past), default=list(past)[:1], key=app_state.PAST_RUNS,
                        format_func=lambda run_id: f"{past[run_id].name} · {run_id} · {past[run_id].status}")
histories = {f"{past[run_id].name} ({run_id[-6:]})": past[run_id].history for run_id in chosen}
if any(histories.values()):
    accuracy_column, loss_column = st.columns(2)
    accuracy_column.plotly_chart(figures.history_figure(histories, "accuracy"))
    loss_column.plotly_chart(figures.history_figure(histories, "loss"))
st.dataframe(figures.run_rows([past[run_id] for run_id in chosen]), hide_index=True)

keepable = [run_id for run_id, run in past.items() if run.best_checkpoint.is_file()]
if keepable:
    run_column, id_column = st.columns(2)
    to_keep = run_column.selectbox("Run to keep", keepable, format_func=lambda run_id: f"{past[run_id].name} · {run_id}")
    model_id = id_column.text_input("Save as model id", past[to_keep].name)
    if st.button("Make it the active model"):
        try:
            path = make_active(to_keep, model_id)
            st.session_state[app_state.MODEL_ID] = model_id
            st.success(f"Saved as {path.name} and made active: the Draw, Evaluate and Model pages now use it.")
        except ValueError as error:  # includes registry.ModelLoadError
            st.error(f"{error} Choose another model id (letters, digits, '_', '-', '.').")
