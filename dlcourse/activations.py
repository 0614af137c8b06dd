"""Activation functions and their derivatives in NumPy (Unit II, "Activation functions").

The notes list sigmoid, tanh, ReLU, Leaky ReLU, Maxout, ELU and the softmax layer, with formulas for
all but softmax (the handbook, 003 §1.4.2, gives it: ``e^{z_i} / sum_j e^{z_j}``). The handbook's
table adds GELU ``x Φ(x)`` and Swish ``x σ(x)`` (003 L253-L254); the notes name Parametric ReLU
(000 L672), whose slope α is learned (He et al., 2015: one per channel, starting at 0.25). Each function
here has its derivative written from the formula, so lab 05 can plot both and the tests can check
them against ``keras.activations`` under ``tf.GradientTape``. Maxout, which has weights, is the
registered layer :class:`dlcourse.layers.Maxout`; :func:`maxout` is its NumPy reference.

Where the notes are wrong or ambiguous (docs/SOURCES.md, errata A7, A9-A11, B23, B26):
- Leaky ReLU's slope is 0.01 in the text and table but ``max(0.1x, x)`` in the figure; Keras' own
  defaults differ again (``layers.LeakyReLU`` 0.3, ``activations.leaky_relu`` 0.2). Here the slope
  is always an explicit argument, default the text's 0.01.
- The ranges are given as closed intervals ([0, 1], [-1, 1]); sigmoid and tanh never reach their
  bounds, so the ranges are the open (0, 1) and (-1, 1). ELU's range is (-alpha, inf), not (-inf, inf).
- ReLU "avoids the vanishing gradient" only for positive inputs: its derivative is 0 for x < 0
  ("dying ReLU"). At x = 0 ReLU has no derivative; like Keras we use 0 there.
- GELU and Swish are printed with the range (-inf, +inf); both have a minimum, about -0.170 (GELU,
  at x = -0.752) and -0.278 (Swish, at x = -1.278) (erratum B66). PReLU is not "Leaky ReLU with a
  tuned hyperparameter": α is a weight trained with the others (erratum A55); Keras' ``PReLU``
  layer starts it at 0, :func:`prelu` here takes it explicitly (default 0.25, He et al.).
"""

import math

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_derivative",
    "tanh", "tanh_derivative",
    "relu", "relu_derivative",
    "leaky_relu", "leaky_relu_derivative",
    "elu", "elu_derivative",
    "prelu", "prelu_derivative",
    "gelu", "gelu_derivative",
    "swish", "swish_derivative",
    "softmax", "softmax_jacobian",
    "maxout",
    "ACTIVATIONS", "RANGES",
    "worked_values", "gradient_check", "plot_activations",
]

LEAKY_RELU_ALPHA = 0.01  # the notes' text and table; the figure says 0.1
ELU_ALPHA = 1.0  # "commonly chosen as 1"
PRELU_ALPHA = 0.25  # PReLU's initial slope in He et al. (2015); learned in training


def sigmoid(x):
    """sigma(x) = 1 / (1 + e^-x), range (0, 1). Computed stably for large |x|."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp_x = np.exp(x[~positive])
    out[~positive] = exp_x / (1.0 + exp_x)
    return out


def sigmoid_derivative(x):
    """sigma'(x) = sigma(x) (1 - sigma(x)); at most 0.25 (at 0), which is why deep sigmoid nets vanish."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x), range (-1, 1)."""
    return np.tanh(np.asarray(x, dtype=float))


def tanh_derivative(x):
    """tanh'(x) = 1 - tanh(x)^2; at most 1 (at 0)."""
    return 1.0 - np.tanh(np.asarray(x, dtype=float)) ** 2


def relu(x):
    """f(x) = max(0, x), range [0, inf)."""
    return np.maximum(0.0, np.asarray(x, dtype=float))


def relu_derivative(x):
    """1 for x > 0, else 0 ("either 0 or 1", Unit III); 0 at x = 0 by the usual convention."""
    return (np.asarray(x, dtype=float) > 0).astype(float)


def leaky_relu(x, alpha=LEAKY_RELU_ALPHA):
    """f(x) = x if x > 0 else alpha * x (= max(alpha x, x) for 0 < alpha < 1), range (-inf, inf)."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, alpha * x)


def leaky_relu_derivative(x, alpha=LEAKY_RELU_ALPHA):
    """1 for x > 0, else alpha: the gradient never dies."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, 1.0, alpha)


def elu(x, alpha=ELU_ALPHA):
    """f(x) = x if x >= 0 else alpha (e^x - 1), range (-alpha, inf)."""
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_derivative(x, alpha=ELU_ALPHA):
    """1 for x >= 0, else alpha e^x (= f(x) + alpha); continuous at 0 when alpha = 1."""
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def prelu(x, alpha=PRELU_ALPHA):
    """f(x) = x if x > 0 else alpha * x, with alpha a learned weight (Keras ``layers.PReLU``)."""
    return leaky_relu(x, alpha)


def prelu_derivative(x, alpha=PRELU_ALPHA):
    """df/dx: 1 for x > 0, else alpha (df/d alpha, the slope's own gradient, is min(x, 0))."""
    return leaky_relu_derivative(x, alpha)


_erf = np.vectorize(math.erf, otypes=[float])


def _normal_cdf(x):
    return 0.5 * (1.0 + _erf(np.asarray(x, dtype=float) / math.sqrt(2.0)))


def gelu(x):
    """GELU: f(x) = x Φ(x), Φ the standard normal CDF (the exact form, not the tanh approximation)."""
    x = np.asarray(x, dtype=float)
    return x * _normal_cdf(x)


def gelu_derivative(x):
    """Φ(x) + x φ(x), φ(x) = e^{-x^2/2} / sqrt(2 pi); 0 at the minimum x = -0.752, slightly above 1 near x = 1.5."""
    x = np.asarray(x, dtype=float)
    return _normal_cdf(x) + x * np.exp(-0.5 * x ** 2) / math.sqrt(2.0 * math.pi)


def swish(x):
    """Swish (SiLU, beta = 1): f(x) = x sigma(x); Keras ``activations.silu``."""
    x = np.asarray(x, dtype=float)
    return x * sigmoid(x)


def swish_derivative(x):
    """sigma(x) + x sigma(x) (1 - sigma(x)) = f(x) + sigma(x) (1 - f(x))."""
    x = np.asarray(x, dtype=float)
    s = sigmoid(x)
    return s + x * s * (1.0 - s)


def softmax(z, axis=-1):
    """softmax(z)_i = e^{z_i} / sum_j e^{z_j}; outputs in (0, 1) summing to 1 (max subtracted for stability)."""
    z = np.asarray(z, dtype=float)
    exp_z = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return exp_z / np.sum(exp_z, axis=axis, keepdims=True)


def softmax_jacobian(z):
    """d softmax_i / d z_j = s_i (delta_ij - s_j) for one vector z: ``diag(s) - s s^T``, shape (K, K)."""
    s = softmax(np.asarray(z, dtype=float).reshape(-1))
    return np.diag(s) - np.outer(s, s)


def maxout(x, kernel, bias):
    """Maxout: max_k (w_k^T x + b_k), the notes' ``max(w1^T x + b1, w2^T x + b2)`` for k = 2.

    Args:
        x: inputs, shape (batch, features).
        kernel: shape (features, units, pieces).
        bias: shape (units, pieces).

    Returns:
        (batch, units): the largest of the ``pieces`` affine functions for each unit.
    """
    z = np.einsum("bf,fup->bup", np.asarray(x, dtype=float), np.asarray(kernel, dtype=float))
    return np.max(z + np.asarray(bias, dtype=float), axis=-1)


# name -> (function, derivative); Leaky ReLU and ELU use the notes' alpha.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "elu": (elu, elu_derivative),
    "prelu": (prelu, prelu_derivative),
    "gelu": (gelu, gelu_derivative),
    "swish": (swish, swish_derivative),
}

# The true ranges (the notes' table prints closed intervals for sigmoid and tanh; see module docstring).
RANGES = {
    "sigmoid": "(0, 1)",
    "tanh": "(-1, 1)",
    "relu": "[0, inf)",
    "leaky_relu": "(-inf, inf)",
    "elu": "(-alpha, inf)",
    "prelu": "(-inf, inf)",
    "gelu": "[-0.170, inf)",  # the handbook: (-inf, +inf) (erratum B66)
    "swish": "[-0.278, inf)",
    "softmax": "(0, 1), sums to 1",
}


def worked_values():
    """The notes' formulas at a few worked points, plus the handbook's softmax example (003 §2.10.2.8).

    sigmoid(0) = 0.5, tanh(0) = 0, relu(-2) = 0, relu(3) = 3, leaky_relu(-10) = -0.1 (text's 0.01;
    -1.0 with the figure's 0.1), elu(-1) = e^-1 - 1, softmax(5, 2, -1) = (0.9503, 0.0473, 0.0024)
    (the handbook prints 95%, 4.7%, 0.3%: it rounds e^-1 to 0.4 first; the third is 0.24%);
    prelu(-2) = -0.5 (alpha 0.25), gelu(1) = Φ(1) = 0.8413, swish(1) = sigma(1) = 0.7311, and the
    minima of GELU (-0.170) and Swish (-0.278) on a grid of step 1e-4 (the handbook says unbounded).
    """
    grid = np.linspace(-3.0, 0.0, 30_001)
    return {
        "sigmoid(0)": float(sigmoid(0.0)),
        "tanh(0)": float(tanh(0.0)),
        "relu(-2)": float(relu(-2.0)),
        "relu(3)": float(relu(3.0)),
        "leaky_relu(-10, alpha=0.01)": float(leaky_relu(-10.0)),
        "leaky_relu(-10, alpha=0.1)": float(leaky_relu(-10.0, alpha=0.1)),
        "elu(-1, alpha=1)": float(elu(-1.0)),
        "sigmoid'(0)": float(sigmoid_derivative(0.0)),
        "tanh'(0)": float(tanh_derivative(0.0)),
        "softmax(5, 2, -1)": softmax([5.0, 2.0, -1.0]).tolist(),
        "prelu(-2, alpha=0.25)": float(prelu(-2.0)),
        "gelu(1)": float(gelu(1.0)),
        "swish(1)": float(swish(1.0)),
        "min gelu": float(np.min(gelu(grid))),
        "min swish": float(np.min(swish(grid))),
    }


def _keras_prelu():
    """Keras' ``PReLU`` layer with its slope set to PRELU_ALPHA, as a function of a 1-D tensor."""
    import keras

    layer = keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(PRELU_ALPHA), dtype="float64")
    return lambda t: keras.ops.reshape(layer(keras.ops.reshape(t, (-1, 1))), (-1,))


def gradient_check(x=None):
    """Largest |derivative here - GradientTape derivative of keras.activations| for each function.

    The oracle is Keras' own activation differentiated by ``tf.GradientTape`` at the points ``x``
    (default: 200 points in [-5, 5], an even count, so the kink at 0 is skipped). Softmax compares the Jacobian.
    """
    import keras
    import tensorflow as tf

    x = np.linspace(-5.0, 5.0, 200) if x is None else np.asarray(x, dtype=float)
    keras_functions = {
        "sigmoid": keras.activations.sigmoid,
        "tanh": keras.activations.tanh,
        "relu": keras.activations.relu,
        "leaky_relu": lambda t: keras.activations.leaky_relu(t, negative_slope=LEAKY_RELU_ALPHA),
        "elu": lambda t: keras.activations.elu(t, alpha=ELU_ALPHA),
        "prelu": _keras_prelu(),
        "gelu": lambda t: keras.activations.gelu(t, approximate=False),
        "swish": keras.activations.silu,
    }
    errors = {}
    for name, keras_function in keras_functions.items():
        function, derivative = ACTIVATIONS[name]
        variable = tf.constant(x, dtype=tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(variable)
            y = keras_function(variable)
        oracle = tape.gradient(y, variable).numpy()
        errors[name] = {"value": float(np.max(np.abs(function(x) - y.numpy()))),
                        "derivative": float(np.max(np.abs(derivative(x) - oracle)))}
    z = tf.constant([[5.0, 2.0, -1.0, 0.5]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        s = keras.activations.softmax(z)
    jacobian = tape.batch_jacobian(s, z).numpy()[0]
    errors["softmax"] = {"value": float(np.max(np.abs(softmax(z.numpy()) - s.numpy()))),
                         "derivative": float(np.max(np.abs(softmax_jacobian(z.numpy()) - jacobian)))}
    return errors


def plot_activations(x=None):
    """One figure: each activation (top row) and its derivative (bottom row), plus softmax and maxout.

    Returns a Matplotlib figure (save it with ``run.save_figure``). Unit II, "Activation functions"
    (the notes' figures are missing from the text; this redraws them).
    """
    from dlcourse import artifacts

    x = np.linspace(-5.0, 5.0, 401) if x is None else np.asarray(x, dtype=float)
    names = list(ACTIVATIONS) + ["softmax", "maxout"]
    # One maxout unit with two pieces, x and -0.5 x - 1 (weights chosen to show a convex kink).
    maxout_kernel, maxout_bias = np.array([[[1.0, -0.5]]]), np.array([[0.0, -1.0]])
    figure, axes = artifacts.new_figure(2, len(names), width=3.0 * len(names), height=5.5)
    for column, name in enumerate(names):
        top, bottom = axes[0, column], axes[1, column]
        if name == "softmax":
            # softmax of (x, 0): the first output is sigmoid(x); d s_1 / d x = s_1 (1 - s_1).
            s = softmax(np.stack([x, np.zeros_like(x)], axis=-1))[:, 0]
            top.plot(x, s)
            bottom.plot(x, s * (1.0 - s))
            top.set_title("softmax([x, 0])[0]")
        elif name == "maxout":
            y = maxout(x[:, None], maxout_kernel, maxout_bias)[:, 0]
            top.plot(x, y)
            bottom.plot(x, np.where(x >= -2.0 / 3.0, 1.0, -0.5))  # the slope of the winning piece
            top.set_title("maxout(x, -0.5x - 1)")
        else:
            function, derivative = ACTIVATIONS[name]
            top.plot(x, function(x))
            bottom.plot(x, derivative(x))
            top.set_title(name)
        bottom.set_title(f"{name}'")
        for axis in (top, bottom):
            axis.axhline(0.0, color="grey", linewidth=0.5)
            axis.axvline(0.0, color="grey", linewidth=0.5)
            axis.grid(True, alpha=0.3)
    return figure
