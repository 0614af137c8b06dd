"""dlcourse.performance: the speed settings LabRun.fit applies, their record, and what they leave alone."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse import artifacts, performance, training


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
                     "dtype_policy": "float32", "fused_batch_norm": False}
    assert performance.settings(conv_model(), strategy)["jit_compile"] is False
    assert performance.settings(dense_model(), strategy, per_batch_callbacks=True)["steps_per_execution"] == 1
    plain = performance.settings(dense_model(), strategy, enabled=False)
    assert (plain["steps_per_execution"], plain["jit_compile"]) == (1, False)  # Keras's own CPU defaults


def test_a_fit_of_a_few_steps_runs_eagerly_and_a_recurrent_one_only_over_short_sequences():
    strategy = tf.distribute.get_strategy()
    few = performance.settings(dense_model(), strategy, steps=performance.EAGER_STEPS)
    assert (few["run_eagerly"], few["steps_per_execution"], few["jit_compile"]) == (True, 1, False)
    assert performance.settings(dense_model(), strategy, steps=performance.EAGER_STEPS + 1)["run_eagerly"] is False
    assert performance.settings(dense_model(), strategy, steps=None)["run_eagerly"] is False
    inputs = keras.Input((5, 2))
    recurrent = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(3)(inputs)))
    recurrent.compile(optimizer="sgd", loss="mse")
    assert performance.settings(recurrent, strategy, steps=4)["run_eagerly"] is False  # length unknown
    short = performance.EAGER_RECURRENT_STEPS // 4
    assert performance.settings(recurrent, strategy, steps=4, sequence_length=short)["run_eagerly"] is True
    assert performance.settings(recurrent, strategy, steps=4, sequence_length=short + 1)["run_eagerly"] is False
    assert performance.settings(dense_model(), strategy, steps=4, enabled=False)["run_eagerly"] is False


def test_sequence_length_of_a_fit_is_the_longest_second_axis():
    tokens = tf.data.Dataset.from_tensor_slices(((np.zeros((8, 16), "int32"), np.zeros((8, 17), "int32")),
                                                 np.zeros((8, 17)))).batch(4)
    assert training.sequence_length(tokens) == 17
    assert training.sequence_length(tf.data.Dataset.from_tensor_slices(np.zeros((8,))).batch(4)) is None
    ragged = tf.data.Dataset.from_generator(lambda: iter([np.zeros((2, 3))]),
                                            output_signature=tf.TensorSpec((None, None)))
    assert training.sequence_length(ragged) is None
    assert training.sequence_length(np.zeros((8, 16))) is None  # arrays reach fit as a pipeline


def test_recurrent_models_train_one_step_per_call_on_a_cpu():
    inputs = keras.Input((5, 2))
    recurrent = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GRU(3)(inputs)))
    recurrent.compile(optimizer="sgd", loss="mse")
    chosen = performance.settings(recurrent, tf.distribute.get_strategy(), steps=None)
    assert (chosen["steps_per_execution"], chosen["run_eagerly"], chosen["device"]) == (1, False, "cpu")
    assert performance.settings(dense_model(), tf.distribute.get_strategy())["steps_per_execution"] == 16
    # on a GPU (cuDNN's kernel, no loop over time steps in the graph) recurrent models keep 16; the
    # strategy is only asked which device it names, so no GPU is needed to check the choice
    on_gpu = performance.settings(recurrent, tf.distribute.OneDeviceStrategy("/gpu:0"))
    assert (on_gpu["steps_per_execution"], on_gpu["device"]) == (16, "gpu")


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


def _bn_model(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.5, name="bn")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8)(x)
    x = keras.layers.BatchNormalization(name="bn_dense")(x)  # 2-D: not fused
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_fused_batch_normalization_trains_exactly_as_keras_does(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (16, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, 16)
    plain, fused = _bn_model(1), _bn_model(1)
    fused.set_weights(plain.get_weights())
    assert [performance.fusable(layer) for layer in fused.layers if "bn" in layer.name] == [True, False]
    assert performance.fuse_batch_normalization(fused) == 1
    assert performance.fuse_batch_normalization(fused) == 0  # already switched
    # the same training-mode outputs and gradients as Keras's own layer (GradientTape)
    gradients = []
    for model in (plain, fused):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
        gradients.append(tape.gradient(loss, model.trainable_variables))
    for keras_gradient, fused_gradient in zip(*gradients):
        np.testing.assert_allclose(fused_gradient, keras_gradient, rtol=1e-4, atol=1e-5)
    # and the same weights and moving statistics after a few steps of fit
    for model in (plain, fused):
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for keras_weight, fused_weight in zip(plain.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(fused_weight, keras_weight, rtol=1e-4, atol=1e-5)
    moving_variance = fused.get_layer("bn").moving_variance.numpy()
    assert not np.allclose(moving_variance, 1.0)  # the moving statistics did move
    np.testing.assert_allclose(fused.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    # the saved file is Keras's own layer
    path = tmp_path / "fused.h5"
    artifacts.save_model(fused, path)
    reloaded = artifacts.load_model(path)
    assert type(reloaded.get_layer("bn")) is keras.layers.BatchNormalization
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), fused.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_settings_fuse_batch_normalization_unless_speedups_are_off():
    strategy = tf.distribute.get_strategy()
    assert performance.settings(_bn_model(0), strategy, steps=1000)["fused_batch_norm"] is True
    assert performance.settings(_bn_model(0), strategy, enabled=False)["fused_batch_norm"] is False
    assert performance.settings(dense_model(), strategy, steps=1000)["fused_batch_norm"] is False


def test_fused_batch_normalization_is_as_accurate_as_keras_through_stacked_layers():
    """Lab 06's layer widths with smooth activations and average pooling, against the same network in
    float64: through two fused batch normalizations the float32 gradients are as close to float64 as
    Keras's own. (With ReLU and max pooling, float rounding can move a kink or a pooling maximum;
    Keras's float32 gradients then differ from float64 by up to about 1% in the first layers, fused
    or not: measured on lab 06's CNN, 0.09% and 0.9% for Keras at two initializations.)"""
    def build():
        keras.utils.set_random_seed(3)
        layers = keras.layers
        return keras.Sequential([
            keras.Input((16, 16, 3)), layers.Conv2D(32, 3, activation="tanh"), layers.BatchNormalization(),
            layers.AveragePooling2D(2), layers.Conv2D(64, 3, activation="tanh"), layers.BatchNormalization(),
            layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(10)])

    rng = np.random.default_rng(1)
    x = rng.random((32, 16, 16, 3))
    y = rng.integers(0, 10, 32)
    plain, fused = build(), build()
    keras.config.set_dtype_policy("float64")
    try:
        reference = build()
    finally:
        keras.config.set_dtype_policy("float32")
    fused.set_weights(plain.get_weights())
    reference.set_weights([weight.astype("float64") for weight in plain.get_weights()])
    assert performance.fuse_batch_normalization(fused) == 2
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    gradients = []
    for model, dtype in ((reference, "float64"), (plain, "float32"), (fused, "float32")):
        with tf.GradientTape() as tape:
            value = loss(y, model(tf.constant(x, dtype), training=True))
        gradients.append([np.asarray(gradient, "float64") for gradient in tape.gradient(value, model.trainable_variables)])
    for exact, keras_gradient, fused_gradient in zip(*gradients):
        keras_error = np.linalg.norm(keras_gradient - exact)
        assert np.linalg.norm(fused_gradient - exact) <= 3 * keras_error + 1e-5 * np.linalg.norm(exact)


def test_traced_predictions_trace_an_eagerly_trained_model_and_restore_it():
    model = dense_model()
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x = np.random.default_rng(0).normal(size=(10, 6)).astype("float32")
    eager = model.predict(x, verbose=0)
    with performance.traced_predictions(model):
        assert model.run_eagerly is False
        traced = model.predict(x, verbose=0)
        assert isinstance(model.predict_function, tf.types.experimental.PolymorphicFunction)
    assert model.run_eagerly is True and model.predict_function is None
    np.testing.assert_allclose(traced, eager, rtol=1e-6, atol=1e-6)
    model.predict(x, verbose=0)
    assert not isinstance(model.predict_function, tf.types.experimental.PolymorphicFunction)
