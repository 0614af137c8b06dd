"""A vanilla RNN and backpropagation through time (BPTT) in NumPy.

Unit III, "How RNN works?" (``a_t = g1(W_aa a_{t-1} + W_ax x_t + b_a)``, ``y_t = g2(W_ya a_t + b_y)``),
"Back propagation through time" (unfold, one layer per step, shared weights, ``L = Σ_t L_t``,
truncated BPTT) and handbook 003 §3.5.5 (``∂L/∂h_t = ∂L/∂y_t · ∂y_t/∂h_t +
∂L/∂h_{t+1} · ∂h_{t+1}/∂h_t``). Written in the handbook's names: ``h_t = tanh(W_xh x_t + W_hh h_{t-1}
+ b_h)``, ``y_t = W_hy h_t + b_y`` (linear output, squared-error loss).

Where the notes are loose (docs/SOURCES.md, errata A29, A30): their BPTT example updates the weights
after every time step (an online, RTRL-like scheme); true BPTT, implemented here, unrolls the
sequence, sums the losses and computes one gradient. Their vanishing-gradient formula is schematic;
:func:`loss_and_gradients` returns the exact ∂L/∂h_t for every t, which is what lab 13 plots.

Truncated BPTT (each loss term travels back at most k steps: ``truncate=k``; :func:`truncation_table`
measures what it keeps of the full gradient; it is no cure for vanishing gradients, erratum A52)
and the notes' own scheme, one update per time step (:func:`per_step_updates`, :func:`sgd_train`
``scheme="per_step"``), are here too, so lab 13 can set them beside true BPTT.

Arrays are batch-first like Keras: ``x`` is ``(batch, T, d_x)``, hidden states ``(batch, d_h)``.
Matrices keep the notes' orientation (``W_xh`` is ``(d_h, d_x)``, so ``W_xh x_t`` is ``x @ W_xh.T``);
:meth:`RNNParameters.to_keras` transposes them into Keras' ``SimpleRNN`` and ``Dense`` layout.
"""

import dataclasses

import numpy as np

ACTIVATIONS = {
    "tanh": (np.tanh, lambda h: 1.0 - h ** 2),  # derivative written in terms of the output h
    "relu": (lambda a: np.maximum(a, 0.0), lambda h: (h > 0).astype(h.dtype)),
    "linear": (lambda a: a, np.ones_like),
}


@dataclasses.dataclass
class RNNParameters:
    """Weights of a one-layer RNN with a linear output layer (the notes' W_xh, W_hh, b_h, W_hy, b_y)."""

    W_xh: np.ndarray  # (d_h, d_x)
    W_hh: np.ndarray  # (d_h, d_h)
    b_h: np.ndarray  # (d_h,)
    W_hy: np.ndarray  # (d_y, d_h)
    b_y: np.ndarray  # (d_y,)

    NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")

    @classmethod
    def initialize(cls, input_dim, hidden_dim, output_dim=1, *, seed=0, recurrent_scale=1.0,
                   dtype=np.float64):
        """Random weights; ``W_hh`` is orthogonal times ``recurrent_scale`` (its spectral radius).

        ``recurrent_scale < 1`` gives the notes' "eigenvalues < 1" (vanishing), ``> 1`` the large
        ``W_hh`` that makes gradients explode.
        """
        rng = np.random.default_rng(seed)
        orthogonal, _ = np.linalg.qr(rng.normal(size=(hidden_dim, hidden_dim)))
        return cls(
            W_xh=rng.normal(scale=1.0 / np.sqrt(input_dim), size=(hidden_dim, input_dim)).astype(dtype),
            W_hh=(recurrent_scale * orthogonal).astype(dtype),
            b_h=np.zeros(hidden_dim, dtype),
            W_hy=rng.normal(scale=1.0 / np.sqrt(hidden_dim), size=(output_dim, hidden_dim)).astype(dtype),
            b_y=np.zeros(output_dim, dtype),
        )

    def to_keras(self):
        """``([kernel, recurrent_kernel, bias], [dense_kernel, dense_bias])`` for
        ``SimpleRNN.set_weights`` and ``Dense.set_weights``."""
        return [self.W_xh.T, self.W_hh.T, self.b_h], [self.W_hy.T, self.b_y]

    def as_dict(self):
        return {name: getattr(self, name) for name in self.NAMES}


def forward(params, x, *, h0=None, activation="tanh"):
    """Run the unrolled RNN.

    Args:
        params: :class:`RNNParameters`.
        x: inputs ``(batch, T, d_x)``.
        h0: initial state ``(batch, d_h)``; zeros by default (as Keras).
        activation: ``"tanh"`` (the notes' g1), ``"relu"`` or ``"linear"``.

    Returns:
        ``(hidden, outputs)``: ``hidden`` is ``(batch, T + 1, d_h)`` with ``hidden[:, 0] = h0`` and
        ``hidden[:, t] = h_t``; ``outputs`` is ``(batch, T, d_y)`` with ``outputs[:, t - 1] = y_t``.
    """
    act, _ = _activation(activation)
    batch, steps, _ = x.shape
    h = np.zeros((batch, params.W_hh.shape[0]), x.dtype) if h0 is None else h0
    hidden = [h]
    for t in range(steps):
        h = act(x[:, t] @ params.W_xh.T + h @ params.W_hh.T + params.b_h)
        hidden.append(h)
    hidden = np.stack(hidden, axis=1)
    outputs = hidden[:, 1:] @ params.W_hy.T + params.b_y
    return hidden, outputs


def loss_and_gradients(params, x, y, *, loss_on="last", h0=None, activation="tanh", truncate=None):
    """Mean-squared-error loss and its exact gradients by BPTT.

    The loss of step t is ``L_t = mean((y_t - target_t)**2)`` (Keras' ``MeanSquaredError``: mean over
    batch and outputs). ``loss_on="last"`` uses only the final step (many-to-one, ``y`` is
    ``(batch, d_y)``); ``loss_on="all"`` sums every step, ``L = Σ_t L_t`` as the notes write it
    (``y`` is ``(batch, T, d_y)``).

    ``truncate=k`` is truncated BPTT: the error of each loss term travels back at most ``k`` steps.

    Returns:
        ``(loss, gradients, hidden_gradients)``: ``gradients`` maps each name of
        :attr:`RNNParameters.NAMES` to an array shaped like the weight; ``hidden_gradients`` is
        ``(batch, T, d_h)`` with ``[:, t - 1] = ∂L/∂h_t`` (the total derivative, through all later
        steps; without truncation).
    """
    if loss_on not in ("last", "all"):
        raise ValueError(f"loss_on must be 'last' or 'all', got {loss_on!r}")
    if truncate is not None and truncate < 1:
        raise ValueError(f"truncate must be a positive number of steps, got {truncate}")
    _, derivative = _activation(activation)
    hidden, outputs = forward(params, x, h0=h0, activation=activation)
    batch, steps, _ = x.shape
    targets = y[:, None] if loss_on == "last" else y
    predicted = outputs[:, -1:] if loss_on == "last" else outputs
    error = predicted - targets  # (batch, steps with a loss, d_y)
    loss = float(np.sum(np.mean(error ** 2, axis=(0, 2))))
    output_error = 2.0 * error / (batch * error.shape[2])  # ∂L/∂y_t
    loss_steps = [steps] if loss_on == "last" else list(range(1, steps + 1))
    dy = {t: output_error[:, i] for i, t in enumerate(loss_steps)}

    grads = {name: np.zeros_like(value) for name, value in params.as_dict().items()}
    for t, d in dy.items():
        grads["W_hy"] += d.T @ hidden[:, t]
        grads["b_y"] += d.sum(axis=0)
    hidden_gradients = np.zeros((batch, steps, params.W_hh.shape[0]), hidden.dtype)

    def backward_step(t, dh):
        """Accumulate step t's weight gradients from ∂L/∂h_t; return ∂L/∂h_{t-1} through step t."""
        da = dh * derivative(hidden[:, t])  # ∂L/∂a_t, a_t the pre-activation
        grads["W_xh"] += da.T @ x[:, t - 1]
        grads["W_hh"] += da.T @ hidden[:, t - 1]
        grads["b_h"] += da.sum(axis=0)
        return da @ params.W_hh

    if truncate is None:
        dh_next = np.zeros_like(hidden[:, 0])
        for t in range(steps, 0, -1):
            dh = dh_next + (dy[t] @ params.W_hy if t in dy else 0.0)
            hidden_gradients[:, t - 1] = dh
            dh_next = backward_step(t, dh)
    else:
        for s, d in dy.items():  # each loss term travels back at most `truncate` steps
            dh = d @ params.W_hy
            for t in range(s, max(s - truncate, 0), -1):
                hidden_gradients[:, t - 1] += dh
                dh = backward_step(t, dh)
    return loss, grads, hidden_gradients


def sgd_step(params, grads, learning_rate):
    """A new :class:`RNNParameters` with θ − η ∂L/∂θ for every weight."""
    return RNNParameters(**{name: value - learning_rate * grads[name] for name, value in params.as_dict().items()})


def per_step_updates(params, x, y, *, learning_rate, truncate=None, h0=None, activation="tanh"):
    """The notes' BPTT example (000 L1360-L1374, docs/SOURCES.md, erratum A29): one SGD update per time step.

    For t = 1..T: feed x_t, compute y_t and its loss ``L_t = mean((y_t - target_t)**2)`` alone,
    backpropagate it through time and update the weights before feeding x_{t+1}. Backpropagating
    needs h_{t-1}, ..., which were computed with older weights; here step t re-runs the last
    ``truncate`` steps (all of them when ``None``) with the current weights from the state stored
    when step ``t - truncate`` was fed (h0 for the first steps), so every gradient is exact for the
    current weights. True BPTT (:func:`loss_and_gradients` with ``loss_on="all"``) instead sums the
    T losses and updates once; with ``learning_rate=0`` the per-step gradients add up to it.

    Args:
        params: :class:`RNNParameters` (not modified).
        x: inputs ``(batch, T, d_x)``; y: targets ``(batch, T, d_y)`` (one per step).
        learning_rate: η of every per-step update.
        truncate: how many steps each L_t travels back (``None``: to step 1).

    Returns:
        ``dict(params=weights after step T, losses=[L_t before step t's update], gradients=[∂L_t/∂θ],
        weights=[weights after step t])``.
    """
    if truncate is not None and truncate < 1:
        raise ValueError(f"truncate must be a positive number of steps, got {truncate}")
    steps = x.shape[1]
    states = [np.zeros((x.shape[0], params.W_hh.shape[0]), x.dtype) if h0 is None else h0]  # states[t] = h_t
    result = dict(losses=[], gradients=[], weights=[])
    for t in range(1, steps + 1):
        start = 0 if truncate is None else max(t - truncate, 0)
        window = x[:, start:t]
        hidden, _ = forward(params, window, h0=states[start], activation=activation)
        states.append(hidden[:, -1])  # h_t as fed, with the weights before this step's update
        loss, grads, _ = loss_and_gradients(params, window, y[:, t - 1], loss_on="last", h0=states[start],
                                            activation=activation)
        params = sgd_step(params, grads, learning_rate)
        result["losses"].append(loss)
        result["gradients"].append(grads)
        result["weights"].append(params)
    result["params"] = params
    return result


def gradient_vector(grads):
    """All weight gradients as one flat vector (in :attr:`RNNParameters.NAMES` order)."""
    return np.concatenate([np.ravel(grads[name]) for name in RNNParameters.NAMES])


def truncation_table(params, x, y, truncations, *, loss_on="all", activation="tanh"):
    """How much of the full BPTT gradient truncated BPTT keeps, for each k in ``truncations``.

    One row per k: ``relative_error`` = ‖g_k − g‖ / ‖g‖ over all weights, the same for W_hh alone
    (``relative_error_W_hh``; W_hy and b_y never depend on k), ``cosine`` between g_k and g and
    ``fraction_kept`` = g_k·g / ‖g‖² (1 when nothing is lost), g the untruncated gradient.
    """
    _, full, _ = loss_and_gradients(params, x, y, loss_on=loss_on, activation=activation)
    g = gradient_vector(full)
    rows = []
    for k in truncations:
        _, cut, _ = loss_and_gradients(params, x, y, loss_on=loss_on, activation=activation, truncate=k)
        g_k = gradient_vector(cut)
        rows.append(dict(k=int(k), relative_error=float(np.linalg.norm(g_k - g) / np.linalg.norm(g)),
                         relative_error_W_hh=float(np.linalg.norm(cut["W_hh"] - full["W_hh"])
                                                   / np.linalg.norm(full["W_hh"])),
                         cosine=float(g_k @ g / (np.linalg.norm(g_k) * np.linalg.norm(g))),
                         fraction_kept=float(g_k @ g / (g @ g))))
    return rows


def sequence_mse(params, x, y, *, activation="tanh"):
    """Mean squared error over every sequence, step and output (the loss Σ_t L_t divided by T)."""
    _, outputs = forward(params, x, activation=activation)
    return float(np.mean((outputs - y) ** 2))


def sgd_train(params, x, y, *, epochs, batch_size, learning_rate, scheme="bptt", truncate=None, seed=0,
              activation="tanh"):
    """Plain SGD on many-to-many targets ``y`` ``(N, T, d_y)`` with one of three schemes.

    ``scheme="bptt"``: one update per mini-batch with the gradient of L = Σ_t L_t (``truncate=k``
    for truncated BPTT); ``scheme="per_step"``: the notes' T updates per mini-batch
    (:func:`per_step_updates`). Mini-batches are reshuffled every epoch with ``seed``.

    Returns:
        ``(params, dict(mse=[training MSE after each epoch], updates=number of SGD updates))``.
    """
    if scheme not in ("bptt", "per_step"):
        raise ValueError(f"scheme must be 'bptt' or 'per_step', got {scheme!r}")
    rng = np.random.default_rng(seed)
    record = dict(mse=[], updates=0)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for begin in range(0, len(x), batch_size):
            batch = order[begin:begin + batch_size]
            if scheme == "per_step":
                params = per_step_updates(params, x[batch], y[batch], learning_rate=learning_rate,
                                          truncate=truncate, activation=activation)["params"]
                record["updates"] += x.shape[1]
            else:
                _, grads, _ = loss_and_gradients(params, x[batch], y[batch], loss_on="all", truncate=truncate,
                                                 activation=activation)
                params = sgd_step(params, grads, learning_rate)
                record["updates"] += 1
        record["mse"].append(sequence_mse(params, x, y, activation=activation))
    return params, record


def next_value_sequences(series, steps):
    """Non-overlapping many-to-many sequences of ``series``: inputs x_t..x_{t+T-1}, targets x_{t+1}..x_{t+T}.

    Returns ``(inputs (N, T, 1), targets (N, T, 1))`` with ``N = (len(series) - 1) // steps``; the notes'
    BPTT example (predict the next value at every step).
    """
    count = (len(series) - 1) // steps
    if count < 1:
        raise ValueError(f"steps must be below len(series), got {steps}")
    series = np.asarray(series, np.float64)
    inputs = series[:count * steps].reshape(count, steps, 1)
    targets = series[1:count * steps + 1].reshape(count, steps, 1)
    return inputs, targets


def hidden_gradient_norms(hidden_gradients):
    """‖∂L/∂h_t‖ for t = 1..T (Frobenius norm over the batch), the curve of the vanishing-gradient plot."""
    return np.sqrt(np.sum(hidden_gradients ** 2, axis=(0, 2)))


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def sine_series(length, *, period=25.0, noise=0.1, seed=0):
    """A synthetic series x_1..x_n = sin(2πt / period) + Gaussian noise (lab 13's forecasting task)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return (np.sin(2 * np.pi * t / period) + rng.normal(scale=noise, size=length)).astype(np.float32)


def sliding_windows(series, window):
    """Handbook ch. 3, 3.3: inputs ``[x_{t-w+1}, ..., x_t]`` and targets ``x_{t+1}``.

    Returns ``(windows (N, window), targets (N,))`` with ``N = len(series) - window``.
    """
    if not 0 < window < len(series):
        raise ValueError(f"window must be between 1 and len(series) - 1, got {window}")
    series = np.asarray(series)
    index = np.arange(window)[None, :] + np.arange(len(series) - window)[:, None]
    return series[index], series[window:]


def radius_sweep(radii, *, steps=50, hidden_dim=16, batch=16, input_scale=0.1, seed=0):
    """Vanishing vs exploding: the tanh RNN with ``W_hh = ρ · orthogonal`` for each ρ in ``radii``.

    Small inputs keep tanh near its linear range, so ∂h_t/∂h_{t-1} ≈ W_hh and the gradient scales
    like ρ^(T-t) (Unit III, "eigenvalues < 1"). The loss is the squared last output (target 0).

    Returns:
        ``{ρ: dict(hidden=(T,) ‖∂L/∂h_t‖, gradient_norm=joint L2 norm of all weight gradients)}``.
    """
    x = np.random.default_rng(seed).normal(scale=input_scale, size=(batch, steps, 1))
    results = {}
    for radius in radii:
        params = RNNParameters.initialize(1, hidden_dim, 1, seed=seed, recurrent_scale=radius)
        _, grads, hidden_gradients = loss_and_gradients(params, x, np.zeros((batch, 1)))
        results[radius] = {"hidden": hidden_gradient_norms(hidden_gradients),
                           "gradient_norm": float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))}
    return results
