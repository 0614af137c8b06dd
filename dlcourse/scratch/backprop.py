"""Backpropagation from scratch: a dense network's forward and backward pass in NumPy.

Source: the B.Tech notes (000), Unit I, "Deep Feed Forward Networks" (the layer recurrence
``h^(l) = f^(l)(W^(l) h^(l-1) + b^(l))``, ``h^(0) = x``) and "Back-Propagation" (forward pass ->
loss (MSE for regression, cross-entropy for classification) -> backward pass with the chain rule
-> gradient-descent update). The notes give the four steps but no gradient formulas; the ones used
here are the standard ones:
- softmax + cross-entropy, mean over the batch: ``dL/dz = (softmax(z) - onehot(y)) / n``;
- MSE, mean over every output element: ``dL/da = 2 (a - y) / (n k)``, then ``dL/dz = dL/da * f'(z)``;
- a dense layer ``z = h W + b``: ``dL/dW = h^T dL/dz``, ``dL/db = sum_rows dL/dz``,
  ``dL/dh = dL/dz W^T``.
Weights use Keras' layout (kernel ``(inputs, units)``), so a parameter list copies straight into
``keras.layers.Dense`` layers; :func:`keras_gradients` does that and asks ``tf.GradientTape``
for the same gradients, the oracle the lab and the tests compare against.
"""

import numpy as np

LOSSES = ("cross_entropy", "mse")


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


# name -> (f(z), f'(z) given a = f(z) and z)
ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda a, z: a * (1.0 - a)),
    "tanh": (np.tanh, lambda a, z: 1.0 - a ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda a, z: (z > 0).astype(z.dtype)),
    "linear": (lambda z: z, lambda a, z: np.ones_like(z)),
}


def softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _check(name, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {sorted(choices)}")


def init_mlp(layer_sizes, *, seed=0, dtype=np.float64):
    """Glorot-uniform kernels and zero biases (Keras' Dense defaults) for ``layer_sizes = (in, h1, ..., out)``.

    Returns:
        A list with one ``{"kernel": (fan_in, fan_out), "bias": (fan_out,)}`` dict per layer.
    """
    sizes = [int(size) for size in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs an input and at least one layer of positive sizes, got {layer_sizes}")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append({"kernel": rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype),
                       "bias": np.zeros(fan_out, dtype=dtype)})
    return params


def output_activation_for(loss, output_activation=None):
    """Softmax for cross-entropy; for MSE the given activation (default linear)."""
    _check("loss", loss, LOSSES)
    if loss == "cross_entropy":
        if output_activation not in (None, "softmax"):
            raise ValueError("cross_entropy is computed on a softmax output; leave output_activation unset")
        return "softmax"
    output_activation = output_activation or "linear"
    _check("output activation", output_activation, ACTIVATIONS)
    return output_activation


def forward(params, x, *, hidden_activation="sigmoid", output_activation="softmax"):
    """``h^(l) = f(h^(l-1) W^(l) + b^(l))`` for every layer.

    Returns:
        ``(output, cache)``; ``cache`` holds ``(h_in, z, h_out)`` per layer for :func:`backward`.
    """
    _check("hidden activation", hidden_activation, ACTIVATIONS)
    cache = []
    h = np.asarray(x, dtype=params[0]["kernel"].dtype)
    for index, layer in enumerate(params):
        z = h @ layer["kernel"] + layer["bias"]
        last = index == len(params) - 1
        name = output_activation if last else hidden_activation
        out = softmax(z) if name == "softmax" else ACTIVATIONS[name][0](z)
        cache.append((h, z, out))
        h = out
    return h, cache


def loss_value(output, y, loss):
    """Mean cross-entropy (``y`` integer labels) or mean squared error (``y`` shaped like ``output``)."""
    if loss == "cross_entropy":
        picked = output[np.arange(len(y)), np.asarray(y, dtype=np.int64)]
        return float(-np.mean(np.log(np.maximum(picked, 1e-300))))
    return float(np.mean((output - np.asarray(y).reshape(output.shape)) ** 2))


def backward(params, cache, y, *, loss="cross_entropy", hidden_activation="sigmoid", output_activation=None):
    """The chain rule from the loss back to every kernel and bias.

    Returns:
        A list of ``{"kernel": dL/dW, "bias": dL/db}`` dicts, one per layer, like ``params``.
    """
    output_activation = output_activation_for(loss, output_activation)
    _, z, output = cache[-1]
    n = output.shape[0]
    if loss == "cross_entropy":
        delta = output.copy()  # dL/dz for softmax + cross-entropy
        delta[np.arange(n), np.asarray(y, dtype=np.int64)] -= 1.0
        delta /= n
    else:
        d_output = 2.0 * (output - np.asarray(y).reshape(output.shape)) / output.size
        delta = d_output * ACTIVATIONS[output_activation][1](output, z)
    grads = [None] * len(params)
    for index in range(len(params) - 1, -1, -1):
        h_in, _, _ = cache[index]
        grads[index] = {"kernel": h_in.T @ delta, "bias": delta.sum(axis=0)}
        if index > 0:
            _, z_below, h_below = cache[index - 1]
            delta = (delta @ params[index]["kernel"].T) * ACTIVATIONS[hidden_activation][1](h_below, z_below)
    return grads


def loss_and_gradients(params, x, y, *, loss="cross_entropy", hidden_activation="sigmoid", output_activation=None):
    """Forward pass, loss and backward pass in one call: ``(loss, grads)``."""
    output_activation = output_activation_for(loss, output_activation)
    output, cache = forward(params, x, hidden_activation=hidden_activation, output_activation=output_activation)
    grads = backward(params, cache, y, loss=loss, hidden_activation=hidden_activation,
                     output_activation=output_activation)
    return loss_value(output, y, loss), grads


def train_sgd(params, x, y, *, loss="cross_entropy", hidden_activation="sigmoid", output_activation=None,
              learning_rate=0.5, epochs=20, batch_size=32, seed=0):
    """Plain mini-batch SGD (``theta <- theta - eta grad``) with the from-scratch gradients.

    Returns:
        ``(params, losses)``: the trained parameters (new arrays) and the full-data loss before
        training and after each epoch (``epochs + 1`` values).
    """
    if learning_rate <= 0 or epochs < 0 or batch_size < 1:
        raise ValueError("learning_rate and batch_size must be positive and epochs non-negative")
    params = [{key: value.copy() for key, value in layer.items()} for layer in params]
    x = np.asarray(x, dtype=params[0]["kernel"].dtype)
    y = np.asarray(y)
    options = dict(loss=loss, hidden_activation=hidden_activation, output_activation=output_activation)
    rng = np.random.default_rng(seed)

    def full_loss():
        out, _ = forward(params, x, hidden_activation=hidden_activation,
                         output_activation=output_activation_for(loss, output_activation))
        return loss_value(out, y, loss)

    losses = [full_loss()]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            _, grads = loss_and_gradients(params, x[batch], y[batch], **options)
            for layer, grad in zip(params, grads):
                layer["kernel"] -= learning_rate * grad["kernel"]
                layer["bias"] -= learning_rate * grad["bias"]
        losses.append(full_loss())
    return params, losses


def parameter_names(params):
    return [f"layer{index}_{key}" for index in range(1, len(params) + 1) for key in ("kernel", "bias")]


def keras_gradients(params, x, y, *, loss="cross_entropy", hidden_activation="sigmoid", output_activation=None):
    """The oracle: the same network as float64 Keras Dense layers, differentiated by ``tf.GradientTape``.

    Returns:
        ``(loss, grads)`` in the layout of :func:`loss_and_gradients`.
    """
    import keras
    import tensorflow as tf

    output_activation = output_activation_for(loss, output_activation)
    inputs = keras.Input(shape=(params[0]["kernel"].shape[0],), dtype="float64")
    h = inputs
    for index, layer in enumerate(params, start=1):
        activation = output_activation if index == len(params) else hidden_activation
        dense = keras.layers.Dense(layer["kernel"].shape[1], activation=activation, dtype="float64",
                                   name=f"layer{index}")
        h = dense(h)
        dense.set_weights([layer["kernel"], layer["bias"]])
    model = keras.Model(inputs, h)
    if loss == "cross_entropy":
        loss_function = keras.losses.SparseCategoricalCrossentropy(dtype="float64")
        target = tf.constant(np.asarray(y, dtype=np.int64))
    else:
        loss_function = keras.losses.MeanSquaredError(dtype="float64")
        target = tf.constant(np.asarray(y, dtype=np.float64).reshape(len(x), -1))
    with tf.GradientTape() as tape:
        value = loss_function(target, model(tf.constant(np.asarray(x, dtype=np.float64)), training=True))
    tape_grads = tape.gradient(value, model.trainable_weights)
    grads = [{"kernel": np.asarray(tape_grads[2 * i]), "bias": np.asarray(tape_grads[2 * i + 1])}
             for i in range(len(params))]
    return float(value), grads


def relative_error(a, b):
    """``||a - b|| / (||a|| + ||b||)`` (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def gradient_check(params, x, y, **options):
    """Compare :func:`loss_and_gradients` with :func:`keras_gradients`.

    Returns:
        ``{"loss": ..., "tape_loss": ..., "loss_relative_error": ..., "relative_error": {name: error},
        "max_abs_error": {name: error}, "max_relative_error": worst}``.
    """
    loss, grads = loss_and_gradients(params, x, y, **options)
    tape_loss, tape_grads = keras_gradients(params, x, y, **options)
    names = parameter_names(params)
    ours = [grad[key] for grad in grads for key in ("kernel", "bias")]
    theirs = [grad[key] for grad in tape_grads for key in ("kernel", "bias")]
    relative = {name: relative_error(a, b) for name, a, b in zip(names, ours, theirs)}
    absolute = {name: float(np.max(np.abs(a - b))) for name, a, b in zip(names, ours, theirs)}
    return {"loss": loss, "tape_loss": tape_loss, "loss_relative_error": relative_error(loss, tape_loss),
            "relative_error": relative, "max_abs_error": absolute,
            "max_relative_error": max(relative.values())}
