"""Image loading, probabilities, top-k, the Predictor and the `dlcourse predict` command."""

import argparse
import json

import numpy as np
import pytest
from PIL import Image

import keras

from dlcourse import artifacts, prediction
from dlcourse.errors import UserError

CLASSES = ["cat", "dog", "rabbit"]


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _classifier(input_shape=(8, 8, 1), outputs="logits", seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    activation = "softmax" if outputs == "softmax" else None
    return keras.Model(inputs, keras.layers.Dense(3, activation=activation)(x), name="tiny")


def _save(model, folder, record=None):
    path = artifacts.save_model(model, folder / "model.h5")
    if record is not None:
        (folder / "run.json").write_text(json.dumps(record))
    return path


def _png(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)  # mode from the shape: L, RGB, RGBA
    return path


def _command(*argv):
    parser = prediction.configure_parser(argparse.ArgumentParser())
    return prediction.command(parser.parse_args([str(arg) for arg in argv]))


def test_to_probabilities():
    probabilities = np.array([[0.2, 0.5, 0.3]])
    np.testing.assert_array_equal(prediction.to_probabilities(probabilities), probabilities)
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(prediction.to_probabilities(logits), _softmax(logits))
    np.testing.assert_allclose(prediction.to_probabilities(logits)[1], [1 / 3] * 3)


def test_top_k():
    assert prediction.top_k([0.1, 0.7, 0.2], CLASSES, k=2) == [("dog", 0.7), ("rabbit", 0.2)]
    assert [name for name, _ in prediction.top_k([0.5, 0.5, 0.0], CLASSES, k=5)] == CLASSES


def test_load_image_converts_colour_and_size(tmp_path):
    grey = _png(tmp_path / "grey.png", np.full((4, 6), 100))
    rgb = prediction.load_image(grey, 4, 6, 3)
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.float32 and (rgb == 100).all()
    red = _png(tmp_path / "red.png", np.tile([255, 0, 0], (5, 5, 1)))
    assert (prediction.load_image(red, 5, 5, 1) == 76).all()  # ITU-R 601 luma: 0.299 * 255
    resized = prediction.load_image(red, 10, 3, 3)
    assert resized.shape == (10, 3, 3) and (resized[..., 0] == 255).all()
    rgba = _png(tmp_path / "rgba.png", np.tile([0, 255, 0, 10], (3, 3, 1)))
    assert prediction.load_image(rgba, 3, 3, 3)[0, 0].tolist() == [0, 255, 0]


def test_load_image_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        prediction.load_image(tmp_path / "missing.png", 4, 4, 1)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(UserError, match="not an image"):
        prediction.load_image(tmp_path / "notes.png", 4, 4, 1)


def test_predictor_matches_the_model(tmp_path):
    model = _classifier()
    image = np.random.default_rng(0).integers(0, 256, (8, 8))
    path = _png(tmp_path / "x.png", image)
    predictor = prediction.Predictor(model, CLASSES)
    assert predictor.pixel_scale == 255.0  # no rescaling layer: the model expects [0, 1]
    expected = _softmax(model.predict(image[None, :, :, None] / 255.0, verbose=0))[0]
    ranked = predictor.predict(path, k=3)
    assert [name for name, _ in ranked] == [CLASSES[i] for i in np.argsort(-expected)]
    np.testing.assert_allclose([p for _, p in ranked], np.sort(expected)[::-1], rtol=1e-5)


def test_predictor_flattened_rgb_and_rescaling_models(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3))
    path = _png(tmp_path / "x.png", image)
    mlp = _classifier(input_shape=(64,), outputs="softmax")  # a grey 8x8 image flattened
    grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32).reshape(1, 64) / 255.0
    np.testing.assert_allclose(prediction.Predictor(mlp).probabilities([path]),
                               mlp.predict(grey, verbose=0), rtol=1e-5)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    own_scaling = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    predictor = prediction.Predictor(own_scaling)
    assert predictor.pixel_scale == 1.0 and predictor.class_names == ["0", "1", "2"]
    np.testing.assert_allclose(predictor.probabilities([path]),
                               _softmax(own_scaling.predict(image[None].astype("float32"), verbose=0)), rtol=1e-5)


def test_check_answer():
    ranked = [("dog", 0.7), ("cat", 0.2)]
    assert prediction.check_answer(ranked, "Dog", CLASSES) == (True, "correct: the model says dog (70.0%)")
    correct, message = prediction.check_answer(ranked, "0", CLASSES)
    assert not correct and "the image is cat" in message
    with pytest.raises(UserError, match="unknown class 'horse'"):
        prediction.check_answer(ranked, "horse", CLASSES)


def test_predict_command_prints_top_k_with_run_json_names(tmp_path, capsys):
    model = _classifier(outputs="softmax")
    path = _save(model, tmp_path, {"class_names": CLASSES, "pixel_scale": 255.0})
    image = _png(tmp_path / "x.png", np.full((8, 8), 200))
    assert _command(path, image, "--top-k", "2") == 0
    out = capsys.readouterr().out.strip()
    expected = model.predict(np.full((1, 8, 8, 1), 200 / 255.0), verbose=0)[0]
    order = np.argsort(-expected)
    assert out == (f"{image}: 1. {CLASSES[order[0]]} {expected[order[0]]:.4f}  "
                   f"2. {CLASSES[order[1]]} {expected[order[1]]:.4f}")


def test_class_names_from_the_recorded_dataset(tmp_path):
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    path = _save(model, tmp_path, {"dataset": {"name": "digits"}})  # a lab that saved no class_names
    assert prediction.Predictor.from_file(path).class_names == [str(digit) for digit in range(10)]
    (tmp_path / "run.json").write_text(json.dumps({"dataset": {"name": "shapes"}}))
    assert prediction.Predictor.from_file(path).class_names[:2] == ["circle", "square"]


def test_predict_command_bad_inputs(tmp_path, capsys):
    assert _command(tmp_path / "missing.h5", tmp_path / "x.png") == 2
    assert "model file" in capsys.readouterr().err
    (tmp_path / "fake.h5").write_text("not a model")
    assert _command(tmp_path / "fake.h5", tmp_path / "x.png") == 2
    assert "not an HDF5 model file" in capsys.readouterr().err

    path = _save(_classifier(), tmp_path, {"class_names": CLASSES})
    (tmp_path / "notes.txt").write_text("hello")
    good = _png(tmp_path / "good.png", np.zeros((8, 8)))
    assert _command(path, tmp_path / "notes.txt", good) == 2  # the good image is still classified
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "notes.txt is not an image" in captured.err
    assert "Traceback" not in captured.err and captured.out.startswith(f"{good}: 1. ")

    assert _command(path, good, "--top-k", "0") == 2
    assert "--top-k" in capsys.readouterr().err


def test_predict_command_refuses_a_model_that_is_not_a_classifier(tmp_path, capsys):
    inputs = keras.Input((8, 8, 1))
    autoencoder = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs), name="autoencoder")
    path = _save(autoencoder, tmp_path)
    good = _png(tmp_path / "good.png", np.zeros((8, 8)))
    assert _command(path, good) == 2
    err = capsys.readouterr().err
    assert "is not an image classifier" in err and "Traceback" not in err
    scalar = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    with pytest.raises(UserError, match="not an image classifier"):
        prediction.Predictor(scalar)
    # Unit V's dense autoencoder: flat 64 pixels in, 64 out -- a reconstruction, not 64 class scores.
    flat = keras.Input((64,))
    dense_autoencoder = keras.Model(flat, keras.layers.Dense(64)(keras.layers.Dense(8)(flat)))
    with pytest.raises(UserError, match="not an image classifier"):
        prediction.Predictor(dense_autoencoder)
    # A sentiment model: integer word indices (256 = 16 x 16 would otherwise pass as a grey image).
    words = keras.Input((256,), dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(100, 4)(words))
    with pytest.raises(UserError, match="not an image classifier"):
        prediction.Predictor(keras.Model(words, keras.layers.Dense(2)(pooled)))
