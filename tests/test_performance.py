"""dlcourse.performance: the speed settings LabRun.fit applies, their record, and what they leave alone."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse import performance, training


def parse(argv, number="03"):
    return training.parse_lab_args(training.lab_parser(number, epochs=2, batch_size=8), argv)


def dense_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3)(keras.layers.Dense(16, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def conv_model():
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("device, capability, policy", [
    ("gpu", (7, 5), "mixed_float16"),    # T4 (Colab)
    ("gpu", (7, 0), "mixed_float16"),    # V100
    ("gpu", (8, 0), "mixed_bfloat16"),   # A100
    ("gpu", (9, 0), "mixed_bfloat16"),   # H100
    ("gpu", (6, 1), "float32"),          # Pascal: no fast half precision
    ("gpu", None, "float32"),
    ("tpu", None, "mixed_bfloat16"),
    ("cpu", None, "float32"),
])
def test_mixed_precision_policy_by_device(device, capability, policy):
    assert performance.mixed_precision_policy(device, capability) == policy


def test_settings_group_steps_and_use_xla_for_dense_models_only_on_a_cpu():
    strategy = tf.distribute.get_strategy()
    assert performance.device_kind(strategy) == "cpu"
    dense = performance.settings(dense_model(), strategy, steps=1000)
    assert dense == {"steps_per_execution": 16, "jit_compile": True, "run_eagerly": False, "device": "cpu",
                     "dtype_policy": "float32"}
    assert performance.settings(conv_model(), strategy)["jit_compile"] is False
    assert performance.settings(dense_model(), strategy, per_batch_callbacks=True)["steps_per_execution"] == 1
    plain = performance.settings(dense_model(), strategy, enabled=False)
    assert (plain["steps_per_execution"], plain["jit_compile"]) == (1, False)  # Keras's own CPU defaults


def test_a_fit_of_a_few_steps_runs_eagerly_unless_the_model_is_recurrent():
    strategy = tf.distribute.get_strategy()
    few = performance.settings(dense_model(), strategy, steps=performance.EAGER_STEPS)
    assert (few["run_eagerly"], few["steps_per_execution"], few["jit_compile"]) == (True, 1, False)
    assert performance.settings(dense_model(), strategy, steps=performance.EAGER_STEPS + 1)["run_eagerly"] is False
    assert performance.settings(dense_model(), strategy, steps=None)["run_eagerly"] is False
    inputs = keras.Input((5, 2))
    recurrent = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(3)(inputs)))
    recurrent.compile(optimizer="sgd", loss="mse")
    assert performance.settings(recurrent, strategy, steps=4)["run_eagerly"] is False
    assert performance.settings(dense_model(), strategy, steps=4, enabled=False)["run_eagerly"] is False


def test_training_steps_of_a_fit():
    x = np.zeros((100, 3))
    assert training.training_steps(x, {"batch_size": 32, "epochs": 2}, 90) == 6  # ceil(90 / 32) x 2
    assert training.training_steps(x, {"epochs": 3}, 64) == 6  # Keras's default batch of 32
    assert training.training_steps(x, {"steps_per_epoch": 5, "epochs": 2}, 0) == 10
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(25)
    assert training.training_steps(dataset, {"epochs": 2}, 0) == 8
    assert training.training_steps(dataset.repeat(), {"epochs": 2}, 0) is None


def test_a_custom_train_step_is_not_dense_only():
    class Wrapped(keras.Model):
        def train_step(self, data):
            return super().train_step(data)

    inputs = keras.Input((3,))
    assert performance.dense_only(keras.Model(inputs, keras.layers.Dense(1)(inputs)))
    assert not performance.dense_only(Wrapped(inputs, keras.layers.Dense(1)(inputs)))


def test_grouped_steps_train_the_same_weights_as_one_step_per_call():
    x = np.random.default_rng(1).normal(size=(64, 6)).astype("float32")
    y = np.random.default_rng(2).normal(size=(64, 3)).astype("float32")
    plain, grouped = dense_model(), dense_model()
    plain.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 8 steps per epoch
    grouped.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)  # traced once with one step per call
    grouped.set_weights(dense_model().get_weights())
    grouped.optimizer = keras.optimizers.SGD(0.1)
    performance.apply(grouped, {"steps_per_execution": 16, "jit_compile": False})
    assert grouped.train_function is None  # traced again with the new grouping
    grouped.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 16 > 8 steps: a partial group
    for left, right in zip(plain.get_weights(), grouped.get_weights()):
        np.testing.assert_allclose(left, right, rtol=1e-6, atol=1e-7)
    assert grouped.steps_per_execution == 16


def test_run_json_records_the_settings_and_no_speedups_turns_them_off(tmp_path):
    x = np.random.default_rng(3).normal(size=(40, 6)).astype("float32")
    y = np.zeros((40, 3), "float32")
    for flags, expected in (([], (16, True)), (["--no-speedups"], (1, False)), (["--checkpoint-every", "2"], (1, True))):
        out = tmp_path / str(len(flags))
        args = parse(["--out", str(out), "--strategy", "default", *flags])
        with training.LabRun("03", args) as run:
            model = dense_model()
            run.fit(model, np.repeat(x, 10, axis=0), np.repeat(y, 10, axis=0), epochs=1, batch_size=8)  # 50 steps
            run.finish(metrics={"loss": 0.0})
        record = json.loads((out / "03_deep_ffn" / "run.json").read_text())["performance"]["history.csv"]
        assert (record["steps_per_execution"], record["jit_compile"]) == expected, flags
        assert (model.steps_per_execution, model.jit_compile) == expected


def test_mixed_precision_flag_is_float32_on_a_cpu_and_custom_steps_never_get_float16(tmp_path, monkeypatch):
    args = parse(["--out", str(tmp_path), "--strategy", "default", "--mixed-precision"])
    with training.LabRun("03", args) as run:
        assert keras.config.dtype_policy().name == "float32"
        assert run.record["mixed_precision"] == "float32"
    monkeypatch.setattr(performance, "mixed_precision_policy", lambda device, capability: "mixed_float16")
    strategy = tf.distribute.get_strategy()
    try:
        assert performance.set_mixed_precision(strategy, "14") == "float32"  # the GAN's own train_step
        assert performance.set_mixed_precision(strategy, "06") == "mixed_float16"
        assert keras.config.dtype_policy().name == "mixed_float16"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_sentiment_models_keep_the_fused_cudnn_settings(cell, bidirectional):
    from dlcourse.models.recurrent import build_sentiment_model

    model = build_sentiment_model(cell=cell, bidirectional=bidirectional, vocab_size=50, sequence_length=8,
                                  embedding_dim=4, units=3)
    recurrent = [layer for layer in model._flatten_layers(include_self=False)
                 if type(layer).__name__ in ("LSTM", "GRU")]
    assert recurrent and all(performance.cudnn_compatible(layer) for layer in recurrent)
    assert not performance.cudnn_compatible(keras.layers.LSTM(3, recurrent_dropout=0.1))
    assert not performance.cudnn_compatible(keras.layers.GRU(3, reset_after=False))
