"""The NumPy forward pass computes what Keras computes, for every zoo network and for ensembles."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core import zoo
from digit_core.numpy_forward import compile_forward


def _randomise_batch_norm(model, rng: np.random.Generator) -> None:
    """Give every batch norm non-trivial statistics, so folding it into the layer before is exercised."""
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            channels = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.3, channels),
                               rng.normal(0, 0.5, channels), rng.uniform(0.2, 2.0, channels)])


def _images(mnist, count: int = 12) -> np.ndarray:
    return (mnist.x_test[:count].astype(np.float32) / 255.0)[..., np.newaxis]  # (count, 28, 28, 1)


@pytest.mark.parametrize("network", [
    zoo.get_entry("slp").network,
    zoo.get_entry("mlp_512_dropout").network,
    zoo.MLPConfig((32, 16), activation="tanh"),
    zoo.MLPConfig((32,), activation="sigmoid"),
    zoo.MLPConfig((32,), activation="elu"),
    zoo.get_entry("cnn_32_64").network,
    zoo.get_entry("cnn_32_64_64").network,
    zoo.get_entry("fast").network,
    zoo.get_entry("best").network,
    zoo.CNNConfig(blocks=((8, 8), (16,)), pool_after=(True, False), dense_units=(), padding="same",
                  batch_norm=True, global_pool=True),
], ids=lambda network: type(network).__name__)
def test_forward_matches_keras(network, mnist) -> None:
    model = zoo.build_network(network)
    _randomise_batch_norm(model, np.random.default_rng(1))
    forward = compile_forward(model)
    assert forward is not None
    images = _images(mnist)
    expected = np.asarray(model(images, training=False))
    got = forward(images)
    assert got.shape == (12, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_three_by_three_pooling_after_relu(mnist) -> None:
    import keras

    # The translator swaps ReLU and max-pooling (they commute); any pool size must stay exact.
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(6, 3, activation="relu"),
                              keras.layers.MaxPooling2D(3), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    forward = compile_forward(model)
    assert forward is not None
    images = _images(mnist)
    np.testing.assert_allclose(forward(images), np.asarray(model(images, training=False)), atol=2e-5)


def test_unsupported_layer_gives_none(mnist) -> None:
    # GELU is not translated; the caller must fall back to TensorFlow, not get a wrong answer.
    model = zoo.build_network(zoo.MLPConfig((16,), activation="gelu"))
    assert compile_forward(model) is None


def test_predictor_small_and_large_batches_agree(mnist) -> None:
    from digit_core.predict import SMALL_BATCH, Predictor

    model = zoo.build_network(zoo.get_entry("best").network)
    _randomise_batch_norm(model, np.random.default_rng(2))
    predictor = Predictor(model)
    images = mnist.x_test[:SMALL_BATCH + 4]  # uint8, as the app's callers pass them
    batched = predictor.probabilities(images)  # more than SMALL_BATCH: TensorFlow
    one_by_one = np.concatenate([predictor.probabilities(image) for image in images])  # NumPy
    np.testing.assert_allclose(one_by_one, batched, atol=2e-5)


def test_ensemble_averages_members(mnist) -> None:
    from digit_core.ensemble import average_models

    rng = np.random.default_rng(3)
    members = [zoo.build_network(zoo.get_entry(name).network, name="same_name") for name in ("best", "tiny")]
    for member in members:
        _randomise_batch_norm(member, rng)
    ensemble = average_models(members)
    images = _images(mnist)
    expected = np.mean([np.asarray(member(images, training=False)) for member in members], axis=0)
    np.testing.assert_allclose(np.asarray(ensemble(images, training=False)), expected, atol=1e-6)
    forward = compile_forward(ensemble)
    assert forward is not None
    np.testing.assert_allclose(forward(images), expected, atol=2e-5)


def _batch_norm_first(name: str):
    import keras

    # A batch norm no layer before it can absorb, on the input every member shares.
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.BatchNormalization(),
                             keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                             keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")], name=name)


@pytest.mark.parametrize("build", [
    lambda name: zoo.build_network(zoo.get_entry("best").network, name=name),
    lambda name: zoo.build_network(zoo.MLPConfig((32, 16), activation="tanh"), name=name),
    _batch_norm_first,
], ids=["best", "mlp", "batch-norm-first"])
def test_members_of_one_architecture_run_as_one_stack(build, mnist) -> None:
    from digit_core import numpy_forward
    from digit_core.ensemble import average_models

    rng = np.random.default_rng(4)
    members = [build("same_name") for _ in range(3)]
    for member in members:
        _randomise_batch_norm(member, rng)
    # Every step holds the three members' weights, so one call runs them all.
    stacked = numpy_forward._stack_members([numpy_forward._compile_sequential(member.layers) for member in members])
    weighted = [step for step in stacked if isinstance(step, (numpy_forward._Affine, numpy_forward._Scale))]
    assert weighted and all(len(getattr(step, "biases", getattr(step, "scale", None))) == 3 for step in weighted)
    images = _images(mnist)
    expected = np.mean([np.asarray(member(images, training=False)) for member in members], axis=0)
    np.testing.assert_allclose(numpy_forward._run(stacked)(images), expected, atol=2e-5)
    forward = compile_forward(average_models(members))
    assert forward is not None
    got = forward(images)
    assert got.shape == (12, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5)
    np.testing.assert_allclose(forward(images[:1]), expected[:1], atol=2e-5)  # one drawing, as the app asks


def _dense_on_feature_maps(name: str):
    import keras

    # Keras applies Dense to the last axis of a (N, H, W, C) map.
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.MaxPooling2D(2), keras.layers.Dense(6, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(10, activation="softmax")], name=name)


# Members of different depths: test_ensemble_averages_members (best and tiny).
@pytest.mark.parametrize("builds", [
    (lambda name: zoo.build_network(zoo.MLPConfig((32,)), name=name),
     lambda name: zoo.build_network(zoo.MLPConfig((16,)), name=name)),  # different widths
    (lambda name: zoo.build_network(zoo.MLPConfig((32,)), name=name),
     lambda name: zoo.build_network(zoo.MLPConfig((32,), activation="tanh"), name=name)),  # other layers
    (_dense_on_feature_maps, _dense_on_feature_maps),  # one architecture, a dense layer on 4-D maps
], ids=["widths", "activations", "dense-on-maps"])
def test_every_ensemble_of_translatable_members_matches_keras(builds, mnist) -> None:
    from digit_core.ensemble import average_models

    rng = np.random.default_rng(5)
    members = [build("same_name") for build in builds]
    for member in members:
        _randomise_batch_norm(member, rng)
    images = _images(mnist)
    expected = np.mean([np.asarray(member(images, training=False)) for member in members], axis=0)
    forward = compile_forward(average_models(members))
    assert forward is not None
    np.testing.assert_allclose(forward(images), expected, atol=2e-5)


def test_members_of_different_architectures_are_not_stacked() -> None:
    from digit_core import numpy_forward

    for names in (("best", "fast"), ("mlp_128_128", "mlp_300_100")):  # other depths; same depth, other widths
        members = [zoo.build_network(zoo.get_entry(name).network) for name in names]
        with pytest.raises(numpy_forward.Unsupported):
            numpy_forward._stack_members([numpy_forward._compile_sequential(member.layers) for member in members])


def test_a_translation_that_disagrees_with_keras_is_refused(monkeypatch) -> None:
    from digit_core import numpy_forward

    # A wrong flattening order (channels first) must be caught by the check against Keras on load.
    # Steps see a stack of activations: (members, N, H, W, C).
    wrong_flatten = lambda layer: [lambda x: x.transpose(0, 1, 4, 2, 3).reshape(*x.shape[:2], -1)]  # noqa: E731
    monkeypatch.setitem(numpy_forward._TRANSLATORS, "Flatten", wrong_flatten)
    model = zoo.build_network(zoo.get_entry("cnn_32_64").network)
    assert compile_forward(model) is None
