"""Model page: what a network is made of, from its layers and parameter counts to its learned filters,
and the model as files to download for Keras, ONNX Runtime and LiteRT."""

import streamlit as st

import app_state
from app_charts import load_predictor, pick_model
from digit_core.views import figures
from digit_core.models.inspect_model import first_layer_filters, layer_table, weight_arrays

app_state.use_app_navigation()
st.title("Inside a model")
st.caption("Its layers, how each parameter count comes about, the spread of its weights and the filters it learned.")
model_id = pick_model()
predictor = load_predictor(model_id) if model_id else None
if predictor is None:
    st.stop()
model = predictor.model  # the cached predictor's Keras model, not a second copy

st.subheader("Layers")
rows = layer_table(model)
st.dataframe(rows, hide_index=True)
st.caption(f"{sum(row['params'] for row in rows):,} parameters in total. A Dense layer has inputs × units weights "
           "plus one bias per unit; a 3×3 convolution has 3 × 3 × input channels weights per filter plus one bias.")

st.subheader("Weights and biases")
weights = weight_arrays(model)
layer_names = list(dict.fromkeys(layer for layer, _, _ in weights))
if st.session_state.get(app_state.MODEL_LAYER) not in layer_names:
    st.session_state.pop(app_state.MODEL_LAYER, None)  # another model's layer
app_state.seed_from_url(app_state.MODEL_LAYER, "layer", layer_names, layer_names[0])
layer_name = st.selectbox("Layer", layer_names, key=app_state.MODEL_LAYER)
app_state.to_url("layer", layer_name)
chosen = [(weight_name, values) for layer, weight_name, values in weights if layer == layer_name]
for column, (weight_name, values) in zip(st.columns(len(chosen)), chosen):
    column.plotly_chart(figures.value_histogram(values, f"{weight_name} {values.shape}"))

st.subheader("First-layer filters")
filters = first_layer_filters(model)
if filters is None:
    st.info("The first layer with weights does not look at the image directly, so it has no filters to show.")
else:
    scale = max(2, 96 // filters.shape[1])  # 3×3 filters are drawn large, 28×28 templates smaller
    st.image(figures.tile_images(filters, columns=min(16, len(filters)), scale=scale))
    st.caption(f"{len(filters)} filters of {filters.shape[1]}×{filters.shape[2]} pixels; light is a positive weight.")

st.subheader("Download")
st.caption("The model for Keras, for ONNX Runtime (what this app runs) and for LiteRT on phones and small devices. "
           "The .tflite file is converted when first asked for, which takes a few seconds.")
file_stem = model_id.replace(":", "-")  # a run's id, "run:<name>", is no file name everywhere
for column, (ending, contents) in zip(st.columns(3), app_state.model_files(model_id).items()):
    column.download_button(f"{ending} file", data=contents, file_name=f"{file_stem}{ending}",
                           mime="application/octet-stream", on_click="ignore", key=f"download{ending}")
