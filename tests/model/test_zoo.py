"""The model zoo: every entry builds and trains, parameter counts match the notebooks, bad settings fail."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core.models import zoo

NOTEBOOK_PARAMETER_COUNTS = {
    "slp": 7_850,
    "mlp_128_128": 118_282,
    "mlp_300_100": 266_610,
    "cnn_32_64": 232_650,
    "cnn_32_64_64": 93_322,
}
NOTEBOOK_OPTIMIZERS = {"slp": "sgd", "mlp_128_128": "adam", "mlp_300_100": "sgd", "mlp_64_64": "sgd",
                       "mlp_128_dropout": "sgd", "mlp_512_dropout": "adam"}


@pytest.mark.parametrize("name, expected", sorted(NOTEBOOK_PARAMETER_COUNTS.items()))
def test_parameter_counts_match_the_notebooks(name: str, expected: int) -> None:
    assert zoo.count_parameters(zoo.get_entry(name).network) == expected


@pytest.mark.parametrize("name, optimizer", sorted(NOTEBOOK_OPTIMIZERS.items()))
def test_a_notebook_model_compiles_with_its_notebooks_optimizer(name: str, optimizer: str) -> None:
    from digit_core.training.train import compile_model

    entry = zoo.get_entry(name)
    model = zoo.build_network(entry.network)
    compile_model(model, entry.training, steps_per_epoch=1)
    assert type(model.optimizer).__name__.lower() == optimizer


@pytest.mark.parametrize("name, rate", [("mlp_128_dropout", 0.3), ("mlp_512_dropout", 0.3), ("cnn_32_64", 0.2)])
def test_dropout_models_drop_units_while_training_only(name: str, rate: float) -> None:
    import keras

    model = zoo.build_network(zoo.get_entry(name).network)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)][:1] == [rate]
    # Reading is deterministic; training draws a new dropout mask each call.
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), np.asarray(model(x, training=False)))
    assert not np.allclose(np.asarray(model(x, training=True)), np.asarray(model(x, training=False)))


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_every_entry_builds_and_trains_a_step(name: str) -> None:
    from digit_core.training.train import compile_model

    entry = zoo.get_entry(name)
    model = zoo.build_network(entry.network)
    compile_model(model, entry.training, steps_per_epoch=1)
    rng = np.random.default_rng(0)
    x = rng.random((8, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert model(x).shape == (8, 10)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("optimizer", zoo.OPTIMIZERS)
def test_every_optimizer_is_available(optimizer: str) -> None:
    training = zoo.TrainConfig(optimizer=optimizer, learning_rate=0.01)
    built = zoo.make_optimizer(training, steps_per_epoch=10)
    assert type(built).__name__.lower() == optimizer


@pytest.mark.parametrize("make, message", [
    (lambda: zoo.TrainConfig(optimizer="adamw"), "Unknown optimizer"),
    (lambda: zoo.TrainConfig(learning_rate=-0.1), "Learning rate"),
    (lambda: zoo.TrainConfig(batch_size=0), "Batch size"),
    (lambda: zoo.TrainConfig(epochs=0), "Epochs"),
    (lambda: zoo.TrainConfig(validation_split=0.7), "Validation split"),
    (lambda: zoo.TrainConfig(early_stopping_patience=-1), "patience"),
    (lambda: zoo.MLPConfig(hidden_units=(0,)), "Hidden units"),
    (lambda: zoo.MLPConfig(dropout_rate=1.0), "Dropout"),
    (lambda: zoo.CNNConfig(blocks=((32,),), pool_after=(True, True)), "pool_after"),
    (lambda: zoo.CNNConfig(blocks=((8,),) * 5, pool_after=(True,) * 5), "shrinks below"),
])
def test_out_of_range_settings_are_clear_errors(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_model_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of .*mlp_128_128"):
        zoo.get_entry("resnet")


def test_overrides_apply_and_validate() -> None:
    training = zoo.with_overrides(zoo.get_entry("slp").training, epochs=3, learning_rate=None)
    assert training.epochs == 3 and training.optimizer == "sgd"
    with pytest.raises(ValueError, match="Unknown setting"):
        zoo.with_overrides(training, colour="red")
    with pytest.raises(ValueError, match="Epochs"):
        zoo.with_overrides(training, epochs=-2)


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_network_config_round_trips_through_json(name: str) -> None:
    import json

    network = zoo.get_entry(name).network
    assert zoo.network_from_dict(json.loads(json.dumps(zoo.network_to_dict(network)))) == network
