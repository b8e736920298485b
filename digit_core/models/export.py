"""A trained Keras model for other runtimes: ONNX (what the predictor runs) and LiteRT (``.tflite``).

Keras exports through TensorFlow: ONNX with tf2onnx, LiteRT with TensorFlow's converter. Each export
is checked by reading images with the exported file and with Keras side by side (``compare_readings``).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# The file ending of each format, as ``python -m digit_core export --format`` names them.
SUFFIXES = {"onnx": ".onnx", "litert": ".tflite"}

Reader = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28, 1) float32 → (N, 10) probabilities


def check_format(export_format: str) -> None:
    if export_format not in SUFFIXES:
        raise ValueError(f"Unknown export format {export_format!r}: use one of {', '.join(SUFFIXES)}.")


def write_export(model: Any, export_format: str, path: Path) -> None:
    """Write ``model`` as ``export_format`` to ``path`` (not atomically: callers pass a temporary file)."""
    check_format(export_format)
    # Keras derives the input signature from a first call, which a model loaded from a file has not had.
    model(np.zeros((1, *model.input_shape[1:]), np.float32), training=False)
    try:
        # Keras' tf2onnx shim warns about np.object on NumPy 2, and the exporters may print progress:
        # standard output belongs to the CLI's JSON.
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(path), format=export_format, verbose=False)
    except Exception as error:  # noqa: BLE001 (the converters raise many types for a layer they cannot convert)
        raise ValueError(f"Cannot export model {model.name!r} to {export_format}: "
                         f"{type(error).__name__}: {str(error)[:300]}") from error


def export_bytes(model: Any, export_format: str) -> bytes:
    """``model`` exported as ``export_format``, in memory (through a temporary directory)."""
    check_format(export_format)
    with tempfile.TemporaryDirectory(prefix="digit-export-") as directory:
        path = Path(directory) / f"model{SUFFIXES[export_format]}"
        write_export(model, export_format, path)
        return path.read_bytes()


def onnx_session(onnx_model: bytes) -> Any:
    """An ONNX Runtime session on one thread, running the graph's nodes one after another.

    One drawing is a few million multiply-adds: waking a second thread costs more than it saves, and
    the other core is left to the preprocessing and the web server.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: no notes on stderr when a model loads
    return onnxruntime.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])


def onnx_reader(onnx_model: bytes) -> Reader:
    session = onnx_session(onnx_model)
    input_name = session.get_inputs()[0].name
    return lambda x: session.run(None, {input_name: x})[0]


def litert_reader(litert_model: bytes) -> Reader:
    """Read images with a ``.tflite`` model: LiteRT's interpreter, else TensorFlow's older copy of it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 (deprecated in favour of ai_edge_litert, still there)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tf.lite.Interpreter's deprecation notice
        interpreter = Interpreter(model_content=litert_model, num_threads=1)
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def read(x: np.ndarray) -> np.ndarray:
        # The batch size is fixed per allocation: resize to each batch.
        interpreter.resize_tensor_input(input_index, list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(input_index, np.ascontiguousarray(x, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()

    return read


def reader(exported: bytes, export_format: str) -> Reader:
    """A function reading (N, 28, 28, 1) inputs with an exported model."""
    check_format(export_format)
    return onnx_reader(exported) if export_format == "onnx" else litert_reader(exported)


def compare_readings(model: Any, read: Reader, x: np.ndarray, labels: np.ndarray,
                     batch_size: int = 500) -> dict[str, Any]:
    """How an export reads model inputs ``x`` (N, 28, 28, 1) beside the Keras model it came from."""
    keras_chunks, export_chunks = [], []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]
        keras_chunks.append(np.asarray(model(chunk, training=False)))
        export_chunks.append(read(chunk))
    keras_probabilities, export_probabilities = np.concatenate(keras_chunks), np.concatenate(export_chunks)
    keras_digits, export_digits = keras_probabilities.argmax(axis=1), export_probabilities.argmax(axis=1)
    return {"n": int(len(x)),
            "keras_accuracy": float(np.mean(keras_digits == labels)),
            "export_accuracy": float(np.mean(export_digits == labels)),
            "digits_read_differently": int(np.sum(keras_digits != export_digits)),
            "max_probability_difference": float(np.abs(keras_probabilities - export_probabilities).max())}
