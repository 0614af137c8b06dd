"""The handbook's optimizer update rules in NumPy, next to what Keras actually does.

Source: the Master's handbook, 003 §1.4.4 "Optimizers":
- SGD: ``theta <- theta - eta grad``.
- Momentum: ``v <- beta v - eta grad``; the step ``theta <- theta + v`` is not written in the notes.
- Adam: ``m <- b1 m + (1 - b1) g``; ``v <- b2 v + (1 - b2) g^2``; ``theta <- theta - eta m / (sqrt(v) + eps)``
  with b1 = 0.9, b2 = 0.999, eps = 1e-8.
- RMSprop: listed only (eta, rho); the standard rule is used here.
The B.Tech notes (000, Unit I, "Stochastic Gradient-Based Learning") name SGD, momentum and
Adam but give no equations.

Where the notes are wrong (docs/SOURCES.md, erratum B20): their Adam has **no bias correction**.
Starting from m = v = 0 the first step with g = 1 and eta = 1e-3 moves theta by
eta * 0.1 / sqrt(0.001) = 3.162e-3, not the intended ~eta = 1e-3 that Kingma & Ba's bias-corrected
Adam (and ``keras.optimizers.Adam``) takes. :func:`adam_step` does both: ``bias_correction=False``
is the notes' formula. Keras' Adam default epsilon is 1e-7 (the notes say 1e-8).
"""

import numpy as np


def sgd_step(theta, grad, *, learning_rate=0.01):
    """``theta - eta grad``."""
    return np.asarray(theta) - learning_rate * np.asarray(grad)


def momentum_step(theta, grad, velocity, *, learning_rate=0.01, momentum=0.9):
    """The notes' velocity update ``v <- beta v - eta g`` then ``theta <- theta + v``.

    This is exactly ``keras.optimizers.SGD(momentum=beta)`` (non-Nesterov).

    Returns:
        ``(theta, velocity)``.
    """
    velocity = momentum * np.asarray(velocity) - learning_rate * np.asarray(grad)
    return np.asarray(theta) + velocity, velocity


def rmsprop_step(theta, grad, mean_square, *, learning_rate=1e-3, rho=0.9, epsilon=1e-7):
    """``s <- rho s + (1 - rho) g^2``; ``theta <- theta - eta g / (sqrt(s) + eps)`` (Keras' RMSprop defaults).

    Returns:
        ``(theta, mean_square)``.
    """
    grad = np.asarray(grad)
    mean_square = rho * np.asarray(mean_square) + (1.0 - rho) * grad ** 2
    return np.asarray(theta) - learning_rate * grad / (np.sqrt(mean_square) + epsilon), mean_square


def adam_step(theta, grad, m, v, t, *, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
              bias_correction=True):
    """One Adam step; ``bias_correction=False`` is the handbook's formula (003 §1.4.4).

    Args:
        theta, grad: parameter and its gradient (same shape).
        m, v: first and second moment estimates before the step (zeros at the start).
        t: 1-based step number (used only for the bias correction).
        bias_correction: divide m by (1 - beta_1^t) and v by (1 - beta_2^t), as Kingma & Ba and
            Keras do. The notes omit it.

    Returns:
        ``(theta, m, v)`` after the step.
    """
    if t < 1:
        raise ValueError(f"the step number t is 1-based, got {t}")
    grad = np.asarray(grad, dtype=np.float64)
    m = beta_1 * np.asarray(m) + (1.0 - beta_1) * grad
    v = beta_2 * np.asarray(v) + (1.0 - beta_2) * grad ** 2
    m_hat, v_hat = m, v
    if bias_correction:
        m_hat = m / (1.0 - beta_1 ** t)
        v_hat = v / (1.0 - beta_2 ** t)
    return np.asarray(theta) - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), m, v


def adam_first_step_sizes(grad=1.0, *, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """How far the first Adam step moves a parameter: ``{"notes": ..., "bias_corrected": ...}``.

    With the defaults: notes 3.162e-3, bias-corrected 1.0e-3 (a 3.16x larger first step in the notes).
    """
    sizes = {}
    for key, corrected in (("notes", False), ("bias_corrected", True)):
        theta, _, _ = adam_step(0.0, grad, 0.0, 0.0, 1, learning_rate=learning_rate, beta_1=beta_1,
                                beta_2=beta_2, epsilon=epsilon, bias_correction=corrected)
        sizes[key] = float(abs(theta))
    return sizes
