"""How a lab run trains fast without changing what it learns: steps per call, XLA, mixed precision.

``LabRun.fit`` applies :func:`settings` to every model it trains and records them in run.json
(``"performance"``, one entry per history file); ``--no-speedups`` trains as a plain ``model.fit``
would, for comparison. None of the defaults changes the algorithm: the notes' batch size and
learning rate stay, each epoch sees every training example once in a fresh random order.

What was measured (lab 06's CNN and lab 16's dense autoencoder on 2 CPU cores, README "Performance",
``benchmarks/training_benchmark.py``), and kept only where it won:

- **Steps per execution** (kept): 16 training steps per call into the compiled graph, so Python and
  the runner's per-batch callbacks (the NaN check) run once per 16 batches. Callbacks that must see
  every batch (``--checkpoint-every``, ``--profile-batches``) keep one step per call, and so do
  recurrent models on a CPU: their loop over time steps inside the loop over 16 steps trained lab 12's
  LSTM at 389 samples/s against 596-603 with one step per call (alternating runs, 2 cores); on a GPU,
  where cuDNN runs the LSTM/GRU as one kernel, they keep 16 (not measured here).
- **XLA** (``jit_compile``): Keras leaves it off on CPU-only machines. Measured on 2 cores, it wins for
  models of dense layers only (lab 16's autoencoder, about +15%) and loses for convolutions (lab 06's
  CNN, about -15%), so on a CPU it is switched on for dense-only models trained on one device.
- **tf.data instead of NumPy arrays into fit**: no faster, but ``LabRun.fit`` does feed arrays through
  :func:`dlcourse.data.pipeline.fit_arguments`, for correctness: Keras 3's own array input replays
  one batch order in every epoch once a global seed is set (every lab run is seeded).
- **oneDNN off**, **thread settings**: no difference beyond the machine's noise, so not applied.
- **Fused batch normalization** (kept): Keras 3 normalizes a batch with separate moment, subtract,
  scale and shift operations, each a pass over the feature maps forward and backward; TensorFlow's
  ``FusedBatchNormV3`` does it in one kernel. Training-mode batch normalization of 4-D channels-last
  inputs runs through it (:func:`fuse_batch_normalization`), with the same batch statistics, the
  same moving averages (the kernel's Bessel-corrected variance is turned back into the biased one
  Keras averages) and the same saved layer. Measured on lab 06's CNN (5 alternating pairs, 2 cores):
  1.17x-1.38x the samples/s, median 1.25x; test accuracy over 13 seeds median 0.814 against Keras's
  layer's 0.822, within the seeds' spread (0.72-0.87 with Keras's layer; one fused run fell to 0.39
  in a loss spike in its last epoch, a spike both layers show in this overfitting setup). Its gradients on lab 06's
  CNN differ from Keras's by up to ~1% in the first layers, but no more than Keras's float32 gradients
  differ from float64 (0.09%-0.9% at two initializations): ReLU kinks and max-pooling maxima move
  with float rounding; through smooth layers both match float64 alike (tests/test_performance.py).
  An earlier three-seed comparison that put it lower was made while every epoch replayed one order.
- **Mixed precision** (``--mixed-precision``, off by default: it changes the arithmetic): on GPUs
  the policy :func:`mixed_precision_policy` picks; float32 on CPUs.
"""

import contextlib

STEPS_PER_EXECUTION = 16


EAGER_STEPS = 32  # a fit of at most this many steps runs faster eagerly than traced (smoke runs)
RECURRENT_LAYERS = ("SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional")
# Recurrent fits run eagerly up to this many (training steps x time steps). Measured on smoke runs
# (2 cores): lab 20 (4 steps x <= 16 time steps) 10.6 s eagerly against 19.7 s traced, lab 21 (4 x 17)
# 17.0 s against 19.7 s; lab 22 (8 x 32) was slower eagerly (22.2 s against 15.7 s), so it stays
# traced; lab 12 (7 x 32) was no faster (24.2 s against 24.6-25.6 s), and its smoke run now reads 16
# tokens (7 x 16), eagerly: 15-18 s.
EAGER_RECURRENT_STEPS = 150


def settings(model, strategy, *, enabled=True, per_batch_callbacks=False, steps=None, sequence_length=None):
    """The speed settings for training ``model`` under ``strategy``: a dict recorded in run.json.

    ``per_batch_callbacks`` (``--checkpoint-every``, ``--profile-batches``) keeps one step per call,
    so those callbacks see every batch. A fit of at most :data:`EAGER_STEPS` training ``steps`` (a
    smoke run) on one device runs eagerly, as tracing and compiling a graph would cost more than the
    steps themselves. A recurrent model runs eagerly only when its loop is short too: at most
    :data:`EAGER_RECURRENT_STEPS` training steps x ``sequence_length`` time steps (unknown: traced),
    since eagerly every time step is a Python iteration. Recurrent models on a CPU keep one step per
    call (the module docstring says why).
    """
    device = device_kind(strategy)
    recurrent = has_layers(model, RECURRENT_LAYERS)
    few_steps = steps is not None and steps <= EAGER_STEPS
    if few_steps and recurrent:
        few_steps = sequence_length is not None and steps * sequence_length <= EAGER_RECURRENT_STEPS
    if enabled and few_steps and strategy.num_replicas_in_sync == 1:
        return {"steps_per_execution": 1, "jit_compile": False, "run_eagerly": True, "device": device,
                "dtype_policy": _policy_name(), "fused_batch_norm": _has_fusable(model)}
    grouped = enabled and not per_batch_callbacks and not (device == "cpu" and recurrent)
    steps = STEPS_PER_EXECUTION if grouped else int(model.steps_per_execution)
    jit = _jit(model)
    if enabled and device == "cpu" and strategy.num_replicas_in_sync == 1 and dense_only(model):
        jit = True
    return {"steps_per_execution": steps, "jit_compile": jit, "run_eagerly": bool(model.run_eagerly), "device": device,
            "dtype_policy": _policy_name(), "fused_batch_norm": enabled and _has_fusable(model)}


def apply(model, chosen):
    """Set ``chosen`` (from :func:`settings`) on a compiled model before ``fit``."""
    eager = chosen.get("run_eagerly", bool(model.run_eagerly))
    if chosen.get("fused_batch_norm") and fuse_batch_normalization(model):
        model.train_function = model.test_function = model.predict_function = None
    if (model.steps_per_execution != chosen["steps_per_execution"] or _jit(model) != chosen["jit_compile"]
            or bool(model.run_eagerly) != eager):
        model.steps_per_execution = chosen["steps_per_execution"]
        model.jit_compile = chosen["jit_compile"]
        model.run_eagerly = eager
        # Keras caches the traced step functions; trace them again with the new settings
        model.train_function = model.test_function = model.predict_function = None


@contextlib.contextmanager
def traced_predictions(model):
    """Inside the block ``model.predict`` runs as a traced graph even when the model trained eagerly
    (a smoke fit, :func:`settings`): a loop that predicts many times at one shape (greedy decoding,
    :mod:`dlcourse.sequence_decoding`) pays for one trace instead of an eager pass per call."""
    if not model.run_eagerly:
        yield model
        return
    model.run_eagerly, model.predict_function = False, None
    try:
        yield model
    finally:
        model.run_eagerly, model.predict_function = True, None


def fusable(layer):
    """True for a Keras ``BatchNormalization`` that TensorFlow's fused kernel computes exactly as Keras
    does in training: normalizing the last axis of 4-D inputs (``(batch, height, width, channels)``),
    without renormalization or cross-replica statistics, on the TensorFlow backend."""
    import keras

    return (type(layer) is keras.layers.BatchNormalization and keras.backend.backend() == "tensorflow"
            and len(layer.input.shape if _has_input(layer) else ()) == 4 and layer.axis in (-1, 3)
            and not getattr(layer, "renorm", False) and not getattr(layer, "synchronized", False))


def _has_input(layer):
    try:
        return layer.input is not None
    except (AttributeError, ValueError):  # a layer never called symbolically
        return False


def _has_fusable(model):
    return any(fusable(layer) for layer in model._flatten_layers(include_self=False))


def fuse_batch_normalization(model):
    """Make every :func:`fusable` batch normalization of ``model`` train through ``FusedBatchNormV3``;
    returns how many were newly switched. Only the layer object's ``call`` changes: its class,
    config, weights and saved file stay Keras's own, and inference (``training=False``) is Keras's."""
    import types

    count = 0
    for layer in model._flatten_layers(include_self=False):
        if fusable(layer) and "call" not in vars(layer):
            object.__setattr__(layer, "call", types.MethodType(_fused_call, layer))
            count += 1
    return count


def _fused_call(layer, inputs, training=None, mask=None):
    """``BatchNormalization.call`` with the training-mode normalization in one fused kernel."""
    import keras
    import tensorflow as tf

    if not (training and layer.trainable) or mask is not None or inputs.dtype != tf.float32:
        return type(layer).call(layer, inputs, training=training, mask=mask)
    channels = inputs.shape[-1]
    gamma = layer.gamma if layer.scale else tf.ones((channels,), inputs.dtype)
    beta = layer.beta if layer.center else tf.zeros((channels,), inputs.dtype)
    outputs, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=inputs, scale=tf.convert_to_tensor(gamma), offset=tf.convert_to_tensor(beta),
        mean=tf.zeros((0,), inputs.dtype), variance=tf.zeros((0,), inputs.dtype), epsilon=layer.epsilon,
        data_format="NHWC", is_training=True)
    count = tf.cast(tf.size(inputs) // channels, inputs.dtype)
    variance = variance * tf.maximum(count - 1.0, 0.0) / count  # the kernel returns the unbiased variance
    momentum = layer.momentum
    layer.moving_mean.assign(layer.moving_mean * momentum + mean * (1.0 - momentum))
    layer.moving_variance.assign(layer.moving_variance * momentum + variance * (1.0 - momentum))
    return keras.ops.cast(outputs, layer.compute_dtype)


DENSE_LAYERS = ("Dense", "InputLayer", "Activation", "Dropout", "Flatten", "Reshape", "BatchNormalization",
                "LayerNormalization", "GaussianNoise", "Rescaling", "ActivityRegularization")


def dense_only(model):
    """True when every layer of ``model`` (nested models included) is one of :data:`DENSE_LAYERS`, the
    layers XLA compiles well on a CPU, and the model has no custom ``train_step``."""
    import keras

    custom_step = type(model).train_step is not keras.Model.train_step
    layers = [layer for layer in model._flatten_layers(include_self=False) if not isinstance(layer, keras.Model)]
    return not custom_step and bool(layers) and all(type(layer).__name__ in DENSE_LAYERS for layer in layers)


def has_layers(model, names):
    """True when a layer of ``model`` (nested models included) has one of these class names."""
    return any(type(layer).__name__ in names for layer in model._flatten_layers(include_self=False))


def _jit(model):
    try:
        return bool(model.jit_compile)
    except AttributeError:  # not compiled
        return False


def _policy_name():
    import keras

    return keras.config.dtype_policy().name


def device_kind(strategy):
    """``"tpu"``, ``"gpu"`` or ``"cpu"``: what the strategy's replicas run on."""
    import tensorflow as tf

    if "TPU" in type(strategy).__name__:
        return "tpu"
    try:
        devices = list(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError):  # TF's default strategy: the first GPU if there is one
        devices = [device.name for device in tf.config.list_logical_devices("GPU")[:1]]
    return "gpu" if any("GPU" in device.upper() for device in devices) else "cpu"


def gpu_compute_capability():
    """``(major, minor)`` of the first GPU, or None (no GPU, or TF cannot tell)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    return details.get("compute_capability")


def mixed_precision_policy(device, compute_capability=None):
    """The Keras dtype policy that trains fastest on ``device`` at float32-level accuracy.

    ``mixed_float16`` on NVIDIA GPUs of compute capability 7.x (V100, T4: Colab's free GPU), with the
    loss scaling Keras's ``compile`` adds by itself; ``mixed_bfloat16`` on 8.0 and later (A100, L4,
    H100) and on TPUs; ``float32`` on CPUs and older GPUs, where reduced precision is slower. Keras
    casts predictions to the loss's float32, so logits reach the loss in float32.
    """
    if device == "tpu":
        return "mixed_bfloat16"
    if device != "gpu" or compute_capability is None:
        return "float32"
    major = compute_capability[0]
    if major >= 8:
        return "mixed_bfloat16"
    if major == 7:
        return "mixed_float16"
    return "float32"


# Labs whose training wrapper writes its own train_step (GAN, VAE, AAE) and so gets no loss scaling
# from compile: float16 would underflow their gradients, so they keep float32 where float16 is picked.
CUSTOM_TRAIN_STEP_LABS = ("14", "15", "18", "19", "25", "26", "28", "29")


def set_mixed_precision(strategy, lab_number):
    """``--mixed-precision``: set the global dtype policy for this device before models are built;
    returns the policy's name (:meth:`LabRun.__exit__ <dlcourse.training.LabRun>` restores float32)."""
    import keras

    policy = mixed_precision_policy(device_kind(strategy), gpu_compute_capability())
    if policy == "mixed_float16" and lab_number in CUSTOM_TRAIN_STEP_LABS:
        policy = "float32"
    keras.config.set_dtype_policy(policy)
    return policy


def cudnn_compatible(layer):
    """True when a Keras ``LSTM``/``GRU`` keeps the settings that let TensorFlow run it as one fused
    cuDNN kernel on a GPU (Keras's defaults): tanh / sigmoid, no recurrent dropout, not unrolled,
    with biases, and for a GRU ``reset_after=True``. Other settings fall back to a loop over time
    steps, several times slower on a GPU."""
    config = layer.get_config()
    fused = (config.get("activation") == "tanh" and config.get("recurrent_activation") == "sigmoid"
             and not config.get("recurrent_dropout") and not config.get("unroll") and config.get("use_bias"))
    if type(layer).__name__ == "GRU":
        fused = fused and config.get("reset_after", False)
    return bool(fused)
