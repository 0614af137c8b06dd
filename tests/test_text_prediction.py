"""`dlcourse predict-text` (dlcourse/text_prediction.py): vocabulary file, encoding, clear errors."""

import argparse
import json

import numpy as np
import pytest

import keras

from dlcourse import artifacts, text_prediction
from dlcourse.models.recurrent import build_sentiment_model

WORD_INDEX = {"the": 1, "a": 2, "film": 3, "wonderful": 4, "awful": 5, "plot": 6, "rare": 9}


def _vocabulary(num_words=10, sequence_length=6):
    return text_prediction.vocabulary_record(WORD_INDEX, dataset="test", num_words=num_words,
                                             sequence_length=sequence_length)


def _run(argv, capsys):
    parser = text_prediction.configure_parser(argparse.ArgumentParser())
    code = text_prediction.command(parser.parse_args(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def saved_model(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_sentiment_model(cell="gru", vocab_size=10, sequence_length=6, embedding_dim=4, units=3)
    path = artifacts.save_model(model, tmp_path / "sentiment_gru.h5")
    artifacts.write_json(_vocabulary(), tmp_path / text_prediction.VOCABULARY_FILENAME)
    return model, path


def test_vocabulary_keeps_only_encodable_words():
    vocabulary = _vocabulary(num_words=10)
    # index = rank + 3 must stay below num_words = 10: ranks 1..6 kept, "rare" (rank 9 -> 12) dropped
    assert vocabulary["word_index"] == {word: rank for word, rank in WORD_INDEX.items() if rank <= 6}
    assert (vocabulary["start_char"], vocabulary["oov_char"], vocabulary["index_from"]) == (1, 2, 3)


def test_encoding_follows_the_imdb_conventions():
    encoded = text_prediction.encode_texts(["A wonderful film!", "the rare plot"], _vocabulary())
    # start 1, words at rank + 3, unknown or >= num_words -> 2, padded at the front with 0
    np.testing.assert_array_equal(encoded, [[0, 0, 1, 5, 7, 6], [0, 0, 1, 4, 2, 9]])
    assert encoded.dtype == np.int32


def test_command_scores_text_like_the_model(saved_model, capsys):
    model, path = saved_model
    code, out, _ = _run([str(path), "a wonderful film", "the awful plot"], capsys)
    assert code == 0
    expected = model.predict(np.array([[0, 0, 1, 5, 7, 6], [0, 0, 1, 4, 8, 9]], "int32"), verbose=0).ravel()
    lines = out.strip().splitlines()
    assert len(lines) == 2
    for line, probability in zip(lines, expected):
        label, value = line.split()[:2]
        assert float(value) == pytest.approx(probability, abs=1e-4)
        assert label == ("positive" if probability >= 0.5 else "negative")
    assert "(3/3 words known)" in lines[0]


def test_missing_vocabulary_is_a_user_error(saved_model, capsys):
    _, path = saved_model
    (path.parent / text_prediction.VOCABULARY_FILENAME).unlink()
    code, _, err = _run([str(path), "a film"], capsys)
    assert code == 2
    assert err.startswith("error: no vocabulary file") and "Traceback" not in err


def test_corrupt_vocabulary_and_mismatched_vocabulary(saved_model, tmp_path, capsys):
    _, path = saved_model
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, err = _run([str(path), "a film", "--vocabulary", str(broken)], capsys)
    assert code == 2 and "not a readable vocabulary file" in err
    larger = tmp_path / "larger.json"
    larger.write_text(json.dumps(_vocabulary(num_words=50)))
    code, _, err = _run([str(path), "a film", "--vocabulary", str(larger)], capsys)
    assert code == 2 and "knows only 10" in err


def test_image_model_is_not_a_text_model(tmp_path, capsys):
    inputs = keras.Input(shape=(4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    path = artifacts.save_model(model, tmp_path / "classifier.h5")
    artifacts.write_json(_vocabulary(), tmp_path / text_prediction.VOCABULARY_FILENAME)
    code, _, err = _run([str(path), "a film"], capsys)
    assert code == 2 and "is not a text model" in err


def test_bad_threshold(saved_model, capsys):
    _, path = saved_model
    code, _, err = _run([str(path), "a film", "--threshold", "1.5"], capsys)
    assert code == 2 and "--threshold" in err
