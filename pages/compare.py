"""Compare page: the model-comparison study's results, one experiment at a time."""

from pathlib import Path

import streamlit as st

import app_state
from digit_core.study import figures
from digit_core import config
from digit_core.study.results import ComparisonFileError, conclusions, load_comparison


app_state.use_app_navigation()


@st.cache_data(show_spinner=False)
def load_results(path: str, modified: float) -> list[dict]:
    # ``modified`` (the file's mtime) is part of the cache key, so a new run is never served stale.
    return load_comparison(path)


st.title("Compare models")
st.caption("Every notebook model, one-change-at-a-time experiments and classical baselines, trained on the "
           "same split and tested on the same 10,000 MNIST digits, and on other people's handwriting: USPS "
           "test and scikit-learn's digits, read as scans.")

path = config.results_dir() / "comparison.json"
try:
    results = load_results(str(path), Path(path).stat().st_mtime if path.is_file() else 0.0)
except FileNotFoundError:
    st.info(f"No comparison results yet ({path}). Run `python -m digit_core compare` to create them "
            "(`python -m digit_core compare --quick` for a small version in a few minutes).")
    st.stop()
except (ComparisonFileError, OSError) as error:
    st.error(f"Cannot show the comparison: {error}")
    st.stop()

if any(entry.get("mode") not in (None, "full") for entry in results):
    st.warning("These are results of a reduced run (`--quick`): small subsets and few epochs.")
summary = conclusions(results)

notebook_models = figures.notebook_rows(results)
if notebook_models:
    st.subheader("The notebooks' models: notebook reported, measured here")
    st.dataframe(notebook_models, hide_index=True)
    st.caption("Each trained here with its notebook's recipe (epochs, batch size, optimizer); \"notebook "
               "reported\" is blank where there is no exact figure (`best` is ours). USPS scans and sklearn "
               "digits: the same model reading other people's handwriting, scanned.")

st.subheader("Leaderboard")
whole_numbers = {column: st.column_config.NumberColumn(format="%d")
                 for column in ("parameters", "epochs", "batch", "train images")}
st.dataframe(figures.leaderboard_rows(results), hide_index=True, column_config=whole_numbers)

left, right = st.columns(2)
left.plotly_chart(figures.accuracy_scatter(results, "params"))
right.plotly_chart(figures.accuracy_scatter(results, "train_seconds"))

st.subheader("Experiments")
for experiment in summary:
    st.markdown(f"**Effect of {experiment}.** {summary.get(experiment, '')}")
    st.plotly_chart(figures.experiment_chart(results, experiment), key=f"experiment-{experiment}")

st.subheader("Training curves")
choices = figures.curve_choices(results)
chosen = st.multiselect("Models", choices, default=choices[:3])
metrics = ["val_accuracy", "accuracy", "val_loss", "loss"]
app_state.seed_from_url(app_state.COMPARE_METRIC, "metric", metrics, metrics[0])
metric = st.radio("Metric", metrics, horizontal=True, key=app_state.COMPARE_METRIC)
app_state.to_url("metric", metric)
if chosen:
    st.plotly_chart(figures.training_curves(results, chosen, metric))
else:
    st.caption("Choose models above to overlay their curves.")
