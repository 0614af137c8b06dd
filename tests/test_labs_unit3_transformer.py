"""Smoke run of lab 23 (Unit III, Transformer), in-process, asserting on its outputs' numbers."""

import json

import numpy as np
import pytest

from dlcourse import artifacts, cli, data, text_prediction, training
from dlcourse.grading import engine, manifest
from dlcourse.models.transformer import attention_weights
from dlcourse.scratch import cells
from lab_runs import run_smoke
from test_models_transformer import classifier_parameters


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("lab23")


@pytest.fixture(scope="module")
def lab23(out):
    return run_smoke("23", out)


def test_lab23_comparison_parameters_by_formula(lab23):
    rows = {row["model"]: row for row in artifacts.read_csv(lab23 / "comparison.csv")}
    assert list(rows) == ["transformer", "lstm"]
    # smoke sizes: 1000 words; Transformer d = 16, 2 heads, 16 feed-forward units; LSTM 16-d embedding, 8 units
    assert int(rows["transformer"]["parameters"]) == classifier_parameters(1000, 16, 2, 16)
    assert int(rows["lstm"]["parameters"]) == 16_000 + cells.lstm_parameter_count(16, 8) + 9
    for row in rows.values():
        assert float(row["samples_per_second"]) > 0 and 0.0 <= float(row["test_accuracy"]) <= 1.0
    record = json.loads((lab23 / "run.json").read_text())
    assert record["dataset"]["name"] == "reviews"
    assert record["metrics"]["test_accuracy_transformer"] == pytest.approx(float(rows["transformer"]["test_accuracy"]))


def test_lab23_scaling_counts_steps_pairs_and_bytes(lab23):
    rows = artifacts.read_csv(lab23 / "scaling.csv")
    lengths = [int(row["sequence_length"]) for row in rows]
    assert lengths == [8, 16, 32]
    for row, length in zip(rows, lengths):
        assert int(row["lstm_sequential_steps"]) == length and int(row["attention_pairs"]) == length ** 2
        # batch 8 x 2 heads x T x T float32 scores; the LSTM carries h and c (8 x 2 x 16 floats) whatever T is
        assert int(row["attention_score_bytes"]) == 8 * 2 * length * length * 4
        assert int(row["lstm_state_bytes"]) == 8 * 2 * 16 * 4
        assert float(row["lstm_seconds"]) > 0 and float(row["attention_seconds"]) > 0
    assert (lab23 / "scaling.png").stat().st_size > 0 and (lab23 / "attention_maps.png").stat().st_size > 0


def test_lab23_saved_transformer_reloads_with_the_reported_accuracy(lab23, capsys):
    path = lab23 / "transformer_classifier.h5"
    model = artifacts.load_model(path)  # safe_mode=True
    vocabulary = text_prediction.load_vocabulary(lab23 / "vocabulary.json")
    assert vocabulary["word_index"] == data.word_index("reviews")
    x_test, y_test = data.load("reviews", "test", num_words=vocabulary["num_words"],
                               sequence_length=vocabulary["sequence_length"])
    x_test, y_test = x_test[:training.SMOKE_TEST_SAMPLES], y_test[:training.SMOKE_TEST_SAMPLES]
    accuracy = float(np.mean((model.predict(x_test, verbose=0).ravel() > 0.5) == y_test))
    reported = {row["model"]: float(row["test_accuracy"]) for row in artifacts.read_csv(lab23 / "comparison.csv")}
    assert accuracy == pytest.approx(reported["transformer"], abs=1e-3)
    weights = attention_weights(model, x_test[:2])
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(weights[..., x_test[:2][:, None, None, :].repeat(weights.shape[2], axis=2)
                          .repeat(weights.shape[1], axis=1) == 0] == 0)  # padding is never attended
    assert cli.main(["predict-text", str(path), "a wonderful film"]) == 0
    value = float(capsys.readouterr().out.split()[1])
    encoded = text_prediction.encode_texts(["a wonderful film"], vocabulary)
    assert value == pytest.approx(float(model.predict(encoded, verbose=0)[0, 0]), abs=1e-4)


@pytest.mark.long  # the grader's inspector and sandbox processes: tens of seconds
def test_lab23_smoke_run_gets_full_points(lab23):
    verdict = engine.grade_lab(lab23.parent, "23_transformer")
    assert verdict.points == verdict.max_points == manifest.max_points(manifest.load_manifest("23_transformer"))
