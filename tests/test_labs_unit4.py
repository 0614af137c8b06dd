"""Unit IV labs (14 DCGAN, 15 conditional GAN) end to end with --smoke; saved generators in a fresh process."""

import math
import os
import subprocess
import sys

import pytest

from dlcourse import artifacts, catalog
from lab_runs import run_record, run_smoke

SCORE_KEYS = {"frechet_classifier_distance", "classifier_score", "classifier_score_real"}
LOSS_KEYS = {"d_loss", "g_loss", "real_score", "fake_score"}


@pytest.fixture(scope="module")
def lab_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("unit4")
    return {number: run_smoke(number, out) for number in ("14", "15")}


def test_lab14_dcgan_smoke_outputs(lab_outputs):
    folder = lab_outputs["14"]
    for name in ("dcgan_generator.h5", "dcgan_discriminator.h5", "samples_epoch_001.png", "losses.png",
                 "history.csv", "run.json"):
        assert (folder / name).is_file(), name
    record = run_record(folder)
    assert record["lab"] == "14_dcgan" and record["dataset"]["name"] == "digits" and record["smoke"]
    assert record["models"]["dcgan_generator.h5"]["parameters"] == 2_330_945
    assert record["models"]["dcgan_discriminator.h5"]["parameters"] == 213_249
    metrics = record["metrics"]
    assert LOSS_KEYS | SCORE_KEYS <= set(metrics)
    assert 0 < metrics["real_score"] < 1 and 0 < metrics["fake_score"] < 1
    assert metrics["d_loss"] > 0 and math.isfinite(metrics["g_loss"])
    assert metrics["frechet_classifier_distance"] >= 0 and 1 <= metrics["classifier_score"] <= 10
    assert "not Inception-v3" in record["score_note"]
    rows = artifacts.read_csv(folder / "history.csv")
    assert len(rows) == 1 and float(rows[0]["d_loss"]) == pytest.approx(metrics["d_loss"], rel=1e-5)
    assert record["sample_grids"] == ["samples_epoch_001.png"]


def test_lab15_conditional_gan_smoke_outputs(lab_outputs):
    folder = lab_outputs["15"]
    for name in ("cgan_generator.h5", "cgan_discriminator.h5", "class_samples.png", "samples_epoch_001.png",
                 "losses.png", "run.json"):
        assert (folder / name).is_file(), name
    record = run_record(folder)
    assert record["models"]["cgan_generator.h5"]["parameters"] == 2_958_645
    metrics = record["metrics"]
    assert LOSS_KEYS | SCORE_KEYS | {"conditional_accuracy"} <= set(metrics)
    # 100 generated images, 10 per class: accuracy is a multiple of 1/100.
    assert 0 <= metrics["conditional_accuracy"] <= 1
    assert metrics["conditional_accuracy"] * 100 == pytest.approx(round(metrics["conditional_accuracy"] * 100))


FRESH_PROCESS = """
import sys, numpy as np, keras
import dlcourse
rng = np.random.default_rng(0)
dcgan = keras.saving.load_model(sys.argv[1])
cgan = keras.saving.load_model(sys.argv[2])
a = np.asarray(dcgan.predict(rng.normal(size=(3, 100)).astype("float32"), verbose=0))
b = np.asarray(cgan.predict([rng.normal(size=(4, 100)).astype("float32"), np.arange(4).reshape(-1, 1)], verbose=0))
print("SHAPES", a.shape, b.shape, float(min(a.min(), b.min())) >= -1.0, float(max(a.max(), b.max())) <= 1.0)
"""


def test_saved_generators_load_in_a_fresh_process(lab_outputs):
    # Only `import dlcourse`, safe_mode=True (the default), no custom_objects.
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(lab_outputs["14"] / "dcgan_generator.h5"),
         str(lab_outputs["15"] / "cgan_generator.h5")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SHAPES (3, 28, 28, 1) (4, 28, 28, 1) True True" in result.stdout


def test_bad_real_label_is_a_flag_error_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        run_smoke("14", tmp_path, "--real-label", "1.5")
    assert stopped.value.code == 2
    assert "--real-label: must be in (0, 1]" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []