"""The learned number-split scorer: its features, its JSON file (saved, reloaded, refused when damaged,
a warned fallback when missing), and the fits behind it, on small synthetic groups."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from digit_core import config
from digit_core.inference import number_split
from digit_core.inference.number_split import (FEATURES, GATE_RECALL, HAND_TUNED, WayScorer, WayScorerError, cut_features,
                                     gate_features, load_way_scorer, piece_features, save_way_scorer)
from digit_core.inference.number_split_training import GroupExample, evaluate, fit, fit_choice, fit_gate


def _scorer(seed: int = 0) -> WayScorer:
    rng = np.random.default_rng(seed)
    return WayScorer(rng.normal(size=len(FEATURES)), rng.normal(size=len(FEATURES)), 0.25, {"fitted_on": "a test"})


def test_piece_and_cut_features_fill_their_own_places() -> None:
    probabilities = np.array([0.9, 0.1] + [0.0] * 8, np.float32)
    piece = piece_features(0.5, 1.2, probabilities)
    named = dict(zip(FEATURES, piece))
    assert named["piece"] == 1 and named["log_confidence"] == pytest.approx(np.log(0.9))
    assert named["log_margin"] == pytest.approx(np.log(9)) and named["wider_than_1.1"] == pytest.approx(0.1)
    assert named["shorter_than_0.6"] == pytest.approx(0.1) and named["narrower_than_0.2"] == 0
    assert named["crossed_per_line_height"] == named["strokes_crossed"] == 0
    cut = dict(zip(FEATURES, cut_features(24, line_height=120, stroke_width=12)))
    assert cut["crossed_per_line_height"] == pytest.approx(0.2) and cut["strokes_crossed"] == pytest.approx(2)
    assert cut["piece"] == cut["log_confidence"] == 0


def test_the_gate_weighs_the_whole_with_its_cheapest_cut() -> None:
    whole = piece_features(1.0, 1.3, np.full(10, 0.1, np.float32))
    cheap, dear = cut_features(10, 100, 10), cut_features(30, 100, 10)
    assert np.allclose(gate_features(whole, [dear, cheap]), whole + cheap)


def test_a_scorer_survives_its_json_file_and_scores_by_its_weights(tmp_path) -> None:
    scorer = _scorer()
    path = save_way_scorer(scorer, tmp_path / "number_split.json")
    loaded = load_way_scorer(path)
    assert np.allclose(loaded.weights, scorer.weights, atol=1e-6)
    assert np.allclose(loaded.gate_weights, scorer.gate_weights, atol=1e-6)
    assert loaded.gate_threshold == 0.25 and loaded.about == {"fitted_on": "a test"}
    features = np.random.default_rng(1).normal(size=(3, len(FEATURES)))
    assert np.allclose(loaded.score(features), features @ scorer.weights, atol=1e-4)
    gate = float(features[0] @ loaded.gate_weights)
    assert loaded.worth_cutting(features[0]) == (gate >= 0.25)


def test_a_group_whose_whole_alone_stays_under_the_gate_needs_no_cut_looked_for() -> None:
    gate_weights = np.zeros(len(FEATURES))
    gate_weights[FEATURES.index("wider_than_0.7")] = 1.0
    gate_weights[FEATURES.index("crossed_per_line_height")] = -1.0
    scorer = WayScorer(np.zeros(len(FEATURES)), gate_weights, 0.1)
    narrow, wide = (piece_features(1.0, width, np.full(10, 0.1, np.float32)) for width in (0.75, 1.3))
    assert not scorer.might_cut(narrow) and scorer.might_cut(wide)
    # Whatever its cuts cross, the narrow group stays under the gate.
    assert not any(scorer.worth_cutting(gate_features(narrow, [cut_features(crossed, 100, 10)]))
                   for crossed in (0, 5, 50))
    gate_weights[FEATURES.index("strokes_crossed")] = 0.5  # a cut could now raise the score
    assert WayScorer(np.zeros(len(FEATURES)), gate_weights, 0.1).might_cut(narrow)


@pytest.mark.parametrize("damage, message", [
    (lambda payload: "{not json", "not valid JSON"),
    (lambda payload: {**payload, "format": "pickle"}, "not a number-split scorer"),
    (lambda payload: {**payload, "features": payload["features"][:-1]}, "features are not the ones"),
    (lambda payload: {**payload, "weights": payload["weights"][:-1]}, "weights are not 12 finite numbers"),
    (lambda payload: {**payload, "gate_weights": ["1"] * 12}, "gate_weights are not 12 finite numbers"),
    (lambda payload: {**payload, "gate_threshold": None}, "gate_threshold is not a finite number"),
])
def test_a_damaged_or_foreign_scorer_file_is_refused_clearly(tmp_path, damage, message) -> None:
    path = tmp_path / "number_split.json"
    damaged = damage(_scorer().to_json())
    path.write_text(damaged if isinstance(damaged, str) else json.dumps(damaged).replace("NaN", "nan"))
    with pytest.raises(WayScorerError, match=message) as raised:
        load_way_scorer(path)
    assert str(path) in str(raised.value)


def test_non_finite_weights_are_refused(tmp_path) -> None:
    payload = _scorer().to_json()
    payload["weights"][3] = float("nan")
    path = tmp_path / "number_split.json"
    path.write_text(json.dumps(payload))  # NaN, as Python's json writes it
    with pytest.raises(WayScorerError, match="weights are not 12 finite numbers"):
        load_way_scorer(path)


def test_a_missing_scorer_file_is_refused_clearly(tmp_path) -> None:
    with pytest.raises(WayScorerError, match="Cannot read the number-split scorer"):
        load_way_scorer(tmp_path / "number_split.json")


@pytest.mark.parametrize("content", [None, "{}"])  # missing; damaged
def test_numbers_are_read_with_the_hand_tuned_rule_when_the_scorer_is_missing_or_damaged(
        tmp_path, monkeypatch, caplog, content) -> None:
    models = tmp_path / "models"
    models.mkdir()
    if content is not None:
        (models / number_split.FILE_NAME).write_text(content)
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models))
    monkeypatch.setattr(config, "project_root", lambda: tmp_path / "checkout")  # no shipped one either
    with caplog.at_level(logging.WARNING, logger="digit_core.inference.number_split"):
        assert number_split.default_way_scorer() is HAND_TUNED
    assert "hand-tuned rule" in caplog.text and "number_split_training" in caplog.text


def test_the_scorer_in_the_models_directory_comes_before_the_shipped_one(tmp_path, monkeypatch) -> None:
    save_way_scorer(_scorer(seed=3), tmp_path / number_split.FILE_NAME)
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(tmp_path))
    assert np.allclose(number_split.default_way_scorer().weights, _scorer(seed=3).weights, atol=1e-6)


def test_the_shipped_scorer_is_small_and_was_fitted_on_training_writers_only() -> None:
    path = config.PROJECT_ROOT / "models" / number_split.FILE_NAME
    assert path.is_file() and path.stat().st_size < 10_000
    scorer = load_way_scorer(path)
    assert scorer.about["fitted_on"]["writers"].startswith("training")
    validation = scorer.about["validation"]
    # On its validation numbers it reads more touching pairs right than the hand-tuned rule did.
    assert (validation["groups of two digits read right"]
            > scorer.about["validation with the hand-tuned rule"]["groups of two digits read right"])


def _synthetic_groups(count: int, seed: int, true_weights: np.ndarray) -> list[GroupExample]:
    """Groups of 2-4 ways with random features; the right way scores highest under ``true_weights``,
    and the group holds two digits when its whole's gate score is high."""
    rng = np.random.default_rng(seed)
    groups = []
    for _ in range(count):
        features = rng.normal(size=(int(rng.integers(2, 5)), len(FEATURES)))
        right = np.zeros(len(features), bool)
        right[int(np.argmax(features @ true_weights))] = True
        gate = features[0]
        groups.append(GroupExample(features, right, 2 if gate[1] + gate[5] > 0.5 else 1, gate))
    return groups


def test_fitting_puts_the_right_ways_on_top_on_groups_it_did_not_see() -> None:
    true_weights = np.random.default_rng(7).normal(size=len(FEATURES))
    weights = fit_choice(_synthetic_groups(400, seed=0, true_weights=true_weights), l2=0.01)
    unseen = _synthetic_groups(300, seed=1, true_weights=true_weights)
    right = np.mean([group.right[int(np.argmax(group.features @ weights))] for group in unseen])
    assert right > 0.9


def test_the_gate_lets_through_its_share_of_groups_of_several_digits() -> None:
    groups = _synthetic_groups(600, seed=2, true_weights=np.ones(len(FEATURES)))
    weights, threshold = fit_gate(groups)
    several = np.array([group.gate_features @ weights >= threshold for group in groups if group.digits > 1])
    single = np.array([group.gate_features @ weights >= threshold for group in groups if group.digits == 1])
    assert several.mean() >= GATE_RECALL and single.mean() < 0.5
    scorer = fit(groups)
    figures = evaluate(scorer, groups)
    assert figures["groups of two digits tried cut"] >= GATE_RECALL


def test_groups_that_teach_nothing_are_refused() -> None:
    alone = GroupExample(np.zeros((1, len(FEATURES))), np.array([True]), 1)
    none_right = GroupExample(np.zeros((2, len(FEATURES))), np.array([False, False]), 2)
    with pytest.raises(ValueError, match="no group"):
        fit_choice([alone, none_right])
