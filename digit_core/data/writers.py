"""Other writers than MNIST's, read the way the app reads them: the model's 28×28 inputs.

- pendigits: 30 people's pen trajectories, drawn as Draw-page canvases (brush width, size,
  position and pen speed varied), then preprocessed like a drawing;
- optdigits: 32×32 scans of forms, preprocessed like an uploaded scan at varied resolutions;
- USPS: 16×16 scans of US mail, preprocessed like an uploaded scan.

Validation holds out whole writers. pendigits names each digit's writer (``.COMMENT label writer n``):
writers ``HELD_OUT_PEN_WRITERS`` are never trained on. optdigits names none: its ``cv`` file is held
out whole, but UCI drew ``tra`` and ``cv`` from the same 30 writers, so it may share writers with
``tra``; scikit-learn's digits (optdigits' 13 test writers) are the writer-independent check.

``usps_test_as_mnist`` and ``sklearn_digits_as_mnist`` are the comparison study's proxies for other
people's handwriting: held-out sets read as scans, never training data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from digit_core.data.pendigits import PenDigit, strokes_in_unit_box
from digit_core.images.preprocess import preprocess

# Six of pendigits' 30 writers (a fifth) are validation writers, never training data.
HELD_OUT_PEN_WRITERS = frozenset(range(25, 31))
# The Draw page's canvas and its brush-width slider.
CANVAS_SIDE = 280
BRUSH_WIDTHS = (6, 40)
# scikit-learn's digits are read as scans this many pixels tall: the writers' bitmaps were 32×32.
SKLEARN_DIGITS_SCAN_HEIGHT = 32


def split_pen_writers(digits: Sequence[PenDigit],
                      held_out: Iterable[int] = HELD_OUT_PEN_WRITERS) -> tuple[list[PenDigit], list[PenDigit]]:
    """(training writers' digits, held-out writers' digits), each in file order."""
    held_out = frozenset(held_out)
    return ([digit for digit in digits if digit.writer not in held_out],
            [digit for digit in digits if digit.writer in held_out])


def draw_pen_digit(digit: PenDigit, rng: np.random.Generator) -> np.ndarray:
    """One pen digit drawn on a Draw-page canvas, (280, 280, 4) uint8 RGBA, the way a person might.

    The digit's height is a third to nine tenths of the canvas, anywhere it fits; the brush is the
    slider's range (thin brushes likelier); a fast pen leaves fewer points, so straighter segments.
    """
    from digit_core.data.synthetic import render_strokes

    step = int(rng.choice([1, 1, 2, 3, 4]))  # points kept: every step-th, as from a faster mouse
    strokes = tuple(stroke[::step] if len(stroke) > 2 * step else stroke for stroke in digit.strokes)
    # Keep each stroke's last point, so a fast pen still ends where it ended.
    strokes = tuple(np.vstack([kept, original[-1:]]) if len(kept) and kept[-1] is not original[-1] else kept
                    for kept, original in zip(strokes, digit.strokes))
    scale = rng.uniform(0.33, 0.9)
    room = (1 - scale) / 2
    centre = tuple(0.5 + rng.uniform(-room, room, 2))
    width = float(np.exp(rng.uniform(np.log(BRUSH_WIDTHS[0]), np.log(BRUSH_WIDTHS[1]))))
    background = "white" if rng.random() < 0.7 else "transparent"
    return render_strokes(strokes_in_unit_box(strokes), canvas_size=CANVAS_SIDE, scale=scale, center=centre,
                          stroke_width=width, background=background)


def pen_digits_as_mnist(digits: Sequence[PenDigit], rng: np.random.Generator,
                        drawings_per_digit: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each pen digit drawn ``drawings_per_digit`` times and preprocessed: (N, 28, 28) uint8, (N,) labels."""
    canvases = (draw_pen_digit(digit, rng) for digit in digits for _ in range(drawings_per_digit))
    labels = np.repeat([digit.label for digit in digits], drawings_per_digit).astype(np.uint8)
    return _as_mnist(canvases, len(labels)), labels


def scan_as_mnist(images: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Light-on-dark scans (N, H, W) uint8 (USPS 16×16, optdigits 32×32) through the pipeline.

    With ``rng`` each scan is first enlarged 1-3× and softened, as a scanner at another resolution
    would give it, and put on paper: dark ink on a light, slightly noisy page. Without, it is read as
    it is. A margin makes a tight crop look like a page.
    """
    def scans():
        for image in images:
            if rng is None:
                yield np.pad(image, max(4, image.shape[0] // 8))
                continue
            factor = rng.uniform(1.0, 3.0)
            size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
            image = cv2.GaussianBlur(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), (3, 3),
                                     rng.uniform(0.3, 1.0))
            image = np.pad(image, max(4, image.shape[0] // 8)).astype(np.float32)
            paper = rng.uniform(200, 255) - image * rng.uniform(0.6, 0.95) + rng.normal(0, rng.uniform(0, 6), image.shape)
            yield np.clip(paper, 0, 255).astype(np.uint8)
    return _as_mnist(scans(), len(images))


def sklearn_digits_scans(images: np.ndarray, height: int) -> list[np.ndarray]:
    """scikit-learn's bundled digits (N, 8, 8), ink 0-16, as dark-on-light scans ``height`` px tall.

    Each 8×8 cell counts the inked pixels of a 4×4 block of the writer's 32×32 bitmap, so the
    digits are blurred and coarse; NIST's normalisation also stretched each to fill its box.
    """
    margin = height // 4
    scans = []
    for image in images:
        paper = (255 - image * (255 / 16)).astype(np.float32)
        big = cv2.resize(paper, (height, height), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=255)
        scans.append(np.clip(big, 0, 255).astype(np.uint8))
    return scans


def usps_test_as_mnist(limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """USPS test (2,007 digits of US mail), each 16×16 scan read once as an upload: model inputs
    (N, 28, 28) uint8, all zeros where the pipeline found no digit, and (N,) labels.

    ``limit`` keeps the first images (for quick runs).
    """
    from digit_core import data

    images, labels = data.load_usps("test")
    return scan_as_mnist(images[:limit]), labels[:limit].astype(np.int64)


def sklearn_digits_as_mnist(limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (1,797 by optdigits' test writers) as scans 32 px tall, read once through
    the pipeline: model inputs (N, 28, 28) uint8, all zeros where no digit was found, and (N,) labels.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    scans = sklearn_digits_scans(digits.images[:limit], SKLEARN_DIGITS_SCAN_HEIGHT)
    return _as_mnist(scans, len(scans)), digits.target[:limit].astype(np.int64)


def _as_mnist(images: Iterable[np.ndarray], count: int) -> np.ndarray:
    """Preprocess each image; (count, 28, 28) uint8, all zeros where no digit was found."""
    out = np.zeros((count, 28, 28), np.uint8)
    for index, image in enumerate(images):
        prepared = preprocess(image, keep_steps=False)
        if prepared.found:
            out[index] = np.round(prepared.image * 255).astype(np.uint8)
    return out


def other_writers_training_set(seed: int, pen_drawings: int = 3, optdigits_repeats: int = 3,
                               usps_rescans: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """USPS train, pendigits' training writers and optdigits' ``tra`` writers as model inputs.

    pendigits is drawn ``pen_drawings`` times and optdigits scanned ``optdigits_repeats`` times (each
    differently), so that the 16,000 digits of these writers are not drowned by MNIST's 60,000. USPS
    is read as it is, and scanned again ``usps_rescans`` times at other resolutions, as the app
    reads a photo or scan of a letter. Images in which the pipeline finds no digit are dropped.
    """
    from digit_core import data

    rng = np.random.default_rng([seed, 17])
    usps_images, usps_labels = data.load_usps("train")
    pen_train, _ = split_pen_writers(data.load_pendigits())
    pen_images, pen_labels = pen_digits_as_mnist(pen_train, rng, pen_drawings)
    opt_images, opt_labels = data.load_optdigits("tra")
    opt_repeated = np.concatenate([scan_as_mnist(opt_images, rng) for _ in range(optdigits_repeats)])
    usps_rescanned = [scan_as_mnist(usps_images, rng) for _ in range(usps_rescans)]
    x = np.concatenate([scan_as_mnist(usps_images), *usps_rescanned, pen_images, opt_repeated])
    y = np.concatenate([np.tile(usps_labels, 1 + usps_rescans), pen_labels,
                        np.tile(opt_labels, optdigits_repeats)])
    found = x.reshape(len(x), -1).any(axis=1)
    return x[found], y[found]
