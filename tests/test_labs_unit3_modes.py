"""Smoke run of lab 20 (Unit III, RNN input/output modes), in-process, asserting on its outputs' numbers."""

import numpy as np
import pytest

import fresh_process
from dlcourse import artifacts
from dlcourse.data import sequence_modes
from dlcourse.scratch import cells
from lab_runs import run_record, run_smoke

UNITS = 8  # the lab's cap on units in a smoke run


@pytest.fixture(scope="module")
def lab20(tmp_path_factory):
    return run_smoke("20", tmp_path_factory.mktemp("unit3_modes"))


def test_lab20_parameter_counts_follow_the_formulas(lab20):
    record = run_record(lab20)
    u = UNITS
    expected = {
        "one_to_many": 13 * u + u + cells.lstm_parameter_count(u, u) + u * 10 + 10,
        "tagger": 20 * 16 + cells.gru_parameter_count(16, u) + u * 3 + 3,
        "encoder_decoder": 10 * 16 + cells.lstm_parameter_count(16, u) + cells.lstm_parameter_count(u, u) + u * 10 + 10,
    }
    assert record["parameters_by_mode"] == expected
    for key, filename in (("one_to_many", "one_to_many.h5"), ("tagger", "tagger.h5"),
                          ("encoder_decoder", "encoder_decoder.h5")):
        assert artifacts.load_model(lab20 / filename).count_params() == expected[key]


def test_lab20_modes_csv_shows_where_the_time_axis_is(lab20):
    rows = artifacts.read_csv(lab20 / "modes.csv")
    shapes = {row["layer"]: row["output_shape"] for row in rows}
    assert shapes["one_to_many_encode"] == f"(batch, {UNITS})"
    assert shapes["one_to_many_repeat"] == f"(batch, T=8, {UNITS})"  # the time axis appears
    assert shapes["one_to_many_step_output"] == "(batch, T=8, 10)"
    assert shapes["sequence_tagger_tokens"] == "(batch, T)" and shapes["sequence_tagger_step_output"] == "(batch, T, 3)"
    assert shapes["encoder_decoder_tokens"] == "(batch, T=8)"
    assert shapes["encoder_decoder_encoder"] == f"(batch, {UNITS})"  # the time axis is gone: the context
    assert shapes["encoder_decoder_repeat"] == f"(batch, T=4, {UNITS})"  # a new, shorter one
    assert sum(int(row["parameters"]) for row in rows) == sum(run_record(lab20)["parameters_by_mode"].values())
    assert (lab20 / "modes.png").stat().st_size > 10_000


def test_lab20_tagger_accuracy_counts_real_tokens_only(lab20):
    model = artifacts.load_model(lab20 / "tagger.h5")
    x, y, mask = sequence_modes.generate("tagger", 128, seed=43)  # the smoke test draw: seed 42 + 1
    probabilities = model.predict(x, verbose=0)
    reported = run_record(lab20)["metrics"]["test_accuracy_tagger"]
    assert reported == pytest.approx(sequence_modes.masked_step_accuracy(y, probabilities, mask), abs=1e-4)
    for key in ("one_to_many", "tagger", "encoder_decoder"):
        assert 0.0 <= run_record(lab20)["metrics"][f"test_accuracy_{key}"] <= 1.0
    assert np.isfinite(run_record(lab20)["metrics"]["test_loss_encoder_decoder"])


FRESH_PROCESS = """
import json, sys
import numpy as np, keras
import dlcourse
folder = sys.argv[1]
shapes = {}
for name, x in (("one_to_many", np.eye(13, dtype="float32")[:2]), ("tagger", np.ones((2, 5), "int32")),
                ("encoder_decoder", np.zeros((2, 8), "int32"))):
    model = keras.saving.load_model(f"{folder}/{name}.h5", safe_mode=True)
    shapes[name] = list(np.asarray(model.predict(x, verbose=0)).shape)
print(json.dumps(shapes))
"""


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_lab20_models_load_in_a_fresh_process(lab20):
    assert fresh_process.run_json(FRESH_PROCESS, lab20) == {
        "one_to_many": [2, 8, 10], "tagger": [2, 5, 3], "encoder_decoder": [2, 4, 10]}
