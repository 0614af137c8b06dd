"""LSTM, peephole LSTM and GRU cells in NumPy that reproduce Keras' layers (and the package's
peephole cell) given the same weights, and the parameter-count formulas of Unit III.

LSTM (handbook 003 §3.9.2; 000 Unit III prints no LSTM equations: docs/SOURCES.md, erratum A33):
    f_t = σ(W_f [h_{t-1}, x_t] + b_f)      i_t = σ(W_i [h_{t-1}, x_t] + b_i)
    C̃_t = tanh(W_C [h_{t-1}, x_t] + b_C)   o_t = σ(W_o [h_{t-1}, x_t] + b_o)
    C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t        h_t = o_t ⊙ tanh(C_t)
The gates are continuous values in (0, 1), not the binary keep/forget of the Q&A sheet. Keras stores
``W [h, x]`` as two matrices, ``x @ kernel + h @ recurrent_kernel``, with the four gates
side by side in the order **i, f, c, o** (``kernel`` is ``(d_x, 4 d_h)``).

Peephole LSTM (001 Q4, "Peephole Connections", L379-L381: the gates "look at the cell state"):
the input and forget gates add p_i ⊙ C_{t-1}, p_f ⊙ C_{t-1}, the output gate p_o ⊙ C_t, with diagonal
weights p (Gers & Schmidhuber 2000; docs/SOURCES.md, erratum B60); 3 d_h parameters more than the LSTM.
``dlcourse.layers.recurrent.PeepholeLSTMCell`` is the Keras cell.

GRU (000 Unit III, "Gated Recurrent Units", L1598-L1606, only the candidate and update; erratum A34):
    z_t = σ(W_z [h_{t-1}, x_t])   r_t = σ(W_r [h_{t-1}, x_t])   (not printed; Cho et al. 2014)
    h'_t = tanh(W_h [r_t ⊙ h_{t-1}, x_t])
    h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h'_t          (the notes)
Keras (and PyTorch) write ``h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h'_t``: the same cell with z replaced by
1 − z. So a Keras update gate z is the notes' 1 − z; negating the update gate's weights and bias
(σ(−a) = 1 − σ(a)) turns one into the other (:func:`keras_gru_to_notes`). The notes' prose ("decides
how much information from the previous hidden state should be retained") describes Keras' z, not
their own equation. Keras' gate order is **z, r, h**; its default ``reset_after=True`` applies the
reset gate after the recurrent matrix product (``r ⊙ (h U_h + b_rh)``, with a second bias vector),
while ``reset_after=False`` is the notes' ``[r ⊙ h, x]`` form. Both are implemented.
"""

import numpy as np

GRU_CONVENTIONS = ("keras", "notes")


def sigmoid(a):
    """The logistic function, numerically stable for large |a|."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def lstm_step(x_t, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step in Keras' weight layout (gate order i, f, c, o). Returns ``(h_t, c_t)``."""
    units = h.shape[-1]
    a = x_t @ kernel + h @ recurrent_kernel + bias  # (batch, 4 units): W [h, x] + b for all gates
    i = sigmoid(a[:, :units])  # input gate
    f = sigmoid(a[:, units:2 * units])  # forget gate
    candidate = np.tanh(a[:, 2 * units:3 * units])  # C̃_t
    o = sigmoid(a[:, 3 * units:])  # output gate
    c = f * c + i * candidate  # the "conveyor belt": gradients pass through f only
    return o * np.tanh(c), c


def lstm_forward(x, kernel, recurrent_kernel, bias, *, h0=None, c0=None):
    """Run :func:`lstm_step` over ``x`` ``(batch, T, d_x)``.

    Returns ``(outputs, h_T, c_T)``; ``outputs`` is ``(batch, T, d_h)`` (Keras' ``return_sequences``).
    Pass ``keras.layers.LSTM(...).get_weights()`` as ``kernel, recurrent_kernel, bias``.
    """
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units), x.dtype) if h0 is None else h0
    c = np.zeros_like(h) if c0 is None else c0
    outputs = []
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], h, c, kernel, recurrent_kernel, bias)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def peephole_lstm_step(x_t, h, c, kernel, recurrent_kernel, bias, peephole):
    """One peephole LSTM step (001 Q4, "Peephole Connections"; Gers & Schmidhuber 2000).

    Keras' LSTM layout plus ``peephole`` ``(3, d_h)`` (rows p_i, p_f, p_o, diagonal): the input and
    forget gates add ``p ⊙ c_{t-1}``, the output gate ``p_o ⊙ c_t``, the cell state just computed.
    The oracle of ``dlcourse.layers.recurrent.PeepholeLSTMCell``. Returns ``(h_t, c_t)``.
    """
    units = h.shape[-1]
    a = x_t @ kernel + h @ recurrent_kernel + bias
    i = sigmoid(a[:, :units] + peephole[0] * c)  # sees c_{t-1}
    f = sigmoid(a[:, units:2 * units] + peephole[1] * c)  # sees c_{t-1}
    c = f * c + i * np.tanh(a[:, 2 * units:3 * units])
    o = sigmoid(a[:, 3 * units:] + peephole[2] * c)  # sees c_t
    return o * np.tanh(c), c


def peephole_lstm_forward(x, kernel, recurrent_kernel, bias, peephole, *, h0=None, c0=None):
    """Run :func:`peephole_lstm_step` over ``x`` ``(batch, T, d_x)``. Returns ``(outputs, h_T, c_T)``.

    Pass ``keras.layers.RNN(PeepholeLSTMCell(...)).get_weights()`` as the five weights.
    """
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units), x.dtype) if h0 is None else h0
    c = np.zeros_like(h) if c0 is None else c0
    outputs = []
    for t in range(x.shape[1]):
        h, c = peephole_lstm_step(x[:, t], h, c, kernel, recurrent_kernel, bias, peephole)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def gru_step(x_t, h, kernel, recurrent_kernel, bias, *, reset_after=False, convention="keras"):
    """One GRU step in Keras' weight layout (gate order z, r, h). Returns ``h_t``.

    ``bias`` is ``(3 d_h,)`` when ``reset_after=False`` and ``(2, 3 d_h)`` (input bias, recurrent bias)
    when ``reset_after=True``, as Keras stores them. ``convention="keras"`` updates
    ``h = z h_prev + (1 − z) h'``; ``convention="notes"`` updates ``h = (1 − z) h_prev + z h'``.
    """
    if convention not in GRU_CONVENTIONS:
        raise ValueError(f"convention must be one of {GRU_CONVENTIONS}, got {convention!r}")
    units = h.shape[-1]
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    x_part = x_t @ kernel + input_bias  # (batch, 3 units)
    h_part = h @ recurrent_kernel[:, :2 * units] + recurrent_bias[:2 * units]
    z = sigmoid(x_part[:, :units] + h_part[:, :units])  # update gate
    r = sigmoid(x_part[:, units:2 * units] + h_part[:, units:])  # reset gate
    if reset_after:  # Keras default: reset the recurrent product
        recurrent = r * (h @ recurrent_kernel[:, 2 * units:] + recurrent_bias[2 * units:])
    else:  # the notes: tanh(W_h [r ⊙ h_{t-1}, x_t])
        recurrent = (r * h) @ recurrent_kernel[:, 2 * units:]
    candidate = np.tanh(x_part[:, 2 * units:] + recurrent)  # h'_t
    if convention == "notes":
        return (1.0 - z) * h + z * candidate
    return z * h + (1.0 - z) * candidate


def gru_forward(x, kernel, recurrent_kernel, bias, *, reset_after=False, convention="keras", h0=None):
    """Run :func:`gru_step` over ``x`` ``(batch, T, d_x)``. Returns ``(outputs, h_T)``."""
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units), x.dtype) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        h = gru_step(x[:, t], h, kernel, recurrent_kernel, bias, reset_after=reset_after,
                     convention=convention)
        outputs.append(h)
    return np.stack(outputs, axis=1), h


def keras_gru_to_notes(kernel, recurrent_kernel, bias):
    """Weights for ``convention="notes"`` that compute the same cell as Keras' weights.

    Negates the update gate's columns (and bias) so that the notes' z equals Keras' 1 − z.
    """
    units = recurrent_kernel.shape[0]
    kernel, recurrent_kernel, bias = (np.array(w, copy=True) for w in (kernel, recurrent_kernel, bias))
    kernel[:, :units] *= -1
    recurrent_kernel[:, :units] *= -1
    bias[..., :units] *= -1
    return kernel, recurrent_kernel, bias


# Parameter counts (003 §3.9.4 "approximately 4x"; §3.10.3 "approximately 25% fewer"; erratum B29;
# Practical Exercises 03, Ex. 2: how many more parameters does an LSTM have than an RNN?).

def rnn_parameter_count(input_dim, units):
    """SimpleRNN: W_xh (d_h·d_x) + W_hh (d_h·d_h) + b_h (d_h) = d_h (d_x + d_h + 1)."""
    return units * (input_dim + units + 1)


def lstm_parameter_count(input_dim, units):
    """LSTM: four gate layers of the RNN's size, 4 d_h (d_x + d_h + 1)."""
    return 4 * rnn_parameter_count(input_dim, units)


def peephole_lstm_parameter_count(input_dim, units):
    """Peephole LSTM: an LSTM's 4 d_h (d_x + d_h + 1) plus the three diagonal peepholes, 3 d_h."""
    return lstm_parameter_count(input_dim, units) + 3 * units


def gru_parameter_count(input_dim, units, *, reset_after=True):
    """GRU: three gate layers, 3 d_h (d_x + d_h + 1); Keras' default ``reset_after=True`` adds a
    second bias vector per gate, 3 d_h more (3 d_h (d_x + d_h + 2))."""
    return 3 * rnn_parameter_count(input_dim, units) + (3 * units if reset_after else 0)


def lstm_extra_parameters(input_dim, units):
    """The exercise's answer: an LSTM has 3 d_h (d_x + d_h + 1) more parameters than an RNN."""
    return lstm_parameter_count(input_dim, units) - rnn_parameter_count(input_dim, units)


def parameter_count_table(sizes):
    """The formulas beside Keras' own counts for each ``(d_x, d_h)`` in ``sizes`` (lab 13's table)."""
    import keras  # the rest of this module is NumPy only

    from dlcourse.layers.recurrent import peephole_lstm

    def keras_count(layer, input_dim):
        layer.build((None, 2, input_dim))
        return layer.count_params()

    rows = []
    for input_dim, units in sizes:
        rows.append(dict(
            d_x=input_dim, d_h=units,
            rnn=rnn_parameter_count(input_dim, units),
            rnn_keras=keras_count(keras.layers.SimpleRNN(units), input_dim),
            lstm=lstm_parameter_count(input_dim, units),
            lstm_keras=keras_count(keras.layers.LSTM(units), input_dim),
            peephole_lstm=peephole_lstm_parameter_count(input_dim, units),
            peephole_lstm_keras=keras_count(peephole_lstm(units), input_dim),
            gru_classic=gru_parameter_count(input_dim, units, reset_after=False),
            gru_classic_keras=keras_count(keras.layers.GRU(units, reset_after=False), input_dim),
            gru=gru_parameter_count(input_dim, units),
            gru_keras=keras_count(keras.layers.GRU(units), input_dim),
            lstm_minus_rnn=lstm_extra_parameters(input_dim, units)))
    return rows
