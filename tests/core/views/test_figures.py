"""The figures and tables the pages and the report show: right traces, right values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_core.views import figures
from digit_core.training.runs import RunInfo


def test_label_counts_has_one_trace_per_split_with_the_counts() -> None:
    train, test = list(range(100, 110)), list(range(10, 20))
    figure = figures.label_counts_figure({"train": train, "test": test})
    assert [trace.name for trace in figure.data] == ["train", "test"]
    assert list(figure.data[0].x) == list(range(10))
    assert list(figure.data[0].y) == train and list(figure.data[1].y) == test
    assert list(figure.data[1].text) == [str(count) for count in test]


def test_pixel_heatmap_writes_each_value_in_its_cell() -> None:
    image = np.arange(28 * 28).reshape(28, 28).astype(np.uint8)
    (heatmap,) = figures.pixel_heatmap(image).data
    np.testing.assert_array_equal(np.asarray(heatmap.z), image)
    np.testing.assert_array_equal(np.asarray(heatmap.text), image.astype(int))
    assert heatmap.texttemplate == "%{text}"


def test_confusion_figure_shows_counts_and_a_clickable_point_per_cell() -> None:
    confusion = np.arange(100).reshape(10, 10)
    heatmap, points = figures.confusion_figure(confusion).data
    np.testing.assert_array_equal(np.asarray(heatmap.text), confusion)
    assert len(points.x) == 100
    # The point at (predicted 3, true 5) carries the count of that cell.
    index = next(i for i in range(100) if points.x[i] == 3 and points.y[i] == 5)
    assert points.customdata[index] == confusion[5, 3]
    assert figures.selected_cell([{"x": 3, "y": 5, "curve_number": 1}]) == (5, 3)
    assert figures.selected_cell([]) is None


def test_most_confused_is_the_largest_mistake_not_the_diagonal() -> None:
    confusion = np.diag(np.full(10, 900))
    confusion[4, 9], confusion[7, 1] = 40, 12
    assert figures.most_confused(confusion) == (4, 9)


def test_history_figure_draws_train_and_validation_per_run() -> None:
    histories = {"a": {"accuracy": [0.5, 0.7], "val_accuracy": [0.6, 0.65]}, "b": {"accuracy": [0.4]}}
    figure = figures.history_figure(histories, "accuracy")
    assert [trace.name for trace in figure.data] == ["a train", "a validation", "b train"]
    assert list(figure.data[1].y) == [0.6, 0.65] and list(figure.data[1].x) == [1, 2]
    assert figure.data[1].line.dash == "dash"


def test_class_means_intensity_and_ink_figures() -> None:
    means = np.random.default_rng(0).uniform(0, 255, (10, 28, 28))
    assert len(figures.class_means_figure(means).data) == 10
    counts = np.arange(256)
    assert list(figures.intensity_histogram(counts).data[0].y) == list(counts)
    (ink,) = figures.ink_figure(np.arange(10.0), np.ones(10)).data
    assert list(ink.y) == list(range(10)) and list(ink.error_y.array) == [1.0] * 10


def test_value_histogram_counts_every_value() -> None:
    values = np.random.default_rng(1).normal(size=(30, 40))
    (bars,) = figures.value_histogram(values, "kernel", bins=20).data
    assert len(bars.y) == 20 and sum(bars.y) == values.size
    (few,) = figures.value_histogram(np.array([0.1, 0.2, 0.3, 0.4]), "bias").data
    assert len(few.y) == 5 and sum(few.y) == 4  # a handful of values gets a handful of bins


def test_tile_images_lays_out_and_frames_images() -> None:
    images = np.zeros((3, 4, 4), np.uint8)
    images[1] = 255
    grid = figures.tile_images(images, columns=2, frames=[True, False, True], scale=2, border=1)
    assert grid.shape == (2 * 10, 2 * 10, 3) and grid.dtype == np.uint8
    assert tuple(grid[0, 0]) == figures.RIGHT_COLOR and tuple(grid[0, 10]) == figures.WRONG_COLOR
    assert tuple(grid[5, 15]) == (255, 255, 255)  # inside image 1 (white)
    assert tuple(grid[15, 15]) == (255, 255, 255)  # the empty fourth cell stays blank
    with pytest.raises(ValueError):
        figures.tile_images(np.zeros((0, 4, 4)), columns=2)


def test_to_uint8_stretches_floats_and_keeps_uint8() -> None:
    np.testing.assert_array_equal(figures.to_uint8(np.array([[-1.0, 0.0, 1.0]])), [[0, 128, 255]])
    image = np.array([[3, 200]], np.uint8)
    assert figures.to_uint8(image) is image
    assert figures.enlarge(image, 3).shape == (3, 6)


def test_run_rows_describe_each_run() -> None:
    run = RunInfo(run_id="r1", path=Path("/nowhere/r1"), status="completed",
                  config={"name": "tiny", "network": {"kind": "mlp", "hidden_units": [64]},
                          "training": {"optimizer": "adam", "learning_rate": 0.003, "batch_size": 64}},
                  history={"loss": [1.0, 0.5], "accuracy": [0.8, 0.9], "val_accuracy": [0.85, 0.88]},
                  metrics={"test_accuracy": 0.87, "params": 50890, "train_seconds": 4.2})
    (row,) = figures.run_rows([run])
    assert row["network"] == "MLP 64" and row["epochs"] == 2 and row["optimizer"] == "adam"
    assert row["train accuracy"] == 0.9 and row["validation accuracy"] == 0.88 and row["test accuracy"] == 0.87


def test_thumbnails_are_equal_squares_on_the_image_background() -> None:
    tall = np.full((80, 20), 255, np.uint8)  # a white strip: its own background is white
    tall[30:50, 5:15] = 0
    square = figures.thumbnail(tall, side=40)
    assert square.shape == (40, 40) and square.dtype == np.uint8
    assert square[0, 0] == 255 and square[20, 20] == 0  # padded with white, the dark mark kept centred
    small = figures.thumbnail(np.eye(4, dtype=np.float32), side=8)
    assert small.shape == (8, 8) and small[0, 0] == 255 and small[0, 7] == 0  # enlarged without blur


def test_saliency_overlay_glows_where_the_map_is_strong() -> None:
    image = np.zeros((28, 28), np.float32)
    image[10:18, 12:16] = 1.0  # the digit's ink
    saliency = np.zeros((28, 28), np.float32)
    saliency[12, 13], saliency[15, 14] = 2.0, 0.5
    overlay = figures.saliency_overlay(image, saliency, scale=3)
    assert overlay.shape == (84, 84, 3) and overlay.dtype == np.uint8
    strongest, weaker, plain_ink, paper = (overlay[3 * row, 3 * column] for row, column in
                                           ((12, 13), (15, 14), (11, 12), (0, 0)))
    assert tuple(strongest) == (255, 255, 0)  # yellow at the map's maximum
    assert weaker[0] > weaker[1] == weaker[2]  # a quarter of the maximum: red over the grey ink, no yellow yet
    assert plain_ink[0] == plain_ink[1] == plain_ink[2] > paper[0] == 0  # ink stays grey, paper black
    assert not figures.saliency_overlay(image, np.zeros_like(saliency)).any(axis=2)[0, 0]
    with pytest.raises(ValueError, match="2-D shape"):
        figures.saliency_overlay(image, saliency[:27])


def test_feature_map_grid_tiles_every_map() -> None:
    grid = figures.feature_map_grid(np.random.default_rng(0).random((20, 11, 11)), cell_side=44, columns=8)
    assert grid.shape == (3 * (44 + 2), 8 * (44 + 2), 3)  # 20 maps in rows of 8, each 4× with a 1-pixel border
