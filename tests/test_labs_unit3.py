"""Smoke runs of labs 12 and 13 (Unit III), in-process, asserting on their outputs' numbers."""

import json

import numpy as np
import pytest

from dlcourse import artifacts, catalog, cli, data, text_prediction, training
from dlcourse.scratch import cells
from lab_runs import run_smoke


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("unit3")


@pytest.fixture(scope="module")
def lab12(out):
    return run_smoke("12", out)


def test_lab12_saves_six_models_and_the_comparison(lab12):
    rows = {row["model"]: row for row in artifacts.read_csv(lab12 / "comparison.csv")}
    assert list(rows) == ["rnn", "lstm", "gru", "bilstm", "birnn", "bigru"]  # the peephole LSTM is opt-in
    assert not (lab12 / "sentiment_peephole.h5").exists() and (lab12 / "sentiment_bigru.h5").exists()
    # Smoke sizes: 1000 words x 16-d embedding (16,000) + output unit + the recurrent part (8 units).
    recurrent = {"rnn": cells.rnn_parameter_count(16, 8), "lstm": cells.lstm_parameter_count(16, 8),
                 "gru": cells.gru_parameter_count(16, 8), "bilstm": 2 * cells.lstm_parameter_count(16, 8),
                 "birnn": 2 * cells.rnn_parameter_count(16, 8), "bigru": 2 * cells.gru_parameter_count(16, 8)}
    output_unit = {"birnn": 17, "bigru": 17}  # concatenated directions: 16 inputs + bias; the others 8 + 1
    for key, row in rows.items():
        assert int(row["parameters"]) == 16_000 + recurrent[key] + output_unit.get(key, 9), key
        assert float(row["seconds_per_epoch"]) > 0
        assert 0.0 <= float(row["test_accuracy"]) <= 1.0
    assert rows["bilstm"]["merge_mode"] == "sum"
    assert rows["birnn"]["merge_mode"] == rows["bigru"]["merge_mode"] == "concat"
    record = json.loads((lab12 / "run.json").read_text())
    assert record["dataset"]["name"] == "reviews"
    assert record["metrics"]["test_accuracy_lstm"] == pytest.approx(float(rows["lstm"]["test_accuracy"]), abs=1e-4)


def test_lab12_saved_model_reloads_with_the_reported_accuracy(lab12):
    model = artifacts.load_model(lab12 / "sentiment_bilstm.h5")
    vocabulary = text_prediction.load_vocabulary(lab12 / "vocabulary.json")
    x_test, y_test = data.load("reviews", "test", num_words=vocabulary["num_words"],
                               sequence_length=vocabulary["sequence_length"])
    smoke_test = training.SMOKE_TEST_SAMPLES  # the test reviews a smoke run keeps
    x_test, y_test = x_test[:smoke_test], y_test[:smoke_test]
    predictions = model.predict(x_test, verbose=0).ravel()
    accuracy = float(np.mean((predictions > 0.5) == y_test))
    reported = {row["model"]: float(row["test_accuracy"]) for row in artifacts.read_csv(lab12 / "comparison.csv")}
    assert accuracy == pytest.approx(reported["bilstm"], abs=1e-3)
    # The saved vocabulary is the embedded reviews' word index with the lab's settings.
    assert vocabulary["word_index"] == data.word_index("reviews")
    assert (vocabulary["num_words"], vocabulary["sequence_length"], vocabulary["index_from"]) == (1000, 16, 3)  # --smoke: 16 tokens


def test_lab12_predict_text_uses_the_saved_vocabulary(lab12, capsys):
    path = lab12 / "sentiment_lstm.h5"
    assert cli.main(["predict-text", str(path), "a wonderful film"]) == 0
    label, value = capsys.readouterr().out.split()[:2]
    vocabulary = text_prediction.load_vocabulary(lab12 / "vocabulary.json")
    encoded = text_prediction.encode_texts(["a wonderful film"], vocabulary)
    expected = float(artifacts.load_model(path).predict(encoded, verbose=0)[0, 0])
    assert float(value) == pytest.approx(expected, abs=1e-4)
    assert label in ("positive", "negative")


def test_lab12_bad_validation_split_is_a_flag_error_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        run_smoke("12", tmp_path, "--validation-split", "1.5")
    assert stopped.value.code == 2
    assert "--validation-split: must be below 1" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_lab13_window_longer_than_the_series_is_a_flag_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        run_smoke("13", tmp_path, "--window", "295")  # --smoke shortens the series to 300 values
    assert stopped.value.code == 2
    assert "--window: must be at least 10 less than the series length (300 with --smoke)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_lab13_gradients_clipping_and_series(out):
    folder = run_smoke("13", out)
    record = json.loads((folder / "run.json").read_text())
    metrics = record["metrics"]
    assert metrics["max_relative_error_bptt"] <= 1e-6
    assert metrics["max_abs_error_cells"] <= 1e-6
    assert metrics["max_abs_error_peephole"] <= 1e-6
    assert metrics["oracles_agree"] is True
    checks = json.loads((folder / "oracle_checks.json").read_text())
    assert checks["peephole_max_abs_error"] == metrics["max_abs_error_peephole"]
    assert checks["clip_example"]["clipped"] == pytest.approx([0.6, 0.8])

    # Vanishing: the open-gate LSTM keeps far more of the gradient at t = 1 than Keras' default LSTM.
    assert metrics["gradient_ratio_lstm_open_gate"] > 10 * metrics["gradient_ratio_lstm"]
    norms = artifacts.read_csv(folder / "gradient_norms.csv")
    assert len(norms) == 30  # --smoke shortens the task to 30 steps
    first, last = norms[0], norms[-1]
    assert float(first["numpy_radius_0.5"]) < 1e-6 * float(last["numpy_radius_0.5"])  # vanishing
    assert float(first["numpy_radius_3.0"]) > 10 * float(last["numpy_radius_3.0"])  # exploding
    assert (folder / "gradient_norms.png").stat().st_size > 10_000

    exploding = artifacts.read_csv(folder / "exploding.csv")
    gradient_norms = [float(row["gradient_norm"]) for row in exploding]
    assert gradient_norms == sorted(gradient_norms)  # grows with the spectral radius of W_hh
    assert float(exploding[-1]["gradient_norm"]) > 1e3 * float(exploding[0]["gradient_norm"])  # ρ = 3 vs 0.5

    # Unclipped SGD on the large W_hh diverges; both clipped runs stay finite.
    assert metrics["final_loss_no_clipping"] is None  # diverged: JSON's null for a NaN / inf loss
    assert np.isfinite(metrics["final_loss_clipnorm"]) and np.isfinite(metrics["final_loss_global_clipnorm"])

    parameters = artifacts.read_csv(folder / "parameter_counts.csv")
    example = next(row for row in parameters if (row["d_x"], row["d_h"]) == ("10", "20"))
    assert (int(example["rnn"]), int(example["lstm"]), int(example["lstm_minus_rnn"])) == (620, 2480, 1860)
    for row in parameters:
        for key in ("rnn", "lstm", "peephole_lstm", "gru_classic", "gru"):
            assert row[key] == row[f"{key}_keras"]
        assert int(row["peephole_lstm"]) == int(row["lstm"]) + 3 * int(row["d_h"])  # 001's peepholes

    series = {row["model"]: row for row in artifacts.read_csv(folder / "sliding_window_vs_rnn.csv")}
    assert set(series) == {"last_value", "window_mlp", "series_rnn"}
    assert (int(series["window_mlp"]["parameters"]), int(series["series_rnn"]["parameters"])) == (705, 1121)
    assert all(np.isfinite(float(row["test_mse"])) for row in series.values())

    # Step 7: truncated BPTT keeps all of the gradient at k = T, less below; the per-step scheme's
    # T updates differ from one BPTT update (smoke: 300 values -> 14 sequences of 20 steps, 11 to train).
    truncation = artifacts.read_csv(folder / "truncated_bptt.csv")
    assert [int(row["k"]) for row in truncation] == list(range(1, 21))
    for radius in ("0.5", "0.9", "1.5"):
        assert float(truncation[-1][f"relative_error_radius_{radius}"]) <= 1e-12
        assert float(truncation[-1][f"fraction_kept_radius_{radius}"]) == pytest.approx(1.0, abs=1e-12)
        assert float(truncation[0][f"relative_error_radius_{radius}"]) > 1e-3
    csv_digits = dict(rel=1e-5)  # save_csv writes 6 significant digits
    assert metrics["relative_error_truncated_bptt"] == pytest.approx(float(truncation[4]["relative_error_radius_0.9"]),
                                                                     **csv_digits)
    schemes = {row["scheme"]: row for row in artifacts.read_csv(folder / "bptt_schemes.csv")}
    assert list(schemes) == ["full_bptt", "truncated_bptt", "per_step"]
    assert [int(schemes[key]["updates"]) for key in schemes] == [1, 1, 20]  # one batch of 11, T = 20
    assert float(schemes["full_bptt"]["first_update_difference"]) == 0.0
    assert float(schemes["truncated_bptt"]["first_update_difference"]) > 0
    assert metrics["update_difference_per_step"] == pytest.approx(float(schemes["per_step"]["first_update_difference"]),
                                                                  **csv_digits)
    assert metrics["update_difference_per_step"] > 1e-3
    assert all(np.isfinite(metrics[f"test_mse_{key}"]) for key in schemes)
    assert (folder / "truncated_bptt.png").stat().st_size > 10_000
