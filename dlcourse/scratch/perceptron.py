"""Rosenblatt's perceptron in NumPy: the handbook's Exercise 01, and why one perceptron cannot do XOR.

Sources in the notes:
- Master's handbook (003), "Practical Exercises 01", Exercise 01: one neuron with inputs e1, e2,
  activation ``signe(x) = 1 if x > 0, -1 otherwise``, the bipolar AND table, initial w1 = -0.2,
  w2 = 0.1, b = -0.2 and learning rate 0.1.
- B.Tech notes (000), Unit I, "Non-linear Classification Example using Neural Networks: XOR/XNOR":
  ``y = f(w1 x1 + w2 x2 + b)``; XOR cannot be solved by a single-layer perceptron.

Where the notes are silent or ambiguous (docs/SOURCES.md, erratum B33) this module fixes:
- the learning rule: ``w += eta (d - y) e`` and ``b += eta (d - y)`` (Rosenblatt / Widrow), with
  ``net = w . e + b`` (b is a bias added to the sum, not a threshold subtracted from it);
- the examples are presented in table order, one at a time;
- ``sign(0) = -1`` as the handbook defines it; ``np.sign(0)`` is 0, so :func:`sign` is used instead.
With these the exercise converges to w = (0.2, 0.1), b = -0.2 after 2 updates in 2 epochs, and the
separating line is ``2 e1 + e2 - 2 = 0``.
"""

import dataclasses

import numpy as np

# The handbook's table, in its order: (e1, e2) -> d.
BIPOLAR_AND_INPUTS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
BIPOLAR_AND_TARGETS = np.array([1.0, -1.0, -1.0, -1.0])

# XOR in the same bipolar coding: +1 when the inputs differ.
BIPOLAR_XOR_INPUTS = BIPOLAR_AND_INPUTS
BIPOLAR_XOR_TARGETS = np.array([-1.0, 1.0, -1.0, 1.0])

# The 0/1 truth tables of Unit I (000; erratum A2). The notes name XNOR only in a heading; XNOR = NOT XOR.
LOGIC_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
LOGIC_TARGETS = {
    "and": np.array([0.0, 0.0, 0.0, 1.0]),
    "or": np.array([0.0, 1.0, 1.0, 1.0]),
    "nand": np.array([1.0, 1.0, 1.0, 0.0]),
    "xor": np.array([0.0, 1.0, 1.0, 0.0]),
    "xnor": np.array([1.0, 0.0, 0.0, 1.0]),
}

EXERCISE_WEIGHTS = (-0.2, 0.1)
EXERCISE_BIAS = -0.2
EXERCISE_LEARNING_RATE = 0.1

XOR_ARGUMENT = (
    "No single perceptron computes XOR. In bipolar coding it would need, for some w1, w2, b:\n"
    "  (1, 1)   -> -1:  w1 + w2 + b <= 0\n"
    "  (-1, -1) -> -1: -w1 - w2 + b <= 0\n"
    "  (-1, 1)  -> +1: -w1 + w2 + b > 0\n"
    "  (1, -1)  -> +1:  w1 - w2 + b > 0\n"
    "Adding the first two gives 2b <= 0; adding the last two gives 2b > 0. Contradiction: the two\n"
    "classes cannot be separated by one straight line, whatever the weights or the training rule.\n"
    "A hidden layer fixes it: h1 = OR(e1, e2), h2 = NAND(e1, e2), output = AND(h1, h2)."
)


def truth_table(name):
    """The 0/1 truth table ``(inputs (4, 2), targets (4,))`` of ``and``, ``or``, ``nand``, ``xor`` or ``xnor``."""
    key = str(name).lower()
    if key not in LOGIC_TARGETS:
        raise ValueError(f"unknown truth table {name!r}; expected one of {sorted(LOGIC_TARGETS)}")
    return LOGIC_INPUTS.copy(), LOGIC_TARGETS[key].copy()


def sign(x):
    """The handbook's ``signe``: 1 where x > 0, -1 otherwise (so ``sign(0) == -1``, unlike ``np.sign``)."""
    result = np.where(np.asarray(x) > 0, 1, -1)
    return int(result) if result.ndim == 0 else result


def step(x):
    """Heaviside step for 0/1 logic units: 1 where x > 0, else 0."""
    result = np.where(np.asarray(x) > 0, 1, 0)
    return int(result) if result.ndim == 0 else result


@dataclasses.dataclass(frozen=True)
class PerceptronStep:
    """One presentation of one example: its net input, output, target and the weights after it."""

    epoch: int  # 1-based
    example: int  # 1-based row of the table
    inputs: tuple
    net: float
    output: int
    target: int
    weights: tuple  # after this step
    bias: float  # after this step

    @property
    def updated(self):
        return self.output != self.target

    def describe(self):
        inputs = ", ".join(f"{value:g}" for value in self.inputs)
        weights = ", ".join(f"{value:.4g}" for value in self.weights)
        mark = "update" if self.updated else "ok"
        return (f"epoch {self.epoch} example {self.example} e=({inputs}) net={self.net:+.4g} "
                f"y={self.output:+d} d={self.target:+d} {mark:6s} -> w=({weights}) b={self.bias:.4g}")


@dataclasses.dataclass(frozen=True)
class PerceptronResult:
    """What :func:`train_perceptron` learned and every step it took."""

    weights: np.ndarray
    bias: float
    steps: tuple
    epochs: int  # epochs run, including the final error-free one when converged
    converged: bool

    @property
    def updates(self):
        """The steps that changed the weights (the misclassified presentations)."""
        return tuple(item for item in self.steps if item.updated)

    def errors_per_epoch(self):
        counts = [0] * self.epochs
        for item in self.updates:
            counts[item.epoch - 1] += 1
        return counts


def train_perceptron(inputs=BIPOLAR_AND_INPUTS, targets=BIPOLAR_AND_TARGETS, *,
                     weights=EXERCISE_WEIGHTS, bias=EXERCISE_BIAS,
                     learning_rate=EXERCISE_LEARNING_RATE, max_epochs=100):
    """Train one sign-activated perceptron with the rule ``w += eta (d - y) e``, ``b += eta (d - y)``.

    Examples are presented in the given order; training stops after the first epoch with no error
    or after ``max_epochs``. Defaults are the handbook's Exercise 01 (003, Practical
    Exercises 01).

    Args:
        inputs: ``(n, k)`` array of examples.
        targets: ``(n,)`` array of bipolar targets (-1 or +1).
        weights: initial weights, length ``k``.
        bias: initial bias (added to the weighted sum).
        learning_rate: eta.
        max_epochs: upper bound on passes over the table.

    Returns:
        A :class:`PerceptronResult` with the final weights and bias and every step.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    weights = np.array(weights, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] != weights.shape[0] or targets.shape != inputs.shape[:1]:
        raise ValueError(f"inputs {inputs.shape}, targets {targets.shape} and weights {weights.shape} "
                         "do not fit together: expected (n, k), (n,) and (k,)")
    if not set(np.unique(targets)) <= {-1.0, 1.0}:
        raise ValueError("targets must be bipolar (-1 or +1)")
    if learning_rate <= 0 or max_epochs < 1:
        raise ValueError("learning_rate must be positive and max_epochs at least 1")
    bias = float(bias)
    steps = []
    converged = False
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        errors = 0
        for index, (example, target) in enumerate(zip(inputs, targets), start=1):
            net = float(weights @ example + bias)
            output = sign(net)
            if output != target:
                errors += 1
                weights = weights + learning_rate * (target - output) * example
                bias = bias + learning_rate * (target - output)
            steps.append(PerceptronStep(epoch, index, tuple(example.tolist()), net, output, int(target),
                                        tuple(weights.tolist()), bias))
        if errors == 0:
            converged = True
            break
    return PerceptronResult(weights, bias, tuple(steps), epoch, converged)


def predict(weights, bias, inputs):
    """Sign outputs of a trained perceptron on ``inputs`` (n, k)."""
    return sign(np.asarray(inputs, dtype=np.float64) @ np.asarray(weights, dtype=np.float64) + bias)


def decision_line(weights, bias, *, decimals=6):
    """The separating line ``a e1 + b e2 + c = 0`` scaled so its smallest non-zero |coefficient| is 1.

    Scaling by a positive number keeps the orientation: the +1 class is where ``a e1 + b e2 + c > 0``.
    For the exercise's (0.2, 0.1), -0.2 this gives ``(2.0, 1.0, -2.0)``.
    """
    coefficients = np.array([*np.asarray(weights, dtype=np.float64), float(bias)])
    if not np.any(np.abs(coefficients[:-1]) > 10 ** -decimals):
        raise ValueError("all weights are zero: there is no separating line")
    nonzero = np.abs(coefficients[np.abs(coefficients) > 10 ** -decimals])
    scaled = np.round(coefficients / nonzero.min(), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return tuple(float(value) for value in scaled)


def format_line(coefficients, names=("e1", "e2")):
    """``(2, 1, -2)`` -> ``"2 e1 + e2 - 2 = 0"``."""
    terms = []
    for value, variable in zip(coefficients, (*names, "")):
        if value == 0:
            continue
        magnitude = abs(value)
        text = f"{magnitude:g}" if (variable == "" or magnitude != 1) else ""
        text = f"{text} {variable}".strip() if variable else text
        terms.append(("-" if value < 0 else "+", text))
    if not terms:
        return "0 = 0"
    first_sign, first = terms[0]
    pieces = [("-" if first_sign == "-" else "") + first]
    pieces += [f"{sign_} {text}" for sign_, text in terms[1:]]
    return " ".join(pieces) + " = 0"


def separable_weights_exist(inputs, targets, *, grid=None):
    """Brute-force check: does any (w1, w2, b) on ``grid`` classify every row correctly with :func:`sign`?

    A numeric companion to :data:`XOR_ARGUMENT` (which proves the XOR case for all real weights).
    The default grid is -2 to 2 in steps of 0.1 for each of w1, w2 and b.
    """
    grid = np.linspace(-2.0, 2.0, 41) if grid is None else np.asarray(grid, dtype=np.float64)
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    w1, w2, b = np.meshgrid(grid, grid, grid, indexing="ij")
    candidates = np.stack([w1.ravel(), w2.ravel(), b.ravel()], axis=1)  # (m, 3)
    nets = candidates[:, :2] @ inputs.T + candidates[:, 2:]  # (m, n)
    return bool(np.any(np.all(sign(nets) == targets, axis=1)))


def two_layer_xor(inputs, *, xnor=False):
    """The exercise's question 4: two layers of sign perceptrons computing XOR (or XNOR) on bipolar inputs.

    Hidden unit 1 is OR (``e1 + e2 + 1 > 0``), hidden unit 2 is NAND (``-e1 - e2 + 1 > 0``); the
    output unit is AND of the two (``h1 + h2 - 1 > 0``), which is XOR. XNOR negates the output unit.

    Returns:
        Bipolar outputs, shape ``(n,)``.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    hidden_weights = np.array([[1.0, -1.0], [1.0, -1.0]])  # columns: OR, NAND
    hidden_bias = np.array([1.0, 1.0])
    hidden = sign(inputs @ hidden_weights + hidden_bias)
    output_weights, output_bias = np.array([1.0, 1.0]), -1.0
    if xnor:
        output_weights, output_bias = -output_weights, -output_bias  # nets are +-1, never 0
    return sign(hidden @ output_weights + output_bias)
