"""Smoke runs of labs 05, 06, 07 and 09 (Unit II), in-process, asserting on their outputs' numbers."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from dlcourse import artifacts, catalog, data
from dlcourse.augmentation import LISTING_II_C
from lab_runs import run_smoke


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("unit2")


def test_lab05_activations_and_pooling(out):
    folder = run_smoke("05", out)
    assert (folder / "activations.png").stat().st_size > 10_000
    pooling = json.loads((folder / "pooling.json").read_text())
    region = pooling["worked_region"]
    assert region["numpy"]["max"] == [[4.0]] and region["keras"]["max"] == [[4.0]]  # the notes' answer
    assert region["keras"]["average"] == [[2.5]] and region["keras"]["min"] == [[1.0]]
    feature_map = pooling["feature_map"]
    assert feature_map["input_shape"] == [4, 4] and feature_map["output_shape"] == [2, 2]
    assert feature_map["keras"]["max"] == [[6.0, 8.0], [3.0, 4.0]]
    assert feature_map["keras"]["min"] == [[1.0, 2.0], [1.0, 0.0]]
    saved = json.loads((folder / "activations.json").read_text())
    values = saved["worked_values"]
    assert values["leaky_relu(-10, alpha=0.01)"] == pytest.approx(-0.1)
    assert values["gelu(1)"] == pytest.approx(0.8413, abs=1e-4) and values["swish(1)"] == pytest.approx(0.7311, abs=1e-4)
    assert values["prelu(-2, alpha=0.25)"] == pytest.approx(-2 * saved["prelu_alpha"])
    assert {"prelu", "gelu", "swish"} <= set(saved["gradient_check"]) and values["min gelu"] < 0
    record = json.loads((folder / "run.json").read_text())
    assert record["metrics"]["derivatives_match"] is True
    assert record["metrics"]["max_derivative_error"] < 1e-6
    assert record["metrics"]["pooling_layers_agree"] is True


def test_lab06_cifar10_cnn(out, capsys):
    folder = run_smoke("06", out)
    printed = capsys.readouterr().out
    assert re.search(r"^Test accuracy: [01]\.\d\d$", printed, re.MULTILINE)
    for name in ("cnn_cifar10_model.h5", "sample_images.png", "learning_curves.png", "confusion_matrix.png",
                 "history.csv", "run.json"):
        assert (folder / name).is_file(), name
    record = json.loads((folder / "run.json").read_text())
    assert record["parameters"] == 122_954 and record["non_trainable_parameters"] == 192
    assert record["dataset"]["name"] == "shapes"
    history = artifacts.read_csv(folder / "history.csv")
    assert len(history) == 1 and "val_accuracy" in history[0]  # validated on a training split
    model = artifacts.load_model(folder / "cnn_cifar10_model.h5")
    assert model.count_params() == 122_954 and model.output.shape[-1] == 10
    # The recorded test accuracy is the saved model's on the smoke run's 128 test images.
    x_test, y_test = data.load("shapes", split="test")
    predictions = np.argmax(model.predict(x_test[:128] / 255.0, verbose=0), axis=-1)
    assert record["metrics"]["test_accuracy"] == pytest.approx(np.mean(predictions == y_test[:128]), abs=1e-6)


def test_lab06_listing_a_shows_the_notes_mistake_then_trains(tmp_path):
    folder = run_smoke("06", tmp_path, "--listing", "a", "--validate-on", "test")  # as the notes validate
    record = json.loads((folder / "run.json").read_text())
    # --validate-on test: the last epoch's validation loss is the final model's test loss
    assert record["validation"].startswith("test set")
    assert float(artifacts.read_csv(folder / "history.csv")[-1]["val_loss"]) == pytest.approx(
        record["metrics"]["test_loss"], rel=1e-4)
    # erratum A24: categorical_crossentropy on integer labels: Keras refuses the (batch,) targets
    assert "target" in record["listing_a_error"] and "(32,)" in record["listing_a_error"]
    # Listing II-A on 32x32x3: conv (3*3*3+1)*32, dense (15*15*32+1)*128, output (128+1)*10
    assert record["parameters"] == 896 + (15 * 15 * 32 + 1) * 128 + 1290 == 923_914
    model = artifacts.load_model(folder / "simple_cnn_model.h5")
    assert model.count_params() == 923_914 and model.output.shape[-1] == 10
    x_test, y_test = data.load("shapes", split="test")
    predictions = np.argmax(model.predict(x_test[:128] / 255.0, verbose=0), axis=-1)
    assert record["metrics"]["test_accuracy"] == pytest.approx(np.mean(predictions == y_test[:128]), abs=1e-6)
    assert len(artifacts.read_csv(folder / "history.csv")) == 1 and not (folder / "cnn_cifar10_model.h5").exists()


def test_lab07_lenet5(out):
    folder = run_smoke("07", out)
    rows = artifacts.read_csv(folder / "lenet5_layers.csv")
    assert [row["layer"] for row in rows] == ["C1", "S2", "C3", "S4", "C5", "F6", "OUTPUT"]
    assert [int(row["parameters"]) for row in rows] == [156, 12, 1516, 32, 48120, 10164, 850]
    assert all(row["output_shape"] == row["handbook_output_shape"] for row in rows)
    record = json.loads((folder / "run.json").read_text())
    assert record["parameters"] == 60_850 and record["matches_handbook"] is True
    model = artifacts.load_model(folder / "lenet5.h5")
    # .inputs, not .input: a model reloaded from .h5 on Keras 3.10 has a one-element list there
    assert model.inputs[0].shape[1:] == (32, 32, 1)  # the digits were padded from 28x28
    assert (folder / "confusion_matrix.png").is_file()
    x_test, y_test = data.load("digits", split="test")
    padded = np.pad(x_test[:128], ((0, 0), (2, 2), (2, 2), (0, 0))) / 255.0
    predictions = np.argmax(model.predict(padded, verbose=0), axis=-1)
    assert record["metrics"]["test_accuracy"] == pytest.approx(np.mean(predictions == y_test[:128]), abs=1e-6)


def test_lab_models_load_in_a_fresh_process(out):
    """Only ``import dlcourse``: the custom layers (Subsampling, PartialConv2D) must be registered."""
    paths = [out / "06_cifar10_cnn" / "cnn_cifar10_model.h5", out / "07_lenet5" / "lenet5.h5"]
    if not all(path.is_file() for path in paths):
        pytest.skip("needs the lab 06 and 07 smoke runs above")
    script = ("import sys, keras, dlcourse\n"
              "print(*[keras.saving.load_model(p).count_params() for p in sys.argv[1:]])\n")
    result = subprocess.run([sys.executable, "-c", script, *map(str, paths)], capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["122954", "60850"]


def test_lab09_regularization(out):
    folder = run_smoke("09", out)
    normalization = {row["variant"]: row for row in artifacts.read_csv(folder / "normalization_comparison.csv")}
    assert set(normalization) == {"batch", "instance"}  # --smoke keeps two of the five
    assert int(normalization["batch"]["parameters"]) == 122_954
    assert int(normalization["instance"]["parameters"]) == 122_762  # no moving statistics
    dropout = [row["variant"] for row in artifacts.read_csv(folder / "dropout_comparison.csv")]
    assert dropout == ["none", "dropout_0.5"]
    augmentation = {row["variant"]: row for row in artifacts.read_csv(folder / "augmentation_comparison.csv")}
    assert set(augmentation) == {"none", "combined", "cutmix"}
    # Listing II-B without dropout or augmentation is trained once and reported in each table
    assert augmentation["none"]["val_accuracy"] == normalization["batch"]["val_accuracy"]
    for row in augmentation.values():
        assert 0.0 <= float(row["test_accuracy"]) <= 1.0
    decay = {row["variant"]: row for row in artifacts.read_csv(folder / "weight_decay_comparison.csv")}
    assert list(decay) == ["none", "l1", "l2"]
    assert decay["none"]["val_accuracy"] == normalization["batch"]["val_accuracy"]  # the same model, trained once
    assert float(decay["none"]["weight_penalty"]) == 0.0
    # λ Σ|w| over ~123k kernel weights of size ~0.05 is far above λ Σ w² (λ = 1e-4 for both)
    assert float(decay["l1"]["weight_penalty"]) > 5 * float(decay["l2"]["weight_penalty"]) > 0.0
    assert (folder / "augmentation_grid.png").stat().st_size > 50_000
    assert (folder / "comparison_curves.png").is_file()
    assert json.loads((folder / "augmentation_layers.json").read_text()) == LISTING_II_C
    regularization = json.loads((folder / "regularization.json").read_text())
    assert regularization["dropout"]["kept_value"] == pytest.approx(2.0)  # 1 / (1 - 0.5)
    assert 35 <= regularization["dropout"]["active_in_training"] <= 65  # "about 50" of 100
    assert regularization["normalization"]["instance"]["standardised_per"]["example and channel over H,W"]
    assert not regularization["normalization"]["batch"]["standardised_per"]["example over H,W,C"]


def test_lab09_rejects_unknown_experiment(out):
    module = catalog.load_lab_module(catalog.get_lab("09"))
    with pytest.raises(SystemExit) as error:
        module.main(["--experiments", "weight_sharing", "--smoke", "--out", str(out)])
    assert error.value.code == 2


def test_lab06_rejects_a_validation_split_of_one(tmp_path, capsys):
    module = catalog.load_lab_module(catalog.get_lab("06"))
    with pytest.raises(SystemExit) as error:
        module.main(["--smoke", "--validation-split", "1", "--out", str(tmp_path)])
    assert error.value.code == 2
    assert "argument --validation-split: must be below 1" in capsys.readouterr().err
    assert not (tmp_path / "06_cifar10_cnn").exists()
