"""Lab 24: the discriminative classifiers of the discriminative-vs-generative comparison.

000 Unit IV, "Comparison between discriminative and generative models" (000 L1892-L1907):
discriminative models "learn the conditional probability P(y|x)" and nothing about x; the notes
name logistic regression and "discriminative neural networks". Logistic regression is
scikit-learn's; the neural network is this small Keras MLP on the same flattened pixels.
"""

import keras

from dlcourse.models.mlp import build_deep_ffn

__all__ = ["build_discriminative_mlp", "DISCRIMINATIVE_MLP_HIDDEN_UNITS"]

DISCRIMINATIVE_MLP_HIDDEN_UNITS = (128,)


def build_discriminative_mlp(*, input_dim=784, hidden_units=DISCRIMINATIVE_MLP_HIDDEN_UNITS, activation="relu",
                             num_classes=10, dropout_rate=0.0, name="discriminative_mlp"):
    """A small MLP modelling p(y | x) on flattened images: Dense hidden layers, softmax output
    (:func:`dlcourse.models.mlp.build_deep_ffn` with one hidden layer on a flat input).

    The notes give no sizes; one hidden layer of 128 ReLU units is this package's choice, small
    enough to train in seconds on the 1,437 embedded digits. With the defaults it has 101,770
    parameters: 784 * 128 + 128 = 100,480 and 128 * 10 + 10 = 1,290.

    Args:
        input_dim: length of the flattened input (784 = 28 * 28 pixels, scaled to [0, 1]).
        hidden_units: width of each hidden layer.
        activation: hidden activation.
        num_classes: output classes.
        dropout_rate: dropout after each hidden layer (0 adds no Dropout layers).
        name: model name; layers ``{name}_dense1``, ..., ``{name}_output``.

    Returns:
        A ``keras.Model`` mapping ``(batch, input_dim)`` to ``(batch, num_classes)`` softmax
        probabilities p(y | x) (train with sparse categorical cross-entropy, ``from_logits=False``).
    """
    hidden_units = tuple(int(units) for units in hidden_units)
    if min(hidden_units, default=1) < 1:
        raise ValueError(f"hidden_units must be positive widths, got {hidden_units}")
    if hidden_units:  # the same network as Unit I's deep feed-forward net, one hidden layer
        return build_deep_ffn(input_shape=(int(input_dim),), hidden_units=hidden_units, activation=activation,
                              num_classes=num_classes, dropout_rate=dropout_rate, name=name)
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    inputs = keras.Input(shape=(int(input_dim),), name=f"{name}_inputs")  # no hidden layer: softmax regression
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name=f"{name}_output")(inputs)
    return keras.Model(inputs, outputs, name=name)
