"""The group reader: finding digits' middles in its frames, the group image's geometry, its file (the
shipped one read, a damaged or foreign one refused, a missing one a warned fallback), its training
targets, and the cuts made between the middles it finds."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from digit_core import config
from digit_core.images import cuts, segment
from digit_core.images.number_canvas import TOUCHING, compose_number, strokes_ink
from digit_core.data.synthetic import digit_styles
from digit_core.inference import group_reader
from digit_core.inference.group_reader import (FRAME_WIDTH, FRAMES, GROUP_SHAPE, GroupImage, GroupReaderError,
                                               digits_in_frames, group_image, load_group_reader, reader_path)
from digit_core.inference.group_reader_training import acceptance_figures, fit_acceptance, frame_targets, read_right

SIDECAR = {"format": group_reader.FORMAT,
           "acceptance": {"weights": [0.0] * len(group_reader.ACCEPTANCE_FEATURES)}}


def _frames(middles: dict[int, tuple[int, float]]) -> np.ndarray:
    """Frames that say "none" surely except at ``middles``: {frame: (digit, chance of that digit)}."""
    frames = np.zeros((FRAMES, 11), np.float32)
    frames[:, 0] = 1.0
    for frame, (digit, chance) in middles.items():
        frames[frame] = 0.0
        frames[frame, 0], frames[frame, 1 + digit] = 1.0 - chance, chance
    return frames


def test_a_digit_is_found_where_it_beats_none_and_its_neighbours() -> None:
    frames = _frames({10: (4, 0.9), 30: (2, 0.6), 50: (7, 0.4)})  # 7 is less likely than none
    assert digits_in_frames(frames) == [10, 30]
    assert read_right(frames[np.newaxis], ["42"]) == {"groups of 2 read right": 1.0, "groups of 2": 1}


def test_two_middles_within_the_separation_are_one_digit_and_the_surer_is_kept() -> None:
    frames = _frames({20: (1, 0.7), 21: (1, 0.95), 40: (1, 0.9)})
    assert digits_in_frames(frames) == [21, 40]


def test_the_group_image_keeps_the_group_s_shape_and_maps_frames_back_to_its_columns() -> None:
    ink = np.zeros((100, 300), np.uint8)
    ink[20:80, 50:170] = 255  # a 120 × 60 block of ink
    strokes = np.ones((60, 120), bool)
    image = group_image(ink, strokes, (50, 20, 170, 80))
    columns = np.flatnonzero(image.pixels.max(axis=0) > 0.5)
    rows = np.flatnonzero(image.pixels.max(axis=1) > 0.5)
    assert image.pixels.shape == GROUP_SHAPE and image.pixels.max() == pytest.approx(1.0)
    assert len(rows) == GROUP_SHAPE[0] - 2 * group_reader.MARGIN and len(columns) == pytest.approx(56, abs=1)
    # The frame over the block's middle column maps back to the middle of the block in the ink.
    middle_frame = int(columns.mean()) // FRAME_WIDTH
    assert image.ink_x(middle_frame) == pytest.approx(110, abs=FRAME_WIDTH / image.scale)
    assert image.column(image.ink_x(middle_frame)) == pytest.approx((middle_frame + 0.5) * FRAME_WIDTH)


def test_training_targets_mark_each_middle_and_leave_its_neighbours_out() -> None:
    targets, weights = frame_targets(["42", ""], [[21.0, 61.0], []])
    assert np.flatnonzero(targets[0]).tolist() == [10, 30] and targets[0, 10] == 5 and targets[0, 30] == 3
    assert weights[0, [9, 11, 29, 31]].tolist() == [0.0] * 4 and weights[0, 10] > 1 and weights[0, 0] == 1
    assert not targets[1].any() and (weights[1] == 1).all()  # a group with no digit: none everywhere


def _shipped_reader():
    path = config.project_root() / "models" / group_reader.FILE_NAME
    if not path.is_file():
        pytest.fail(f"the group reader is not shipped at {path}")
    return load_group_reader(path)


def test_the_shipped_reader_finds_both_digits_of_a_touching_pair_and_where_they_are() -> None:
    inks = [strokes_ink(digit_styles(digit)[0], 120, 12) for digit in (4, 7)]
    canvas, boxes = compose_number(inks, [TOUCHING])
    layout = segment.find_digits(canvas)
    assert len(layout.groups) == 1
    group = layout.groups[0]
    found = _shipped_reader().read([group_image(layout.ink, group.strokes, group.box)])[0]
    assert [int(digit.probabilities.argmax()) for digit in found] == [4, 7]
    for digit, (x, _, width, _) in zip(found, boxes):
        assert x <= digit.x <= x + width
    # Its acceptance takes the finding, and the cut between them runs between their middles.
    assert _shipped_reader().accepts(group_reader.acceptance_features(found, None, group.width / layout.line_height))
    path = cuts.cuts_between(layout, group, [digit.x - group.box[0] for digit in found])[0]
    assert found[0].x < group.box[0] + np.median(path) < found[1].x


def test_the_shipped_reader_says_how_it_was_trained() -> None:
    about = _shipped_reader().about
    assert about["format"] == group_reader.FORMAT
    assert about["trained_on"]["writers"].startswith("training")
    assert about["validation"]["groups of 2 read right"] > 0.9


@pytest.mark.parametrize("damage, message", [
    ("onnx", "Cannot read the group reader"),  # not an ONNX file
    ("sidecar", "not a digit_core.group_reader/1 file"),
    ("acceptance", "holds no 6 finite acceptance weights"),
    ("missing", "Cannot read the group reader"),
])
def test_a_damaged_foreign_or_missing_reader_is_refused_clearly(tmp_path, damage, message) -> None:
    shipped = config.project_root() / "models" / group_reader.FILE_NAME
    path = tmp_path / group_reader.FILE_NAME
    sidecar = {"sidecar": {"format": "something else"}, "acceptance": {**SIDECAR, "acceptance": {
        "weights": [1.0, float("nan")]}}}.get(damage, SIDECAR)
    if damage != "missing":
        path.write_bytes(b"not a network" if damage == "onnx" else shipped.read_bytes())
        path.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(GroupReaderError, match=message):
        load_group_reader(path)


def test_a_network_with_the_wrong_output_is_refused(tmp_path) -> None:
    import keras

    from digit_core.models.export import export_bytes

    model = keras.Sequential([keras.Input((*GROUP_SHAPE, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / group_reader.FILE_NAME
    path.write_bytes(export_bytes(model, "onnx"))
    path.with_suffix(".json").write_text(json.dumps(SIDECAR))
    with pytest.raises(GroupReaderError, match=r"gives \(10,\) per image"):
        load_group_reader(path)


def test_a_missing_reader_is_a_warned_fallback_and_one_in_the_models_directory_comes_first(
        tmp_path, monkeypatch, caplog) -> None:
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models))
    monkeypatch.setattr(config, "project_root", lambda: tmp_path / "checkout")  # no shipped one either
    with caplog.at_level(logging.WARNING, logger="digit_core.inference.group_reader"):
        assert group_reader.default_group_reader() is None
    assert "way scorer alone" in caplog.text and "group_reader_training" in caplog.text
    assert reader_path() == models / group_reader.FILE_NAME


def test_reading_no_images_reads_nothing() -> None:
    assert _shipped_reader().read([]) == []
    blank = GroupImage(np.zeros(GROUP_SHAPE, np.float32), 1.0, 0, 0)
    assert _shipped_reader().read([blank]) == [[]]


def test_the_acceptance_learns_to_refuse_findings_the_network_is_unsure_of() -> None:
    # Findings in groups of several digits: surely present; in single digits: a faint second middle.
    rng = np.random.default_rng(0)
    several = np.arange(200) < 150
    presence = np.where(several, rng.uniform(0.8, 1.0, 200), rng.uniform(0.5, 0.7, 200))
    features = np.column_stack([np.ones(200), np.log(presence), np.log(rng.uniform(0.6, 1.0, 200)),
                                np.log(rng.uniform(0.3, 1.0, 200)), rng.uniform(0.7, 2.0, 200), np.full(200, 2.0)])
    weights = fit_acceptance(features, several)
    assert weights[1] > 0  # the surer the least sure middle, the likelier several digits
    figures = acceptance_figures(weights, features, several)
    assert figures["findings in groups of several digits taken"] > 0.95
    assert figures["findings in single digits taken"] < 0.05
    with pytest.raises(ValueError, match="in groups of several digits and in single digits"):
        fit_acceptance(features[several], several[several])
