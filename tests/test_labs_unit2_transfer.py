"""Labs 10 (transfer learning) and 11 (practical work) end to end with --smoke, then predict and GUI logic
on the models they saved."""

import argparse
import json

import numpy as np
import pytest
from PIL import Image

from dlcourse import artifacts, catalog, data, prediction
from lab_runs import run_smoke


def _predict(*argv):
    parser = prediction.configure_parser(argparse.ArgumentParser())
    return prediction.command(parser.parse_args([str(arg) for arg in argv]))


@pytest.fixture(scope="module")
def lab11(tmp_path_factory):
    return run_smoke("11", tmp_path_factory.mktemp("lab11"))


@pytest.fixture(scope="module")
def lab10(tmp_path_factory):
    # MobileNetV2 at width 0.35 keeps the test quick; ResNet50 itself is covered by test_models_transfer.
    return run_smoke("10", tmp_path_factory.mktemp("lab10"), "--base", "mobilenetv2", "--alpha", "0.35")


def test_lab11_outputs_and_report(lab11):
    for name in ("classifier.h5", "learning_curves.png", "confusion_matrix.png", "history.csv",
                 "classification_report.txt", "classification_report.json", "run.json"):
        assert (lab11 / name).is_file(), name
    record = json.loads((lab11 / "run.json").read_text())
    report = json.loads((lab11 / "classification_report.json").read_text())
    assert record["class_names"] == data.class_names("digits") and record["pixel_scale"] == 255.0
    assert record["dataset"]["name"] == "digits" and record["smoke"] is True
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 128  # the smoke run's 128 test images
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / 128)
    assert report["accuracy"] == pytest.approx(record["metrics"]["test_accuracy"], abs=1e-6)
    assert record["metrics"]["macro_f1"] == pytest.approx(report["report"]["macro avg"]["f1-score"])
    assert record["reload_max_difference"] == 0.0
    assert record["parameters"] == 93_706  # the CIFAR-10 CNN shape on 28x28x1 with a 10-class head
    counts = [pair["count"] for pair in report["most_confused"]]
    assert counts == sorted(counts, reverse=True) and all(count > 0 for count in counts)
    text = (lab11 / "classification_report.txt").read_text()
    assert "Most confused pairs" in text and "Poorest classified classes" in text
    worst = report["worst_classes"]
    lowest_f1 = min(report["report"][name]["f1-score"] for name in record["class_names"])
    assert len(worst) == 3 and worst[0]["f1"] == lowest_f1
    assert record["epochs_run"] == 1 and record["outputs_logits"] is True


def test_lab11_model_through_predict_and_gui_logic(lab11, capsys):
    model = artifacts.load_model(lab11 / "classifier.h5")
    samples = sorted(lab11.glob("sample_*.png"))
    assert len(samples) == 3
    assert _predict(lab11 / "classifier.h5", *samples, "--top-k", "3") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    names = data.class_names("digits")
    predictor = prediction.Predictor.from_file(lab11 / "classifier.h5")  # what the GUI uses
    for sample, line in zip(samples, lines):
        pixels = np.asarray(Image.open(sample), dtype=np.float32)[None, :, :, None] / 255.0
        expected = prediction.to_probabilities(model.predict(pixels, verbose=0))[0]
        top = int(np.argmax(expected))
        assert line.startswith(f"{sample}: 1. {names[top]} {expected[top]:.4f}")
        assert predictor.predict(sample, k=1)[0][0] == names[top]
        correct, _ = prediction.check_answer(predictor.predict(sample), sample.stem.split("_")[2], names)
        assert correct == (names[top] == sample.stem.split("_")[2])


def test_lab11_mlp_option(tmp_path):
    folder = run_smoke("11", tmp_path, "--model", "mlp", "--epochs", "2")
    record = json.loads((folder / "run.json").read_text())
    assert record["model_type"] == "mlp" and record["outputs_logits"] is False
    from dlcourse.models.mlp import DEEP_FFN_HIDDEN_UNITS

    widths = [784, *DEEP_FFN_HIDDEN_UNITS, 10]  # flattened 28x28 digits -> hidden layers -> 10 classes
    assert record["parameters"] == sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    assert record["epochs_run"] == 1  # --smoke caps the epochs at one


def test_lab10_two_phases_and_saved_model(lab10, capsys):
    record = json.loads((lab10 / "run.json").read_text())
    # phase 1: the head's 4 variables; phase 2: + the non-BatchNorm layers of the base's last 20
    # (MobileNetV2: block_15/16 convolutions and Conv_1 -> 7 variables)
    assert record["trainable_variables"] == {"feature_extraction": 4, "fine_tuning": 11}
    assert record["base_weights"] == "none" and record["image_size"] == 32 and record["pixel_scale"] == 1.0
    assert record["class_names"] == data.class_names("shapes")
    for name in ("mobilenetv2_transfer.h5", "history.csv", "history_fine_tune.csv",
                 "learning_curves.png", "learning_curves_fine_tune.png"):
        assert (lab10 / name).is_file(), name
    assert len((lab10 / "history_fine_tune.csv").read_text().strip().splitlines()) == 2  # header + 1 epoch

    model = artifacts.load_model(lab10 / "mobilenetv2_transfer.h5")
    assert len(model.trainable_variables) == 11  # the fine-tuning state was saved
    x_test, _ = data.load("shapes", split="test")
    image = lab10 / "probe.png"
    Image.fromarray(x_test[0]).save(image)
    expected = model.predict(x_test[:1].astype("float32"), verbose=0)[0]  # raw pixels: preprocessing inside
    assert _predict(lab10 / "mobilenetv2_transfer.h5", image, "--top-k", "1") == 0
    top = int(np.argmax(expected))
    assert capsys.readouterr().out.strip() == f"{image}: 1. {data.class_names('shapes')[top]} {expected[top]:.4f}"


def test_lab10_without_imagenet_weights_says_how_to_continue(tmp_path, monkeypatch):
    from dlcourse import weights
    from dlcourse.data import files
    from dlcourse.errors import UserError

    monkeypatch.setattr(files, "REPO_DATASETS", tmp_path / "datasets")
    monkeypatch.setattr(files, "KERAS_DATASETS", tmp_path / "keras_datasets")
    monkeypatch.setattr(weights, "KERAS_MODELS", tmp_path / "keras_models")
    module = catalog.load_lab_module(catalog.get_lab("10"))
    with pytest.raises(UserError) as error:  # not --smoke: ImageNet weights are required, offline here
        module.main(["--dataset", "sample", "--image-size", "32", "--out", str(tmp_path / "out")])
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in str(error.value)
    assert "--weights none" in str(error.value)
    assert not list((tmp_path / "out").rglob("*.h5"))  # nothing half-written


@pytest.mark.parametrize("flags", [["--validation-split", "1.0"], ["--dropout-rate", "1"]])
def test_lab11_rejects_out_of_range_fractions(flags, tmp_path, capsys):
    module = catalog.load_lab_module(catalog.get_lab("11"))
    with pytest.raises(SystemExit) as error:
        module.main(["--smoke", "--out", str(tmp_path), *flags])
    assert error.value.code == 2
    assert f"argument {flags[0]}: must be below 1" in capsys.readouterr().err
    assert not (tmp_path / "11_image_classifier").exists()  # nothing half-written
