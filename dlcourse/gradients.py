"""Gradient clipping as the notes write it, and gradient-norm measurements for recurrent models.

000 Unit III, "Gradient clipping" (000 L1467-L1505) and handbook 003 §3.5.7:
``if ‖g‖ > θ: g ← θ · g / ‖g‖`` (``clip factor = clip_threshold / gradient_norm``), with the L2 norm
(sqrt of the sum of squares) or the L1 norm (sum of absolute values). The notes do not say which
gradients share one norm. Keras offers both readings as optimizer arguments:

* ``clipnorm=θ`` clips **each variable's** gradient by its own norm (:func:`clip_per_variable`);
* ``global_clipnorm=θ`` clips **all gradients together** by their joint norm
  ``sqrt(Σ_v ‖g_v‖²)``, which keeps the update's direction (:func:`clip_by_global_norm`, the same
  as ``tf.clip_by_global_norm``). This is the usual meaning of "clip the gradient" and the default
  of lab 13.

The notes also list clipping as a cure for *vanishing* gradients; it only bounds large ones
(docs/SOURCES.md, errata A31, A32).
"""

import numpy as np
import tensorflow as tf

import keras

NORM_ORDERS = (1, 2)


def norm(gradient, *, ord=2):
    """L2 (``ord=2``) or L1 (``ord=1``) norm of an array, flattened (the notes' ‖g‖)."""
    if ord not in NORM_ORDERS:
        raise ValueError(f"ord must be 1 (L1) or 2 (L2), got {ord!r}")
    values = np.abs(np.asarray(gradient, dtype=np.float64)).ravel()
    return float(values.sum() if ord == 1 else np.sqrt(np.sum(values ** 2)))


def clip_by_norm(gradient, threshold, *, ord=2):
    """The notes' rule on one gradient: ``θ · g / ‖g‖`` when ``‖g‖ > θ``, else ``g`` unchanged.

    >>> clip_by_norm([3.0, 4.0], 1.0)
    array([0.6, 0.8])
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    gradient = np.asarray(gradient, dtype=np.float64)
    size = norm(gradient, ord=ord)
    if size > threshold:
        return gradient * (threshold / size)  # clip factor = clip_threshold / gradient_norm
    return gradient


def global_norm(gradients):
    """Joint L2 norm of several gradients, ``sqrt(Σ_v ‖g_v‖²)``."""
    return float(np.sqrt(sum(norm(g) ** 2 for g in gradients)))


def clip_by_global_norm(gradients, threshold):
    """Clip a list of gradients by their joint L2 norm (Keras ``global_clipnorm``).

    Returns ``(clipped, norm_before)`` like ``tf.clip_by_global_norm``.
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    total = global_norm(gradients)
    factor = threshold / total if total > threshold else 1.0
    return [np.asarray(g, dtype=np.float64) * factor for g in gradients], total


def clip_per_variable(gradients, threshold):
    """Clip each gradient by its own L2 norm (Keras ``clipnorm``): directions between variables change."""
    return [clip_by_norm(g, threshold) for g in gradients]


def long_dependency_task(count, steps, *, seed=0):
    """Sequences of Gaussian noise whose label is the sign of the *first* value (1 if positive).

    The loss at the last step depends on x_1 only, so learning it needs ∂L/∂h_1, the gradient that
    has travelled back through all ``steps`` steps. Returns ``(x (count, steps, 1) float32, y (count, 1))``.
    """
    x = np.random.default_rng(seed).normal(size=(count, steps, 1)).astype(np.float32)
    return x, (x[:, :1, 0] > 0).astype(np.float32)


def hidden_state_gradient_norms(cell, head, x, y, *, loss=None):
    """‖∂L/∂h_t‖ for t = 1..T of a Keras recurrent cell unrolled over ``x`` (the vanishing-gradient plot).

    The cell (``keras.layers.SimpleRNNCell``, ``LSTMCell`` or ``GRUCell``, e.g. ``layer.cell`` of a
    built layer) is stepped in Python under a ``tf.GradientTape`` so that every hidden state h_t is
    a tensor the tape can differentiate to; the loss is ``loss(y, head(h_T))`` (many-to-one).

    Args:
        cell: a built or unbuilt Keras RNN cell.
        head: a callable on the last hidden state (e.g. a ``keras.layers.Dense``).
        x: inputs ``(batch, T, features)``; y: targets for ``head``'s output.
        loss: a Keras loss; binary cross-entropy on logits by default.

    Returns:
        ``dict(hidden=(T,) array of ‖∂L/∂h_t‖, cell=(T,) array of ‖∂L/∂C_t‖ or None)``; norms are
        Frobenius norms over the batch; ``cell`` is given for LSTM cells (the conveyor belt).
    """
    loss = loss or keras.losses.BinaryCrossentropy(from_logits=True)
    x = keras.ops.convert_to_tensor(x, dtype=cell.compute_dtype)
    batch, steps = int(x.shape[0]), int(x.shape[1])
    state_sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    with tf.GradientTape() as tape:
        states = [keras.ops.zeros((batch, size), dtype=x.dtype) for size in state_sizes]
        hidden, cells = [], []
        for t in range(steps):
            output, states = cell(x[:, t], states)
            states = list(states) if isinstance(states, (list, tuple)) else [states]
            hidden.append(output)
            cells.append(states[-1])
        value = loss(y, head(output))
    is_lstm = len(state_sizes) == 2
    gradients = tape.gradient(value, hidden + (cells if is_lstm else []))
    norms = np.array([0.0 if g is None else float(np.linalg.norm(g)) for g in gradients])
    return {"hidden": norms[:steps], "cell": norms[steps:] if is_lstm else None}


def set_forget_bias(cell, value, *, input_dim):
    """Build a Keras ``LSTMCell`` (if needed) and set its forget-gate bias b_f to ``value``.

    Keras initialises b_f = 1 (``unit_forget_bias=True``), so f_t ≈ σ(1) = 0.73 and the cell-state
    gradient still shrinks like 0.73^k over k steps; ``value=3`` (f ≈ 0.95) stands for the open gate
    a trained LSTM learns when it must remember. Gate order in the bias is i, f, c, o.
    """
    if not cell.built:
        cell.build((None, input_dim))
    bias = cell.bias.numpy()
    bias[cell.units:2 * cell.units] = value
    cell.bias.assign(bias)
    return cell


def keras_clipped_update(gradients, **clip_kwargs):
    """The gradients a Keras optimizer actually applies when given ``clipnorm`` or ``global_clipnorm``.

    Runs ``keras.optimizers.SGD(learning_rate=1, **clip_kwargs)`` on zero-valued variables, so the
    update equals minus the clipped gradients; used to check :func:`clip_per_variable` and
    :func:`clip_by_global_norm` against Keras itself.
    """
    variables = [keras.Variable(np.zeros_like(g, dtype=np.float32)) for g in gradients]
    optimizer = keras.optimizers.SGD(learning_rate=1.0, **clip_kwargs)
    optimizer.apply_gradients(zip([np.asarray(g, np.float32) for g in gradients], variables))
    return [-np.asarray(v.numpy(), np.float64) for v in variables]


def train_recording_gradients(model, x, y, optimizer, *, steps, batch_size, loss=None):
    """A few plain training steps that record the loss and the *unclipped* global gradient norm.

    Lab 13's exploding-gradient experiment: the same model and data with an optimizer with and
    without ``clipnorm`` / ``global_clipnorm``. Unlike ``model.fit`` (whose ``TerminateOnNaN`` stops
    the run) it keeps going, so a diverging run shows ``inf``/``nan`` in its record. Batches are taken
    in order, wrapping around.

    Returns:
        ``dict(loss=[...], gradient_norm=[...])``, one value per step (float; may be inf or nan).
    """
    loss = loss or keras.losses.MeanSquaredError()
    record = {"loss": [], "gradient_norm": []}
    count = len(x)
    for step in range(steps):
        start = (step * batch_size) % count
        batch = slice(start, start + batch_size)
        with tf.GradientTape() as tape:
            value = loss(y[batch], model(x[batch], training=True))
        grads = tape.gradient(value, model.trainable_variables)
        record["loss"].append(float(value))
        record["gradient_norm"].append(global_norm([g.numpy() for g in grads]))
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return record


def compare_clipping(build_model, x, y, *, threshold, steps, batch_size=32, learning_rate=0.05, seed=0):
    """Train the same model with SGD without clipping, with ``clipnorm`` and with ``global_clipnorm``.

    ``build_model()`` is called once per run after seeding, so all three start from the same weights.
    Returns ``{run name: train_recording_gradients(...) record}``.
    """
    settings = {"no_clipping": {}, "clipnorm": {"clipnorm": threshold},
                "global_clipnorm": {"global_clipnorm": threshold}}
    records = {}
    for name, clip in settings.items():
        keras.utils.set_random_seed(seed)
        model = build_model()
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate, **clip)
        records[name] = train_recording_gradients(model, x, y, optimizer, steps=steps, batch_size=batch_size)
    return records


def bptt_oracle_error(*, loss_on="last", seed=0, batch=3, steps=8, input_dim=2, hidden_dim=5, output_dim=1):
    """Largest relative difference between the NumPy BPTT gradients and ``tf.GradientTape`` (float64).

    The oracle is a float64 Keras ``SimpleRNN`` + ``Dense`` holding the same weights; the loss is the
    mean squared error of the last step or the sum over all steps (``L = Σ_t L_t``).
    """
    from dlcourse.scratch import rnn

    rng = np.random.default_rng(seed)
    params = rnn.RNNParameters.initialize(input_dim, hidden_dim, output_dim, seed=seed, recurrent_scale=0.9)
    params.b_h = rng.normal(scale=0.1, size=hidden_dim)
    x = rng.normal(size=(batch, steps, input_dim))
    y = rng.normal(size=(batch, output_dim) if loss_on == "last" else (batch, steps, output_dim))
    _, grads, _ = rnn.loss_and_gradients(params, x, y, loss_on=loss_on)

    layer = keras.layers.SimpleRNN(hidden_dim, return_sequences=True, dtype="float64")
    dense = keras.layers.Dense(output_dim, dtype="float64")
    layer.build((None, steps, input_dim))
    dense.build((None, hidden_dim))
    rnn_weights, dense_weights = params.to_keras()
    layer.set_weights(rnn_weights)
    dense.set_weights(dense_weights)
    with tf.GradientTape() as tape:
        outputs = dense(layer(x))
        errors = keras.ops.mean(keras.ops.square(outputs - (y[:, None] if loss_on == "last" else y)), axis=(0, 2))
        value = errors[-1] if loss_on == "last" else keras.ops.sum(errors)
    tape_grads = tape.gradient(value, layer.trainable_variables + dense.trainable_variables)
    # Keras stores the transposes of the notes' W_xh, W_hh and W_hy.
    expected = dict(zip(rnn.RNNParameters.NAMES, [tape_grads[0].numpy().T, tape_grads[1].numpy().T,
                                                  tape_grads[2].numpy(), tape_grads[3].numpy().T,
                                                  tape_grads[4].numpy()]))
    return max(float(np.max(np.abs(grads[name] - expected[name])) / max(np.max(np.abs(expected[name])), 1e-12))
               for name in expected)


def cells_oracle_errors(*, seed=0, batch=2, steps=5, input_dim=3, units=4):
    """Largest |NumPy − Keras| output difference for the LSTM and GRU cells of ``dlcourse.scratch.cells``.

    Random weights (biases included) are copied from float64 Keras layers; the GRU is checked with
    ``reset_after=False`` and ``True`` and in the notes' convention (update gate negated).
    """
    from dlcourse.scratch import cells

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, input_dim))

    def randomized(layer):
        layer.build(x.shape)
        layer.set_weights([rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()])
        return layer, layer.get_weights(), np.asarray(layer(x))

    _, weights, expected = randomized(keras.layers.LSTM(units, return_sequences=True, dtype="float64"))
    errors = {"lstm": float(np.max(np.abs(cells.lstm_forward(x, *weights)[0] - expected)))}
    for reset_after in (False, True):
        _, weights, expected = randomized(keras.layers.GRU(units, reset_after=reset_after,
                                                           return_sequences=True, dtype="float64"))
        ours = cells.gru_forward(x, *weights, reset_after=reset_after)[0]
        errors[f"gru_reset_after_{reset_after}"] = float(np.max(np.abs(ours - expected)))
        notes = cells.gru_forward(x, *cells.keras_gru_to_notes(*weights), reset_after=reset_after,
                                  convention="notes")[0]
        errors[f"gru_notes_convention_reset_after_{reset_after}"] = float(np.max(np.abs(notes - expected)))
    return errors
