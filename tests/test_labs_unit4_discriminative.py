"""Lab 24 (discriminative vs generative classifiers) end to end with --smoke: its tables agree with each
other and with the saved MLP, and the grader gives the fresh smoke run full points."""

import re

import numpy as np
import pytest

from dlcourse import artifacts, data
from dlcourse.grading import engine, manifest, metrics, verdicts
from dlcourse.models import count_parameters
from dlcourse.models.discriminative import build_discriminative_mlp
from lab_runs import run_record, run_smoke

LAB = "24_discriminative_generative"
MODELS = ("gaussian_nb", "gmm", "logistic_regression", "mlp")
SMOKE_SIZES = [20, 50, 100, 128]  # the default sizes that fit the smoke run's 128 training digits, and 128
SHARES = [0.0, 0.25, 0.5, 0.75, 0.9]


@pytest.fixture(scope="module")
def lab24(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab24")
    folder = run_smoke("24", out)
    return out, folder, run_record(folder)


def _floats(row):
    return {key: float(value) for key, value in row.items()}


def test_lab24_smoke_outputs_and_tables(lab24):
    _, folder, record = lab24
    for name in ("discriminative_mlp.h5", "comparison.csv", "comparison.md", "accuracy_by_training_size.png",
                 "accuracy_by_training_size.csv", "accuracy_by_missing_share.png", "accuracy_by_missing_share.csv",
                 "generated_digits.png", "history_mlp_n128.csv", "run.json"):
        assert (folder / name).is_file(), name
    assert record["lab"] == LAB and record["dataset"]["name"] == "digits" and record["smoke"]
    sizes, shares = record["accuracy_by_training_size"], record["accuracy_by_missing_share"]
    assert [row["train_size"] for row in sizes] == SMOKE_SIZES
    assert [row["missing_share"] for row in shares] == SHARES
    for rows, filename in ((sizes, "accuracy_by_training_size.csv"), (shares, "accuracy_by_missing_share.csv")):
        written = [_floats(row) for row in artifacts.read_csv(folder / filename)]  # 6 significant digits
        assert written == [pytest.approx(row, rel=1e-5) for row in rows]
    for name in MODELS:
        # 128 test digits: every accuracy is a multiple of 1/128
        for row in sizes + shares:
            assert 0 <= row[name] <= 1 and row[name] * 128 == pytest.approx(round(row[name] * 128))
        # the same whole-set models with nothing hidden (the generative ones through the marginal code)
        assert shares[0][name] == sizes[-1][name] == record["metrics"][f"test_accuracy_{name}"]
        assert shares[2][name] == record["metrics"][f"test_accuracy_missing_{name}"]
    assert record["gmm_components"] == [5] * 10 and record["generated_samples"] == 80


def test_lab24_comparison_table_reports_the_measurements(lab24):
    _, folder, record = lab24
    rows = {row["model"]: row for row in artifacts.read_csv(folder / "comparison.csv")}
    assert list(rows) == list(MODELS) and record["comparison"][0]["model"] == "gaussian_nb"
    for name, row in rows.items():
        generative = name in ("gaussian_nb", "gmm")
        assert row["kind"] == ("generative" if generative else "discriminative")
        assert row["distribution"] == ("p(x, y)" if generative else "p(y | x)")
        assert row["can_sample"] == ("yes" if generative else "no")
        metric = record["metrics"][f"test_accuracy_{name}"]
        assert float(row["test_accuracy_large_n"]) == pytest.approx(metric, rel=1e-5)
        assert float(row["overfitting_gap"]) == pytest.approx(  # each CSV cell has 6 significant digits
            float(row["train_accuracy_large_n"]) - float(row["test_accuracy_large_n"]), abs=2e-6)
        assert int(row["small_n"]) == 20 and int(row["large_n"]) == 128 and float(row["training_seconds"]) >= 0
    # parameters by formula: 10 x 2 x 784 + 9 (GaussianNB); 10 x (5 x 2 x 784 + 4) + 9 (5-component mixtures);
    # 785 x 10 (logistic regression); the MLP's 101,770
    assert [int(rows[name]["parameters"]) for name in MODELS] == [15_689, 78_449, 7_850, 101_770]
    table = (folder / "comparison.md").read_text()
    assert table == record["comparison_markdown"]
    lines = table.strip().splitlines()
    # 4 columns on every line: a "|" inside a cell (p(y | x)) is escaped
    assert len(lines) == 10 and all(len(re.findall(r"(?<!\\)\|", line)) == 5 for line in lines)
    assert "erratum A53" in table and "p(y \\| x)" in table
    assert f"gmm {float(rows['gmm']['test_accuracy_missing']):.3f}" in table


def test_lab24_saved_mlp_reloads_and_repeats_its_accuracy(lab24):
    _, folder, record = lab24
    model = artifacts.load_model(folder / "discriminative_mlp.h5")  # safe_mode=True
    assert model.count_params() == record["models"]["discriminative_mlp.h5"]["parameters"] == \
        count_parameters(build_discriminative_mlp) == 784 * 128 + 128 + 128 * 10 + 10
    x_test, y_test = data.load("digits", split="test")
    flat = x_test[:128].reshape(128, -1).astype("float32") / 255.0  # the smoke run's 128 test digits
    accuracy = float(np.mean(np.argmax(model.predict(flat, verbose=0), axis=1) == y_test[:128]))
    assert accuracy == pytest.approx(record["metrics"]["test_accuracy_mlp"], abs=1e-9)


def test_lab24_grader_accuracy_check_on_the_smoke_run(lab24):
    # The manifest's held-out check, in-process: all 360 embedded test digits, scaled to [0, 1] and
    # flattened for the 784 inputs; it must equal NumPy's count and pass the sample threshold.
    _, folder, record = lab24
    check = manifest.load_manifest(LAB)["models"]["discriminative_mlp.h5"]["checks"][0]
    model = artifacts.load_model(folder / "discriminative_mlp.h5")
    measured = metrics.accuracy(model, check, {"dataset": record["dataset"]})
    x_test, y_test = data.load("digits", split="test")
    flat = x_test.reshape(len(x_test), -1).astype("float32") / 255.0
    expected = float(np.mean(np.argmax(model.predict(flat, verbose=0), axis=1) == y_test))
    assert measured == expected and check["sample_min"] <= measured
    assert verdicts.compare(measured, check, sample=True)[0]


@pytest.mark.long
def test_lab24_fresh_smoke_run_gets_full_points_from_the_grader(lab24):
    # The grader loads the .h5 in a fresh worker process (`import dlcourse`, safe_mode=True).
    out, _, _ = lab24
    verdict = engine.grade_lab(out, LAB)
    assert verdict.points == verdict.max_points == manifest.max_points(manifest.load_manifest(LAB))
    accuracy_item = {item.name: item for item in verdict.items}["discriminative_mlp.h5: accuracy"]
    assert accuracy_item.message.endswith("(needs >= 0.12, sample-data threshold)")
