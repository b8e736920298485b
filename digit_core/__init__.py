"""Digit Studio core: data, preprocessing, model zoo, training, evaluation and inference.

Nothing here imports Streamlit, and nothing heavy (TensorFlow) is imported at package import time,
so the app and the CLI start fast. Import the submodules you need, e.g. ``digit_core.data``.
"""

__version__ = "0.1.0"
