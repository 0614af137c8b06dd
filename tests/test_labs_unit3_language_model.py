"""Smoke run of lab 22 (the character-level LSTM language model), in-process, asserting on its numbers."""

import json

import numpy as np
import pytest

from dlcourse import artifacts, data, training
from dlcourse.models.language_model import perplexity, sample_text
from lab_runs import run_smoke

SMOKE = dict(vocab=60, dim=16, units=16, sequence_length=32, sample_length=40)  # the lab's SMOKE_SIZE
TEMPERATURES = (0.0, 0.5, 1.0, 1.5)


@pytest.fixture(scope="module")
def lab22(tmp_path_factory):
    return run_smoke("22", tmp_path_factory.mktemp("unit3_language_model"))


@pytest.fixture(scope="module")
def held_out():
    x, y = data.load("corpus", "test", sequence_length=SMOKE["sequence_length"])
    return x[:training.SMOKE_TEST_SAMPLES], y[:training.SMOKE_TEST_SAMPLES]


def test_lab22_compares_three_variants_with_derived_parameter_counts(lab22):
    rows = {row["variant"]: row for row in artifacts.read_csv(lab22 / "comparison.csv")}
    assert list(rows) == ["baseline", "recurrent_dropout", "tied"]
    vocab, dim, units = SMOKE["vocab"], SMOKE["dim"], SMOKE["units"]
    shared = vocab * dim + 4 * units * (dim + units + 1)  # embedding + LSTM
    assert int(rows["baseline"]["parameters"]) == shared + units * vocab + vocab == 4092
    assert int(rows["recurrent_dropout"]["parameters"]) == int(rows["baseline"]["parameters"])
    assert int(rows["tied"]["parameters"]) == shared + vocab  # the Dense kernel is gone, its bias stays
    assert int(rows["baseline"]["parameters"]) - int(rows["tied"]["parameters"]) == vocab * units
    assert float(rows["recurrent_dropout"]["recurrent_dropout"]) == 0.25
    for row in rows.values():
        assert float(row["samples_per_second"]) > 0
        assert 1.0 < float(row["validation_perplexity"]) < 2 * vocab  # one smoke epoch: near chance (60)


def test_lab22_reported_perplexity_is_exp_of_the_keras_loss_of_the_saved_model(lab22, held_out):
    import keras

    record = json.loads((lab22 / "run.json").read_text())
    assert record["dataset"]["name"] == "corpus"
    reported = {row["variant"]: float(row["test_perplexity"]) for row in artifacts.read_csv(lab22 / "comparison.csv")}
    for variant, filename in (("baseline", "char_lm.h5"), ("tied", "char_lm_tied.h5")):
        model = artifacts.load_model(lab22 / filename)  # safe_mode=True
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        keras_loss = model.evaluate(*held_out, batch_size=64, verbose=0)
        assert record["metrics"][f"test_perplexity_{variant}"] == pytest.approx(np.exp(keras_loss), rel=1e-4)
        assert reported[variant] == pytest.approx(perplexity(model, *held_out), abs=1e-3)


def test_lab22_vocabulary_and_samples_decode_with_the_saved_characters(lab22, held_out):
    vocabulary = json.loads((lab22 / "vocabulary.json").read_text())
    assert vocabulary["characters"] == data.class_names("corpus")
    assert (vocabulary["dataset"], vocabulary["sequence_length"]) == ("corpus", SMOKE["sequence_length"])
    samples = (lab22 / "samples.txt").read_text()
    seed_text = "".join(vocabulary["characters"][index] for index in held_out[0][0])
    assert seed_text in samples
    for variant in ("baseline", "recurrent_dropout", "tied"):
        for temperature in TEMPERATURES:
            assert f"--- {variant}, temperature {temperature:g} ---" in samples
    # The temperature-0 text is the argmax continuation of the reloaded model: reproducible from the file.
    model = artifacts.load_model(lab22 / "char_lm.h5")
    greedy = sample_text(model, seed_text, SMOKE["sample_length"], [0.0], vocabulary["characters"])[0.0]
    section = samples.split("--- baseline, temperature 0 ---\n")[1]
    assert section.startswith(greedy + "\n")
