"""Smoke run of lab 08 (Unit II, classic architectures), in-process, asserting on its outputs' numbers."""

import json

import keras
import numpy as np
import pytest

from dlcourse import artifacts, catalog
from dlcourse.errors import UserError
from dlcourse.models import count_parameters
from dlcourse.models.googlenet import build_googlenet
from dlcourse.models.resnet import build_resnet
from dlcourse.models.vgg import NOTES_TABLE_STAGES, build_vgg16


def _lab08():
    return catalog.load_lab_module(catalog.get_lab("08"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab08")
    _lab08().main(["--smoke", "--out", str(out)])
    return out / "08_classic_architectures"


def test_architectures_csv_has_the_published_parameter_counts(folder):
    # Under --smoke lab 08 counts the full-size networks from their layers' shapes
    # (dlcourse.models.count_parameters, checked against real builds below); these are the papers' numbers.
    rows = {row["model"]: row for row in artifacts.read_csv(folder / "architectures.csv")}
    assert int(rows["VGG-16"]["parameters"]) == 138_357_544  # Simonyan & Zisserman; keras.applications.VGG16
    # The notes' printed table (block 3 with two convolutions): one 3x3x256x256 convolution fewer.
    assert int(rows["VGG-16 as the notes' table prints it"]["parameters"]) == 138_357_544 - (3 * 3 * 256 * 256 + 256)
    assert int(rows["GoogLeNet (Inception v1)"]["parameters"]) == 6_998_552
    assert rows["GoogLeNet (Inception v1)"]["notes"] == "~6.8M (003)"
    assert int(rows["ResNet-50"]["parameters"]) == 25_636_712  # keras.applications.ResNet50(weights=None)
    assert int(rows["ResNet-18"]["parameters"]) == 11_703_912
    assert int(rows["ResNet-34"]["parameters"]) == 21_823_208
    # The published (torchvision) counts: trainable weights without convolution biases.
    for depth, published in ((18, "11,689,512"), (34, "21,797,672"), (50, "25,557,032")):
        assert rows[f"ResNet-{depth}"]["note"].startswith(f"{published} trainable without conv biases")
    assert all("counted from the layers' shapes" in rows[name]["note"]
               for name in ("VGG-16", "GoogLeNet (Inception v1)", "ResNet-50"))
    assert int(rows["GoogLeNet, CIFAR-sized"]["parameters"]) == 211_050
    # The notes' two inception figures: (a) naive, (b) with 1x1 reductions (GoogLeNet's 3a, 28x28x192 in).
    naive, reduced = rows["Inception 3a, naive (figure (a))"], rows["Inception 3a, with 1x1 reductions (figure (b))"]
    assert (int(naive["parameters"]), int(reduced["parameters"])) == (387_296, 163_696)
    assert "387,072 multiplications" in naive["note"] and "163,328 multiplications" in reduced["note"]
    # Plain and residual networks of one depth have the same parameters (zero-padding shortcuts).
    for depth in (8, 14):
        plain = rows[f"plain-{depth} (CIFAR, filters (4, 8, 16))"]["parameters"]
        assert rows[f"ResNet-{depth} (CIFAR, filters (4, 8, 16))"]["parameters"] == plain
    assert int(rows["plain-14 (CIFAR, filters (4, 8, 16))"]["parameters"]) == 11_398


@pytest.mark.parametrize("build, options, trainable_only, expected", [
    (build_vgg16, dict(stages=NOTES_TABLE_STAGES), False, 137_767_464),  # ~2 s and 550 MB built for real
    (build_resnet, dict(depth=18, use_bias=False), True, 11_689_512),
    (build_googlenet, {}, False, 6_998_552),
], ids=["vgg16_notes_table", "resnet18_trainable_without_biases", "googlenet"])
def test_counting_from_shapes_equals_a_real_build(build, options, trainable_only, expected):
    counted = count_parameters(build, trainable_only=trainable_only, **options)
    model = build(**options)
    weights = model.trainable_weights if trainable_only else model.weights
    assert counted == sum(int(np.prod(weight.shape)) for weight in weights) == expected
    del model
    keras.backend.clear_session()


def test_counting_from_shapes_allocates_no_weight():
    # Every variable of the shape-only build stays uninitialized, and none leaks into this thread:
    # the next layer call here (its StatelessScope ends) would otherwise allocate VGG-16's 138M weights.
    seen = []

    def build():
        model = build_vgg16()
        seen.extend(model.weights)
        return model

    assert count_parameters(build) == 138_357_544
    assert len(seen) == 32 and all(weight._value is None for weight in seen)
    keras.layers.Dense(2)(keras.Input((3,)))  # a layer call on this thread
    assert all(weight._value is None for weight in seen)


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
        metrics["training_error_plain14"] - metrics["training_error_plain8"])
    assert metrics["residual_gain"] == pytest.approx(
        metrics["training_error_plain14"] - metrics["training_error_resnet14"])
    for row in records:
        if row["epoch"] == "1":  # the last (only) epoch's training error is the metric
            assert metrics[f"training_error_{row['model']}"] == pytest.approx(float(row["training_error"]), abs=1e-5)
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
