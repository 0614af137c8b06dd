"""Lab 28 (GAN applications: augmentation, two-stage generator) end to end with --smoke: the reported
accuracies recomputed from the saved classifiers, the two stages chained from their files, and full
points from the grader (which loads every model in a fresh process with safe_mode=True)."""

import csv

import numpy as np
import pytest

from dlcourse import artifacts, data
from dlcourse.errors import UserError
from dlcourse.generative.callbacks import fixed_noise
from dlcourse.generative.scores import to_signed_unit
from dlcourse.grading import engine, manifest
from lab_runs import run_record, run_smoke

SMOKE_TEST, LATENT, SEED = 128, 32, 42  # training.SMOKE_TEST_SAMPLES; the lab's default latent size and seed
VARIANTS = ("baseline", "augmented", "filtered")


@pytest.fixture(scope="module")
def lab28(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab28")
    return out, run_smoke("28", out)


def test_lab28_csv_and_run_json_report_the_same_accuracies(lab28):
    _, folder = lab28
    for name in ("augmentation.csv", "stages.png", "augmentation_samples.png", "stage1_generator.h5",
                 "stage2_generator.h5", "augmentation_generator.h5", "history_stage1.csv", "history_stage2.csv"):
        assert (folder / name).is_file(), name
    metrics = run_record(folder)["metrics"]
    with open(folder / "augmentation.csv", newline="") as handle:
        rows = {row["variant"]: row for row in csv.DictReader(handle)}
    assert list(rows) == list(VARIANTS)
    for variant in VARIANTS:
        assert float(rows[variant]["test_accuracy"]) == pytest.approx(metrics[f"test_accuracy_{variant}"], abs=1e-5)
    # --smoke: 100 labelled digits, one generated per real one; all three training sets are the same size
    assert [int(rows[v]["generated_images"]) for v in VARIANTS] == [0, 100, 100]
    assert {int(rows[v]["training_images"]) for v in VARIANTS} == {200}
    assert metrics["test_accuracy_difference"] == pytest.approx(
        metrics["test_accuracy_augmented"] - metrics["test_accuracy_baseline"], abs=1e-12)
    assert metrics["test_accuracy_difference_filtered"] == pytest.approx(
        metrics["test_accuracy_filtered"] - metrics["test_accuracy_baseline"], abs=1e-12)
    assert 0.0 <= metrics["acceptance_rate_filter"] <= 1.0


def test_lab28_saved_classifiers_reproduce_the_reported_accuracies(lab28):
    _, folder = lab28
    metrics = run_record(folder)["metrics"]
    x_test, y_test = data.load("digits", split="test")
    x_test, y_test = to_signed_unit(x_test[:SMOKE_TEST]), y_test[:SMOKE_TEST]
    for variant in VARIANTS:
        classifier = artifacts.load_model(folder / f"classifier_{variant}.h5")  # safe_mode=True
        predicted = np.argmax(classifier.predict(x_test, verbose=0), axis=1)
        assert np.mean(predicted == y_test) == pytest.approx(metrics[f"test_accuracy_{variant}"], abs=1e-6)


def test_lab28_stage2_refines_the_reloaded_stage1_output(lab28):
    _, folder = lab28
    stage1 = artifacts.load_model(folder / "stage1_generator.h5")
    stage2 = artifacts.load_model(folder / "stage2_generator.h5")
    labels = (np.arange(20) % 10).reshape(-1, 1).astype("int32")
    low = stage1.predict([fixed_noise(20, LATENT, SEED), labels], verbose=0)
    high = stage2.predict([low, labels], verbose=0)
    assert low.shape == (20, 14, 14, 1) and high.shape == (20, 28, 28, 1)
    assert np.isfinite(high).all() and high.min() >= -1.0 and high.max() <= 1.0
    assert stage2.count_params() == run_record(folder)["parameters"] == 41_937


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_lab28_smoke_run_gets_full_points(lab28):
    out, _ = lab28
    verdict = engine.grade_lab(out, "28_gan_applications")
    assert verdict.max_points == manifest.max_points(manifest.load_manifest("28_gan_applications"))
    lost = [(item.name, item.message) for item in verdict.items if not item.passed]
    assert not lost and verdict.points == verdict.max_points
    by_name = {item.name: item for item in verdict.items}
    assert by_name["stage2_generator.h5: loads safely"].message == "loaded with safe_mode=True"


def test_lab28_labelled_count_must_split_evenly_into_classes(tmp_path):
    with pytest.raises(UserError, match="multiple of 10"):
        run_smoke("28", tmp_path, "--labelled", "15")
