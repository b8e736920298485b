"""Use cases that read with a model: evaluate it on a test set, read, explain or collect image files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from digit_core.store import registry


def resolve_model_path(model: str | Path | None) -> Path:
    """A CLI ``--model`` value: an existing ``.keras`` path, a registry id, or None for the active model."""
    if model is None:
        return registry.resolve(registry.active_model_id())
    path = Path(model)
    if path.suffix == ".keras" or path.exists():
        if not path.is_file():
            raise registry.ModelLoadError(f"Model file not found: {path}.")
        return path
    return registry.resolve(str(model))


def load_predictor(model: str | Path | None):
    from digit_core.inference.predict import Predictor

    return Predictor.from_file(resolve_model_path(model))


# Images per step of an evaluation, so a progress display can count them.
EVALUATION_CHUNK = 1000


def evaluate_model(model: str | Path | None, dataset: str = "mnist", data_dir: Path | None = None,
                   on_images: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Evaluate a model on the MNIST (or USPS) test set; returns test_accuracy, test_loss, n and more.

    ``on_images(done, total)`` is called as each chunk of test images has been read.
    """
    from digit_core import data
    from digit_core.inference.evaluate import evaluate
    from digit_core.data.writers import scan_as_mnist

    path = resolve_model_path(model)
    predictor = load_predictor(path)
    if dataset == "usps":
        images, labels = data.load_usps("test")
        images = scan_as_mnist(images)
    else:
        mnist = data.load_mnist(data_dir)
        images, labels = mnist.x_test, mnist.y_test
    result = evaluate(_counting(predictor.probabilities, on_images), images, labels)
    return {**result.summary(), "model": str(path), "dataset": dataset,
            "per_class_recall": [round(float(r), 6) for r in result.recall],
            "confusion_matrix": result.confusion.tolist()}


def _counting(probabilities: Callable[[np.ndarray], np.ndarray],
              on_images: Callable[[int, int], None] | None) -> Callable[[np.ndarray], np.ndarray]:
    """``probabilities`` run chunk by chunk, reporting the images done so far to ``on_images``."""
    if on_images is None:
        return probabilities

    def chunked(images: np.ndarray) -> np.ndarray:
        chunks = []
        for start in range(0, len(images), EVALUATION_CHUNK):
            chunks.append(probabilities(images[start:start + EVALUATION_CHUNK]))
            on_images(min(len(images), start + EVALUATION_CHUNK), len(images))
        return np.concatenate(chunks)

    return chunked


def predict_files(model: str | Path | None, paths: list[str], number: bool = False) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per image path: a prediction, or ``{"path", "error"}`` for a bad file.

    With ``number`` each image is read as a number (``digit_core.inference.number``): ``{"path", "number",
    "digits"}``, and more digits than a number is read for is an error.
    """
    from digit_core.images.imageio import ImageDecodeError, read_image_file
    from digit_core.inference.number import read_number

    predictor = load_predictor(model)
    for path in paths:
        try:
            image = read_image_file(path)
            reading = read_number(predictor, image) if number else predictor.predict_image(image)
        except (ImageDecodeError, OSError, ValueError) as error:
            yield {"path": path, "error": str(error)}
            continue
        yield reading.to_json(path)


def explain_files(model: str | Path | None, paths: list[str]) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per image path: the reading and its saliency maps, or ``{"path", "error"}``.

    The network reads the image as the pipeline prepares it once (no second look, unlike predict).
    """
    from digit_core.inference.explain import Explainer
    from digit_core.images.imageio import ImageDecodeError, read_image_file
    from digit_core.images.preprocess import preprocess

    explainer = Explainer.from_file(resolve_model_path(model))
    for path in paths:
        try:
            prepared = preprocess(read_image_file(path), keep_steps=False)
        except (ImageDecodeError, OSError, ValueError) as error:
            yield {"path": path, "error": str(error)}
            continue
        if not prepared.found:
            yield {"path": path, "digit": None, "confidence": 0.0, "saliency": None, "message": prepared.message}
            continue
        yield explainer.explain(prepared.image).to_json(path)


def collect_files(model: str | Path | None, paths: list[str], label: object, who: str) -> Iterator[dict[str, Any]]:
    """Store each image file in the collection as a drawing of ``label``, read by the model first.

    Each file goes through predict's checks. One JSON-ready dict per path, ``{"path", "id", "label",
    "predicted", "confidence"}``, or ``{"path", "error"}`` for a file that cannot be read or holds no
    digit (nothing is stored for it). A bad label raises ValueError before anything is loaded.
    """
    from digit_core.store.collection import Collection
    from digit_core.store.drawings import check_label, labelled_drawing
    from digit_core.images.imageio import ImageDecodeError, read_image_file

    label = check_label(label)
    collection = Collection.open()  # before the model: a broken database fails fast
    try:
        predictor = load_predictor(model)
        model_id = str(model) if model is not None else registry.active_model_id()
        for path in paths:
            try:
                image = read_image_file(path)
                prediction = predictor.predict_image(image)
                drawing = labelled_drawing(image, prediction, label, model_id=model_id, who=who)
            except (ImageDecodeError, OSError, ValueError) as error:
                yield {"path": path, "error": str(error)}
                continue
            saved = collection.add(drawing)
            yield {"path": path, "id": saved.id, "label": label, "predicted": prediction.digit,
                   "confidence": round(prediction.confidence, 6)}
    finally:
        collection.close()


def export_collection(out: Path) -> dict[str, Any]:
    """Write the collection's model inputs and labels as a ``label,pixel0..pixel783`` CSV."""
    from digit_core.store.collection import Collection
    from digit_core.data.csv_import import write_digits_csv

    collection = Collection.open()
    try:
        collected = collection.images()
    finally:
        collection.close()
    if not len(collected.ids):
        raise ValueError(f"The collection ({collection.where}) is empty: there is nothing to export.")
    write_digits_csv(out, collected.images, collected.labels)
    return {"out": str(out), "drawings": int(len(collected.ids))}
