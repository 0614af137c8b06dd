"""Unit I labs (01-04) end to end with --smoke; their saved outputs re-checked against the numbers they claim."""

import json

import numpy as np
import pytest

from dlcourse import artifacts, data
from dlcourse.scratch.perceptron import truth_table
from lab_runs import run_record, run_smoke

pytestmark = pytest.mark.slow


def _run(number, tmp_path, *flags):
    folder = run_smoke(number, tmp_path, *flags)
    return folder, run_record(folder)


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_lab01_perceptron(tmp_path, capsys):
    folder, record = _run("01", tmp_path)
    assert record["weights"] == pytest.approx([0.2, 0.1]) and record["bias"] == pytest.approx(-0.2)
    assert record["metrics"]["epochs"] == 2 and record["metrics"]["updates"] == 2
    assert record["decision_line"] == {"coefficients": [2.0, 1.0, -2.0], "equation": "2 e1 + e2 - 2 = 0"}
    assert [(update["epoch"], update["example"]) for update in record["updates"]] == [(1, 1), (1, 2)]
    assert record["updates"][0]["weights"] == pytest.approx([0.0, 0.3])
    assert record["xor"]["converged"] is False and record["xor"]["min_errors_per_epoch"] >= 1
    assert record["xor"]["two_layer_outputs"] == [-1, 1, -1, 1]
    assert _is_png(folder / "decision_line.png")
    assert "lab01 weights=[0.2, 0.1]" in capsys.readouterr().out


def test_lab02_xor_mlp(tmp_path):
    folder, record = _run("02", tmp_path)
    assert record["parameters"] == 9 and record["training_steps"] == 200
    assert record["metrics"]["accuracy_xor"] == 1.0 and record["metrics"]["accuracy_xnor"] == 1.0
    assert record["metrics"]["hand_set_exact"] is True
    inputs, xor = truth_table("xor")
    for name, targets in (("xor_mlp.h5", xor), ("xnor_mlp.h5", 1.0 - xor)):
        model = artifacts.load_model(folder / name)
        assert model.count_params() == 9
        probabilities = model.predict(inputs, verbose=0).ravel()
        np.testing.assert_array_equal(probabilities > 0.5, targets > 0.5)
    assert record["hand_set"]["xnor"]["outputs"] == pytest.approx([1, 0, 0, 1], abs=0.01)
    assert _is_png(folder / "decision_regions.png")
    assert len(artifacts.read_csv(folder / "xor_history.csv")) == 10


def test_lab03_deep_ffn(tmp_path):
    folder, record = _run("03", tmp_path)
    assert record["parameters"] == 242_762
    rows = artifacts.read_csv(folder / "optimizer_comparison.csv")
    assert [row["optimizer"] for row in rows] == ["sgd", "momentum", "rmsprop", "adam", "adagrad", "adamw"]
    assert [float(row["learning_rate"]) for row in rows] == pytest.approx([0.01, 0.01, 1e-3, 1e-3, 1e-3, 1e-3])
    x_test, y_test = data.load("digits", split="test")
    x_test, y_test = x_test[:128] / 255.0, y_test[:128]  # the smoke run's test images
    for row in rows:
        assert float(row["seconds"]) > 0
        assert record["metrics"][f"test_accuracy_{row['optimizer']}"] == pytest.approx(float(row["test_accuracy"]),
                                                                                     abs=1e-5)
        model = artifacts.load_model(folder / f"ffn_{row['optimizer']}.h5")
        assert model.count_params() == 242_762 and model.output_shape == (None, 10)
        predictions = np.argmax(model.predict(x_test, verbose=0), axis=-1)
        assert float(row["test_accuracy"]) == pytest.approx(np.mean(predictions == y_test), abs=1e-5)
    assert record["adam_first_step"]["notes"] == pytest.approx(3.162e-3, rel=1e-3)
    assert record["adam_first_step"]["bias_corrected"] == pytest.approx(1.0e-3, rel=1e-6)
    assert _is_png(folder / "optimizer_comparison.png")
    # Same initial weights for every optimizer: after a few small SGD steps the first kernels of
    # "sgd" and "momentum" still nearly agree (independent Glorot draws would differ by ~0.1).
    first = [artifacts.load_model(folder / f"ffn_{name}.h5").get_layer("deep_ffn_dense1").get_weights()[0]
             for name in ("sgd", "momentum")]
    assert np.max(np.abs(first[0] - first[1])) < 0.05
    # capacity sweep (--smoke: two variants): parameters of 784-h...-10 by formula
    capacity = {row["variant"]: row for row in artifacts.read_csv(folder / "capacity_sweep.csv")}
    assert list(capacity) == ["1x8", "3x64"]
    for row in capacity.values():
        widths = [784] + [int(units) for units in row["hidden_units"].split()] + [10]
        assert int(row["parameters"]) == sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    assert int(capacity["1x8"]["parameters"]) == 6_370
    # batch / stochastic / mini-batch GD: --smoke trains on 36 images, 32 after the 10% validation split
    gd = {row["variant"]: row for row in artifacts.read_csv(folder / "gradient_descent.csv")}
    assert [(int(gd[name]["batch_size"]), int(gd[name]["updates"])) for name in ("batch", "stochastic", "minibatch")] \
        == [(32, 1), (1, 32), (32, 1)]
    curves = record["gradient_descent"]
    assert curves["stochastic"]["updates"] == [0, 32] and curves["batch"]["val_loss"][0] == curves["stochastic"]["val_loss"][0]
    assert record["metrics"]["validation_loss_gd_stochastic"] == pytest.approx(curves["stochastic"]["val_loss"][-1], abs=1e-4)
    assert _is_png(folder / "capacity_sweep.png") and _is_png(folder / "gradient_descent.png")


def test_lab04_backprop(tmp_path):
    folder, record = _run("04", tmp_path)
    report = json.loads((folder / "gradient_check.json").read_text())
    assert report["passed"] is True and report["max_relative_error"] <= 1e-6
    assert set(report["checks"]) == {"cross_entropy_sigmoid", "cross_entropy_tanh", "cross_entropy_relu",
                                     "mse_xor_tanh_sigmoid"}
    assert set(report["checks"]["cross_entropy_relu"]["relative_error"]) == {
        f"layer{i}_{kind}" for i in (1, 2, 3) for kind in ("kernel", "bias")}
    assert record["parameters"] == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert record["metrics"]["final_loss"] < record["metrics"]["initial_loss"]
    assert record["losses"][0] == pytest.approx(record["metrics"]["initial_loss"])
    assert _is_png(folder / "loss_curve.png")
