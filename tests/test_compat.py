"""dlcourse/compat.py: each function behaves the same on every supported Keras (run on the lowest by .ci/lowest)."""

import keras
import numpy as np
import pytest

import dlcourse  # noqa: F401  (registers the custom layers)
from dlcourse import compat
from dlcourse.layers.sampling import BatchMeanL1


def test_version_parsing():
    assert compat._version("3.10.0") == (3, 10, 0)
    assert compat._version("3.16.0.dev2026061203") == (3, 16, 0)
    assert compat.KERAS_VERSION == compat._version(keras.__version__) >= (3, 10)


class _Batches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((batch, float(logs["loss"])))


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def test_terminate_on_nan_raises_at_the_first_nan_batch():
    x = np.ones((16, 2), "float32")
    x[9] = np.nan  # sample 9 lies in batch 2 of 4 (batch size 4, no shuffling)
    y = np.zeros((16, 1), "float32")
    batches = _Batches()
    with pytest.raises(RuntimeError, match="NaN"):
        _tiny_model().fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                          callbacks=[batches, compat.terminate_on_nan()])
    assert [batch for batch, _ in batches.seen] == [0, 1, 2]  # stopped inside epoch 1, not after 3 epochs
    assert np.isfinite(batches.seen[1][1]) and np.isnan(batches.seen[2][1])


def test_terminate_on_nan_leaves_finite_training_alone():
    x = np.ones((16, 2), "float32")
    history = _tiny_model().fit(x, np.zeros((16, 1), "float32"), batch_size=4, epochs=3, verbose=0,
                                callbacks=[compat.terminate_on_nan()])
    assert len(history.epoch) == 3 and np.all(np.isfinite(history.history["loss"]))


def test_h5_lambda_is_refused_in_safe_mode_and_plain_models_load(tmp_path):
    inputs = keras.Input((2,))
    lambda_model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    lambda_model.save(tmp_path / "lambda.h5")
    with pytest.raises(ValueError, match="lambda"), compat.legacy_h5_safe_mode():
        keras.saving.load_model(tmp_path / "lambda.h5", compile=False, safe_mode=True)
    plain = _tiny_model()
    plain.save(tmp_path / "plain.h5")
    with compat.legacy_h5_safe_mode():
        loaded = keras.saving.load_model(tmp_path / "plain.h5", compile=False, safe_mode=True)
    x = np.array([[1.0, -2.0]], "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-6)


def _code_layer_loss(regularizer, x):
    layer = keras.layers.Dense(3, kernel_initializer="ones", bias_initializer="zeros",
                               activity_regularizer=regularizer)
    activations = np.asarray(layer(x))
    return float(layer.losses[0]), np.abs(activations).sum()


def test_activity_penalties_averaged_says_what_keras_does():
    x = np.array([[1.0, 2.0], [3.0, -4.0], [0.5, 0.5], [-1.0, 0.0]], "float32")  # batch of 4
    loss, total = _code_layer_loss(keras.regularizers.L1(0.1), x)  # sum|a| = 3 * (3+1+1+1) = 18
    assert total == pytest.approx(18.0)
    expected = 0.1 * 18.0 / 4 if compat.activity_penalties_averaged() else 0.1 * 18.0
    assert loss == pytest.approx(expected, rel=1e-6)


def test_batch_mean_l1_is_the_batch_mean_on_every_keras():
    x = np.array([[1.0, 2.0], [3.0, -4.0], [0.5, 0.5], [-1.0, 0.0]], "float32")
    loss, total = _code_layer_loss(BatchMeanL1(0.1), x)
    assert loss == pytest.approx(0.1 * 18.0 / 4, rel=1e-6)
    assert keras.saving.get_registered_object("dlcourse>BatchMeanL1") is BatchMeanL1


def _stamp(path, keras_version, extra_dense_option=False):
    """Rewrite the Keras version an .h5 file claims, optionally adding a Dense argument no Keras knows."""
    import json

    import h5py

    with h5py.File(path, "r+") as handle:
        handle.attrs["keras_version"] = keras_version
        if extra_dense_option:
            config = json.loads(handle.attrs["model_config"])
            for layer in config["config"]["layers"]:
                if layer["class_name"] == "Dense":
                    layer["config"]["option_from_the_future"] = 1
            handle.attrs["model_config"] = json.dumps(config)


def test_a_model_from_a_newer_keras_gets_a_clear_error(tmp_path):
    from dlcourse import artifacts
    from dlcourse.errors import UserError

    path = tmp_path / "model.h5"
    _tiny_model().save(path)
    assert compat.saved_by_newer_keras(path) is None  # written by this Keras
    _stamp(path, "99.1.0")
    assert compat.saved_by_newer_keras(path) == "99.1.0"
    assert artifacts.load_model(path).count_params() == 3  # loads when nothing new is in it
    _stamp(path, "99.1.0", extra_dense_option=True)
    with pytest.raises(UserError, match=r"saved by Keras 99\.1\.0, newer than this Keras"):
        artifacts.load_model(path)
    _stamp(path, "3.0.0")  # an older writer: the plain first line of Keras's error
    with pytest.raises(UserError, match="cannot load model") as error:
        artifacts.load_model(path)
    assert "newer than this Keras" not in str(error.value)
