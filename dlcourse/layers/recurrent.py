"""Recurrent cells the notes name and Keras lacks: the peephole LSTM cell (001).

The Q&A sheet 001 (Q4, "Different Variants on Long Short-Term Memory", "Peephole Connections",
001 L379-L381) says only that "the gates are allowed to look at the cell state in addition to the
hidden state", with no equations (docs/SOURCES.md, erratum B60). The equations are Gers &
Schmidhuber's (2000; Gers, Schraudolph & Schmidhuber 2002), with diagonal peephole weights p_i,
p_f, p_o (one weight per unit, ⊙ the element-wise product):

    i_t = σ(W_i x_t + U_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)     (input gate: sees the old cell)
    f_t = σ(W_f x_t + U_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)     (forget gate: sees the old cell)
    c̃_t = tanh(W_c x_t + U_c h_{t-1} + b_c)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ c̃_t
    o_t = σ(W_o x_t + U_o h_{t-1} + p_o ⊙ c_t + b_o)         (output gate: sees the NEW cell)
    h_t = o_t ⊙ tanh(c_t)

The weights use Keras' LSTM layout (``kernel`` ``(d_x, 4 d_h)``, ``recurrent_kernel`` ``(d_h, 4 d_h)``,
``bias`` ``(4 d_h,)``, gate order i, f, c, o) plus ``peephole`` ``(3, d_h)`` with rows p_i, p_f, p_o, so
the cell has an LSTM's 4 d_h (d_x + d_h + 1) parameters plus 3 d_h. The peepholes start at zero
(the cell then computes exactly Keras' LSTM); ``dlcourse.scratch.cells.peephole_lstm_forward`` is its
NumPy oracle. Use it as ``keras.layers.RNN(PeepholeLSTMCell(units))`` or through
:func:`peephole_lstm` (what ``dlcourse.models.recurrent`` calls for ``cell="peephole"``).
"""

import keras
import numpy as np

from dlcourse.scratch import cells

__all__ = ["PeepholeLSTMCell", "peephole_lstm", "peephole_oracle_error"]


@keras.saving.register_keras_serializable(package="dlcourse")
class PeepholeLSTMCell(keras.layers.Layer):
    """An LSTM cell whose gates also read the cell state (diagonal peepholes; 001 Q4).

    Args:
        units: hidden units d_h (the cell state has the same size).
        activation: the candidate's and output's squashing function (tanh).
        recurrent_activation: the gates' function (sigmoid).
        kernel_initializer, recurrent_initializer, bias_initializer, peephole_initializer: as Keras'
            ``LSTMCell`` (the peepholes default to zeros).
        unit_forget_bias: start the forget-gate bias at 1, as Keras' LSTM does.
    """

    def __init__(self, units, *, activation="tanh", recurrent_activation="sigmoid",
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", peephole_initializer="zeros", unit_forget_bias=True, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be a positive integer, got {units}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]  # [h, c]
        self.output_size = self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        units = self.units
        self.kernel = self.add_weight(shape=(input_dim, 4 * units), initializer=self.kernel_initializer,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(units, 4 * units), initializer=self.recurrent_initializer,
                                                name="recurrent_kernel")
        if self.unit_forget_bias:
            def bias_initializer(shape, dtype=None):
                return keras.ops.concatenate([self.bias_initializer((units,), dtype=dtype),
                                              keras.initializers.Ones()((units,), dtype=dtype),
                                              self.bias_initializer((2 * units,), dtype=dtype)])
        else:
            bias_initializer = self.bias_initializer
        self.bias = self.add_weight(shape=(4 * units,), initializer=bias_initializer, name="bias")
        self.peephole = self.add_weight(shape=(3, units), initializer=self.peephole_initializer,
                                        name="peephole")  # rows p_i, p_f, p_o

    def call(self, inputs, states, training=None):
        h_previous, c_previous = states[0], states[1]
        units = self.units
        a = (keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(h_previous, self.recurrent_kernel)
             + self.bias)  # (batch, 4 units), gates i, f, c, o
        i = self.recurrent_activation(a[:, :units] + self.peephole[0] * c_previous)
        f = self.recurrent_activation(a[:, units:2 * units] + self.peephole[1] * c_previous)
        c = f * c_previous + i * self.activation(a[:, 2 * units:3 * units])
        o = self.recurrent_activation(a[:, 3 * units:] + self.peephole[2] * c)  # the new cell state
        h = o * self.activation(c)
        return h, [h, c]

    def get_initial_state(self, batch_size=None):
        return [keras.ops.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in range(2)]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            recurrent_activation=keras.activations.serialize(self.recurrent_activation),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            peephole_initializer=keras.initializers.serialize(self.peephole_initializer),
            unit_forget_bias=self.unit_forget_bias)
        return config


def peephole_lstm(units, *, return_sequences=False, return_state=False, go_backwards=False, name=None,
                  dtype=None, **cell_kwargs):
    """``keras.layers.RNN(PeepholeLSTMCell(units, **cell_kwargs), ...)``: the layer form of the cell,
    called like ``keras.layers.LSTM``."""
    cell = PeepholeLSTMCell(units, dtype=dtype, name=f"{name}_cell" if name else None, **cell_kwargs)
    return keras.layers.RNN(cell, return_sequences=return_sequences, return_state=return_state,
                            go_backwards=go_backwards, name=name, dtype=dtype)


def peephole_oracle_error(*, seed=0, batch=2, steps=5, input_dim=3, units=4):
    """Largest |NumPy − Keras| output difference of the peephole cell (lab 13's oracle check).

    A float64 ``RNN(PeepholeLSTMCell)`` gets random weights (peepholes and biases included) and its
    sequence of h_t is compared with ``dlcourse.scratch.cells.peephole_lstm_forward``.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, input_dim))
    layer = peephole_lstm(units, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()])
    expected = np.asarray(layer(x))
    ours = cells.peephole_lstm_forward(x, *layer.get_weights())[0]
    return float(np.max(np.abs(ours - expected)))
