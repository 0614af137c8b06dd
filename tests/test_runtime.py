"""Seeds and tf.distribute strategies (dlcourse/runtime.py)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse import runtime
from dlcourse.errors import UserError


def build(seed):
    runtime.set_seed(seed)
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(4, activation="relu")(inputs)))


def test_set_seed_makes_initialisation_repeatable():
    first, second, other = build(3).get_weights(), build(3).get_weights(), build(4).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])


def test_auto_strategy_resolution(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("COLAB_TPU_ADDR", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    assert runtime.resolve_strategy_name("auto") == "default"  # no GPU on the test machines
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert runtime.resolve_strategy_name("auto") == "tpu"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}))
    assert runtime.resolve_strategy_name("auto") == "multiworker"
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UserError, match="TF_CONFIG"):
        runtime.resolve_strategy_name("auto")


def test_unknown_strategy_and_missing_tpu_are_user_errors(monkeypatch):
    with pytest.raises(UserError, match="unknown strategy"):
        runtime.get_strategy("gpu")
    with pytest.raises(UserError, match="no TPU"):
        runtime.get_strategy("tpu")


def test_named_strategies():
    assert isinstance(runtime.get_strategy("default"), type(tf.distribute.get_strategy()))
    assert runtime.strategy_description(runtime.get_strategy("default")) == {
        "name": "default", "replicas": 1}


def _train_one_epoch(strategy, x, y):
    with strategy.scope():
        model = build(0)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return history.history["loss"][0], model.get_weights()


def test_mirrored_over_two_cpus_matches_the_default_strategy(two_cpu_strategy):
    """Same global batch, same initial weights: same loss and same updated weights with 2 replicas."""
    assert two_cpu_strategy.num_replicas_in_sync == 2
    x = np.random.default_rng(0).random((32, 3)).astype("float32")
    y = np.random.default_rng(1).random((32, 2)).astype("float32")
    single_loss, single_weights = _train_one_epoch(tf.distribute.get_strategy(), x, y)
    mirrored_loss, mirrored_weights = _train_one_epoch(two_cpu_strategy, x, y)
    assert mirrored_loss == pytest.approx(single_loss, rel=1e-5)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_multiworker_trains_with_the_custom_loop(monkeypatch):
    class FakeMultiWorker(tf.distribute.MultiWorkerMirroredStrategy):
        def __init__(self):  # not started: only the type matters here
            pass

    monkeypatch.delenv(runtime.TRAINING_LOOP_VARIABLE, raising=False)
    assert runtime.uses_custom_loop(FakeMultiWorker())  # Keras 3's fit fails there (keras-team/keras#20585)
    assert not runtime.uses_custom_loop(tf.distribute.get_strategy())
    monkeypatch.setenv(runtime.TRAINING_LOOP_VARIABLE, "custom")
    assert runtime.uses_custom_loop(tf.distribute.get_strategy())
    monkeypatch.setenv(runtime.TRAINING_LOOP_VARIABLE, "sometimes")
    with pytest.raises(UserError, match="DLCOURSE_TRAINING_LOOP"):
        runtime.uses_custom_loop(tf.distribute.get_strategy())
