"""The Model page's numbers: layer table with parameter formulas, weights and first-layer filters."""

from __future__ import annotations

from digit_core.models import inspect_model, zoo


def test_cnn_layer_table_explains_each_parameter_count() -> None:
    model = zoo.build_network(zoo.get_entry("tiny").network)  # conv 4, pool, flatten, dense 16, dense 10
    rows = inspect_model.layer_table(model)
    assert [row["type"] for row in rows] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert rows[0]["output shape"] == "(None, 26, 26, 4)" and rows[0]["how"] == "3×3×1×4 + 4 = 40"
    assert rows[1]["how"] == "no parameters" and rows[2]["output shape"] == "(None, 676)"
    assert rows[3]["how"] == "676×16 + 16 = 10,832" and rows[3]["params"] == 10832
    assert sum(row["params"] for row in rows) == model.count_params()
    assert inspect_model.first_layer_filters(model).shape == (4, 3, 3)


def test_batch_norm_and_bias_free_convolutions() -> None:
    network = zoo.CNNConfig(blocks=((8,),), pool_after=(True,), dense_units=(), batch_norm=True)
    rows = {row["type"]: row for row in inspect_model.layer_table(zoo.build_network(network))}
    assert rows["Conv2D"]["how"] == "3×3×1×8 = 72"
    assert rows["BatchNormalization"]["how"].startswith("4×8 = 32")


def test_mlp_weights_and_templates() -> None:
    model = zoo.build_network(zoo.MLPConfig(hidden_units=(32,)))
    rows = inspect_model.layer_table(model)
    assert rows[1]["how"] == "784×32 + 32 = 25,120"
    weights = inspect_model.weight_arrays(model)
    assert [(layer, name, values.shape) for layer, name, values in weights][:2] == [
        (rows[1]["layer"], "kernel", (784, 32)), (rows[1]["layer"], "bias", (32,))]
    assert inspect_model.first_layer_filters(model).shape == (32, 28, 28)


def test_ensemble_lists_each_members_layers() -> None:
    from digit_core.models.ensemble import average_models

    members = [zoo.build_network(zoo.get_entry("tiny").network) for _ in range(2)]
    model = average_models(members)
    rows = inspect_model.layer_table(model)
    names = [row["layer"] for row in rows]
    assert sum(name.startswith("member_0/") for name in names) == 5
    assert sum(name.startswith("member_1/") for name in names) == 5
    assert rows[-1]["type"] == "Average" and rows[-1]["how"] == "no parameters"
    assert sum(row["params"] for row in rows) == model.count_params() == 2 * members[0].count_params()
    weight_layers = {layer for layer, _, _ in inspect_model.weight_arrays(model)}
    # Each member's convolution and two dense layers, each under its member's name.
    assert len(weight_layers) == 6
    assert sorted(layer.split("/")[0] for layer in weight_layers) == ["member_0"] * 3 + ["member_1"] * 3
    assert inspect_model.first_layer_filters(model).shape == (4, 3, 3)
