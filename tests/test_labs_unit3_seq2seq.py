"""Smoke run of lab 21 (sequence to sequence, without and with attention), in-process, asserting on its
outputs' numbers; the grader (its sandbox reloads the models in a fresh process with safe_mode=True
after ``import dlcourse``) gives the run full points."""

import numpy as np
import pytest

from dlcourse import artifacts, sequence_decoding, training
from dlcourse.data import translation
from dlcourse.errors import UserError
from dlcourse.grading import engine, manifest
from dlcourse.scratch import cells
from lab_runs import run_record, run_smoke

SMOKE_E, SMOKE_U, V = 8, 8, translation.VOCAB_SIZE  # lab 21's smoke sizes


@pytest.fixture(scope="module")
def lab21(tmp_path_factory):
    return run_smoke("21", tmp_path_factory.mktemp("unit3_seq2seq"))


def test_lab21_parameters_and_metrics_agree_with_the_comparison(lab21):
    rows = {row["model"]: row for row in artifacts.read_csv(lab21 / "comparison.csv")}
    plain = 2 * V * SMOKE_E + 2 * cells.gru_parameter_count(SMOKE_E, SMOKE_U) + SMOKE_U * V + V
    assert int(rows["plain"]["parameters"]) == plain
    assert int(rows["attention"]["parameters"]) == plain + 2 * SMOKE_U ** 2 + SMOKE_U + SMOKE_U * V
    record = run_record(lab21)
    for variant in ("plain", "attention"):
        for quantity in ("test_sequence_accuracy", "test_token_accuracy", "test_sequence_accuracy_long"):
            value = record["metrics"][f"{quantity}_{variant}"]
            assert 0.0 <= value <= 1.0 and value == pytest.approx(float(rows[variant][quantity]), abs=1e-4)
    by_length = artifacts.read_csv(lab21 / "accuracy_by_length.csv")
    assert sum(int(row["count"]) for row in by_length) == training.SMOKE_TEST_SAMPLES
    assert [int(row["length"]) for row in by_length] == sorted(int(row["length"]) for row in by_length)
    for name in ("attention_matrix.png", "accuracy_by_length.png", "examples.txt"):
        assert (lab21 / name).stat().st_size > 0


def test_lab21_reloaded_model_decodes_to_the_reported_accuracies(lab21):
    """Round trip: the saved attention .h5 (safe_mode=True), greedy-decoding the regenerated test strings,
    gives comparison.csv's accuracies; the per-length table holds the same numbers."""
    record = run_record(lab21)
    low, high = record["lengths"]
    test = translation.make_pairs(training.SMOKE_TEST_SAMPLES, min_length=low, max_length=high, task=record["task"],
                                  seed=training.DEFAULT_SEED, split="test")
    rows = {row["model"]: row for row in artifacts.read_csv(lab21 / "comparison.csv")}
    by_length = artifacts.read_csv(lab21 / "accuracy_by_length.csv")
    model = artifacts.load_model(lab21 / "seq2seq_attention.h5")  # the grader's test reloads both in a fresh process
    predicted = sequence_decoding.greedy_decode(model, test.encoder_input, test.target.shape[1])
    sequence = sequence_decoding.sequence_accuracy(predicted, test.target)
    assert sequence == pytest.approx(float(rows["attention"]["test_sequence_accuracy"]), abs=1e-4)
    tokens = sequence_decoding.token_accuracy(predicted, test.target)
    assert tokens == pytest.approx(float(rows["attention"]["test_token_accuracy"]), abs=1e-4)
    table = sequence_decoding.accuracy_by_length(predicted, test.target, test.lengths)
    for row in by_length:
        assert table[int(row["length"])][1] == pytest.approx(float(row["token_accuracy_attention"]), abs=1e-4)


@pytest.mark.long  # starts the grader's inspector and sandbox processes
def test_lab21_smoke_run_gets_full_points_from_the_grader(lab21):
    verdict = engine.grade_lab(lab21.parent, "21_seq2seq_attention")
    assert verdict.max_points == manifest.max_points(manifest.load_manifest("21_seq2seq_attention"))
    assert verdict.points == verdict.max_points, [item for item in verdict.items if not item.passed]
    by_name = {item.name: item for item in verdict.items}
    assert by_name["seq2seq_attention.h5: loads safely"].message == "loaded with safe_mode=True"
    assert verdict.sample_data


def test_lab21_empty_length_range_is_a_user_error_and_writes_nothing(tmp_path):
    with pytest.raises(UserError, match="--min-length 9 is above --max-length 4"):
        run_smoke("21", tmp_path, "--min-length", "9", "--max-length", "4")
    assert list(tmp_path.iterdir()) == []
