"""Explore page: the data analysis report of MNIST, USPS, pendigits, optdigits or an uploaded CSV of digits."""

import numpy as np
import streamlit as st

import app_state
from app_charts import pick_model
from app_collection import collected_drawings
from digit_core.views import downloads, figures, report
from digit_core.store import registry
from digit_core.data.csv_lines import CsvFormatError
from digit_core.data import DataNotFoundError, label_counts
from digit_core.data.profile import sample_indices

DIGITS = ["any", *range(10)]
COUNTS = range(10, 101, 10)

app_state.use_app_navigation()
st.title("Explore the data")
st.caption("How many digits of each kind there are, what they look like, and how their pixels are spread.")
app_state.seed_from_url(app_state.EXPLORE_SOURCE, "source", app_state.SOURCES, app_state.SOURCES[0])
source = st.radio("Source", app_state.SOURCES, horizontal=True, key=app_state.EXPLORE_SOURCE)
app_state.to_url("source", source)
if source == app_state.COLLECTION_SOURCE:
    collected_drawings()
    st.stop()
csv_content, csv_name = b"", ""
if source == app_state.CSV_SOURCE:
    upload = st.file_uploader("A CSV with one digit per row: label, then pixel0…pixel783 (Kaggle's train.csv), or "
                              "the pixels alone (Kaggle's test.csv)", type=["csv"],
                              max_upload_size=app_state.CSV_UPLOAD_MB)
    if upload is None:
        st.info(f"Upload a CSV file (up to {app_state.CSV_UPLOAD_MB} MB) to explore it.")
        st.stop()
    csv_content, csv_name = upload.getvalue(), upload.name
try:
    if source == app_state.CSV_SOURCE:
        images, labels = app_state.csv_digits(csv_content, csv_name)
    else:
        images, labels = app_state.dataset(source)
    profile = app_state.profile(source, csv_content, csv_name)
except CsvFormatError as error:
    summary, *problems = str(error).splitlines()  # the first problems, then "... and N more"
    bullets = "\n".join(f"- {problem.strip()}" for problem in problems)
    st.error(f"{summary}\n\n{bullets}\n\nFix these rows (or export the file again) and upload it.")
    st.stop()
except (DataNotFoundError, ValueError) as error:
    st.error(f"{error}")
    st.stop()

st.subheader("Summary")
st.table(report.summary_rows(profile))
counts = {split: label_counts(app_state.dataset(name)[1]).tolist()
          for split, name in app_state.sibling_sources(source).items()} or {csv_name: profile.label_counts.tolist()}
if profile.labelled:
    st.plotly_chart(figures.label_counts_figure(counts))
else:
    st.info("This file has no label column (like Kaggle's test.csv), so there is nothing to show per digit. "
            "Read its digits with a model below, and download them as a Kaggle submission.")

st.subheader("Samples")
digit_column, count_column = st.columns(2)
app_state.seed_from_url(app_state.EXPLORE_DIGIT, "digit", DIGITS, "any")
app_state.seed_from_url(app_state.EXPLORE_COUNT, "count", COUNTS, 30)
digit = digit_column.selectbox("Digit", DIGITS, key=app_state.EXPLORE_DIGIT) if profile.labelled else "any"
count = count_column.slider("How many", COUNTS[0], COUNTS[-1], step=COUNTS.step, key=app_state.EXPLORE_COUNT)
app_state.to_url("digit", digit)
app_state.to_url("count", count)
# Without labels every image is "any digit".
chosen = sample_indices(labels if profile.labelled else np.zeros(len(images), np.uint8),
                        None if digit == "any" else int(digit), count)
if len(chosen):
    st.image(figures.tile_images(images[chosen], columns=10, scale=3))
else:
    st.info(f"There are no images of {digit} in this source.")

st.subheader("One image, pixel by pixel")
index = st.number_input(f"Image number (0–{len(images) - 1})", 0, len(images) - 1,
                        int(chosen[0]) if len(chosen) else 0)
what = f": a {labels[index]}" if profile.labelled else ""
st.plotly_chart(figures.pixel_heatmap(images[index], title=f"Image {index}{what}"))

st.subheader("Averages and ink" if profile.labelled else "Ink")
if profile.labelled:
    st.plotly_chart(figures.class_means_figure(profile.class_means))
histogram_column, ink_column = st.columns(2)
histogram_column.plotly_chart(figures.intensity_histogram(profile.intensity_counts))
if profile.labelled:
    ink_column.plotly_chart(figures.ink_figure(profile.ink_mean, profile.ink_std))

if source == app_state.CSV_SOURCE:
    st.subheader("Read them with a model")
    model_id = pick_model()
    if model_id and st.toggle(f"Read all {len(images):,} digits", key=app_state.READ_CSV):
        try:
            predictions = app_state.csv_predictions(model_id, csv_content, csv_name)
        except registry.ModelLoadError as error:
            st.error(f"{error} {app_state.NO_MODEL_HELP}")
            st.stop()
        if profile.labelled:
            st.metric("Read as labelled", f"{(predictions == labels).mean():.2%}")
        st.plotly_chart(figures.label_counts_figure({"read as": label_counts(predictions).tolist()}))
        st.download_button("Download a Kaggle submission (ImageId,Label)", downloads.submission_csv(predictions),
                           file_name=f"submission-{model_id}.csv", mime="text/csv", on_click="ignore")

st.download_button("Download report", on_click="ignore", mime="text/html",
                   file_name=f"digit-report-{(csv_name or source).replace(' ', '-').lower()}.html",
                   data=lambda: report.dataset_report(csv_name or source, profile, images[index], images[chosen], counts))
