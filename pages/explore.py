"""Explore page: the data analysis report of MNIST, USPS, pendigits, optdigits or an uploaded CSV of digits."""

import streamlit as st

import app_state
from app_collection import collected_drawings
from digit_core import figures, report
from digit_core.csv_import import CsvFormatError
from digit_core.data import DataNotFoundError, label_counts
from digit_core.profile import sample_indices

app_state.use_app_navigation()
st.title("Explore the data")
st.caption("How many digits of each kind there are, what they look like, and how their pixels are spread.")
source = st.radio("Source", app_state.SOURCES, horizontal=True, key=app_state.EXPLORE_SOURCE)
if source == app_state.COLLECTION_SOURCE:
    collected_drawings()
    st.stop()
csv_content, csv_name = b"", ""
if source == app_state.CSV_SOURCE:
    upload = st.file_uploader("A CSV with one digit per row: label, then pixel0…pixel783 (Kaggle's train.csv "
                              "layout)", type=["csv"])
    if upload is None:
        st.info("Upload a CSV file to explore it.")
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
st.plotly_chart(figures.label_counts_figure(counts))

st.subheader("Samples")
digit_column, count_column = st.columns(2)
digit = digit_column.selectbox("Digit", ["any", *range(10)])
count = count_column.slider("How many", 10, 100, 30, step=10)
chosen = sample_indices(labels, None if digit == "any" else int(digit), count)
if len(chosen):
    st.image(figures.tile_images(images[chosen], columns=10, scale=3))
else:
    st.info(f"There are no images of {digit} in this source.")

st.subheader("One image, pixel by pixel")
index = st.number_input(f"Image number (0–{len(images) - 1})", 0, len(images) - 1,
                        int(chosen[0]) if len(chosen) else 0)
st.plotly_chart(figures.pixel_heatmap(images[index], title=f"Image {index}: a {labels[index]}"))

st.subheader("Averages and ink")
st.plotly_chart(figures.class_means_figure(profile.class_means))
histogram_column, ink_column = st.columns(2)
histogram_column.plotly_chart(figures.intensity_histogram(profile.intensity_counts))
ink_column.plotly_chart(figures.ink_figure(profile.ink_mean, profile.ink_std))

st.download_button("Download report", on_click="ignore", mime="text/html",
                   file_name=f"digit-report-{(csv_name or source).replace(' ', '-').lower()}.html",
                   data=lambda: report.dataset_report(csv_name or source, profile, images[index], images[chosen], counts))
