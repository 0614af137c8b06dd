"""Smoke run of lab 08 (Unit II, classic architectures), in-process, asserting on its outputs' numbers."""

import json

import keras
import numpy as np
import pytest

from dlcourse import artifacts, catalog
from dlcourse.errors import UserError


def _lab08():
    return catalog.load_lab_module(catalog.get_lab("08"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab08")
    _lab08().main(["--smoke", "--out", str(out)])
    return out / "08_classic_architectures"


def test_architectures_csv_has_the_exact_parameter_counts(folder):
    rows = {row["model"]: row for row in artifacts.read_csv(folder / "architectures.csv")}
    assert int(rows["VGG-16"]["parameters"]) == 138_357_544
    assert int(rows["VGG-16 as the notes' table prints it"]["parameters"]) == 137_767_464
    assert int(rows["GoogLeNet (Inception v1)"]["parameters"]) == 6_998_552
    assert rows["GoogLeNet (Inception v1)"]["notes"] == "~6.8M (003)"
    assert int(rows["ResNet-50"]["parameters"]) == 25_636_712
    assert int(rows["ResNet-18"]["parameters"]) == 11_703_912
    assert int(rows["GoogLeNet, CIFAR-sized"]["parameters"]) == 211_050
    # Plain and residual networks of one depth have the same parameters (zero-padding shortcuts).
    for depth in (8, 14):
        plain = rows[f"plain-{depth} (CIFAR, filters (4, 8, 16))"]["parameters"]
        assert rows[f"ResNet-{depth} (CIFAR, filters (4, 8, 16))"]["parameters"] == plain
    assert int(rows["plain-14 (CIFAR, filters (4, 8, 16))"]["parameters"]) == 11_398


def test_degradation_outputs_agree_with_the_histories(folder):
    records = artifacts.read_csv(folder / "degradation.csv")
    assert [row["model"] for row in records] == ["plain8", "resnet8", "plain14", "resnet14"]  # 1 epoch each
    for row in records:
        history = artifacts.read_csv(folder / f"{row['model']}_history.csv")
        assert len(history) == 1
        assert float(row["training_error"]) == pytest.approx(1 - float(history[0]["accuracy"]), abs=1e-5)
        assert 0.0 <= float(row["training_error"]) <= 1.0
    assert (folder / "degradation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((folder / "run.json").read_text())
    metrics = record["metrics"]
    assert metrics["plain_degradation"] == pytest.approx(
        metrics["plain14_training_error"] - metrics["plain8_training_error"])
    assert record["depths"] == [8, 14] and record["parameters"] == 11_398


def test_saved_models_reload_and_keep_their_shortcuts(folder):
    for depth, blocks in ((8, 3), (14, 6)):
        residual = artifacts.load_model(folder / f"resnet{depth}_cifar.h5")
        plain = artifacts.load_model(folder / f"plain{depth}_cifar.h5")
        assert residual.count_params() == plain.count_params()
        assert sum(isinstance(layer, keras.layers.Add) for layer in residual.layers) == blocks
        assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
        probabilities = residual.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)  # softmax output


@pytest.mark.parametrize("depths", [["10", "20"], ["20", "14"]])
def test_bad_depths_are_user_errors(depths, tmp_path):
    with pytest.raises(UserError):
        _lab08().main(["--smoke", "--depths", *depths, "--out", str(tmp_path)])
    assert not (tmp_path / "08_classic_architectures").exists()  # nothing half-written
