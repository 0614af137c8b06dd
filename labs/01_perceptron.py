"""Lab 01 — the perceptron, worked by hand in NumPy (handbook 003, Practical Exercises 01, Exercise 01).

The exercise (003 L1723-L1749): one neuron with inputs e1, e2, activation sign(x) = 1 if x > 0
else -1 (so sign(0) = -1; NumPy's np.sign(0) is 0), learns the bipolar AND table presented in table
order from w1 = -0.2, w2 = 0.1, b = -0.2 with eta = 0.1 and the rule w += eta (d - y) e,
b += eta (d - y) (the handbook does not state the rule; this is Rosenblatt's: docs/SOURCES.md,
erratum B33). Then the same perceptron tries
XOR (the main notes, Unit I, "XOR/XNOR", 000 L222-L257) and never gets all four points right.

What to observe:
- Only two presentations change the weights, both in epoch 1; epoch 2 has no error, so training
  stops with w = (0.2, 0.1), b = -0.2.
- The separating line 0.2 e1 + 0.1 e2 - 0.2 = 0 is 2 e1 + e2 - 2 = 0: only (1, 1) is on its
  positive side. The smallest margin |net| is 0.1 (example (1, -1)).
- On XOR the weights cycle forever: every epoch has at least one error. The printed argument
  shows why no weights exist; a hidden layer (lab 02) fixes it.

Outputs (in <out>/01_perceptron/): decision_line.png (the points and learned line, and XOR's
last failed line), run.json (``weights``, ``bias``, ``decision_line``, every update, the XOR result).

The perceptron trains in microseconds, so ``--smoke`` runs the whole lab unchanged.
"""

import sys

import numpy as np

from dlcourse import artifacts, training
from dlcourse.errors import report_user_errors
from dlcourse.scratch import perceptron


def plot_decision_lines(result, xor_result):
    figure, axes = artifacts.new_figure(1, 2, width=9.0, height=4.2)
    panels = (
        (axes[0], perceptron.BIPOLAR_AND_INPUTS, perceptron.BIPOLAR_AND_TARGETS, result, "bipolar AND (learned)"),
        (axes[1], perceptron.BIPOLAR_XOR_INPUTS, perceptron.BIPOLAR_XOR_TARGETS, xor_result,
         "XOR (last line tried; never separates)"),
    )
    e1 = np.linspace(-2.2, 2.2, 50)
    for axis, inputs, targets, fitted, title in panels:
        for value, marker, colour in ((1, "o", "tab:blue"), (-1, "x", "tab:red")):
            chosen = inputs[targets == value]
            axis.scatter(chosen[:, 0], chosen[:, 1], marker=marker, s=90, color=colour, label=f"d = {value:+d}")
        w1, w2 = fitted.weights
        if abs(w2) > 1e-12:
            axis.plot(e1, -(w1 * e1 + fitted.bias) / w2, color="black",
                      label=perceptron.format_line(perceptron.decision_line(fitted.weights, fitted.bias)))
        elif abs(w1) > 1e-12:
            axis.axvline(-fitted.bias / w1, color="black")
        axis.set(xlim=(-2.2, 2.2), ylim=(-2.2, 2.2), xlabel="e1", ylabel="e2", title=title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="lower left")
    return figure


def rounded(values):
    return [round(float(value), 12) for value in values]


def train_on_and(args):
    """Exercise 01, question 1: learn the bipolar AND table; prints every presentation."""
    result = perceptron.train_perceptron(learning_rate=args.learning_rate, max_epochs=args.epochs)
    print("Exercise 01, bipolar AND (every presentation):")
    for step in result.steps:
        print("  " + step.describe())
    line = perceptron.decision_line(result.weights, result.bias)
    print(f"  converged={result.converged} after {result.epochs} epochs and {len(result.updates)} updates: "
          f"w = {rounded(result.weights)}, b = {round(float(result.bias), 12)}")
    print(f"  separating line: {perceptron.format_line(line)}")
    return result


def try_xor(args):
    """Questions 3 and 4: one perceptron never learns XOR; two layers (OR, NAND -> AND) compute it."""
    result = perceptron.train_perceptron(perceptron.BIPOLAR_XOR_INPUTS, perceptron.BIPOLAR_XOR_TARGETS,
                                         learning_rate=args.learning_rate, max_epochs=args.epochs)
    errors = result.errors_per_epoch()
    print(f"XOR with one perceptron: converged={result.converged} after {result.epochs} epochs; "
          f"fewest errors in an epoch = {min(errors)}")
    print(perceptron.XOR_ARGUMENT)
    two_layer = perceptron.two_layer_xor(perceptron.BIPOLAR_XOR_INPUTS)
    print(f"two-layer perceptron (OR, NAND -> AND) on XOR: {two_layer.tolist()} "
          f"(targets {perceptron.BIPOLAR_XOR_TARGETS.astype(int).tolist()})")
    return result, {"converged": bool(result.converged), "epochs": result.epochs,
                    "min_errors_per_epoch": int(min(errors)), "two_layer_outputs": two_layer.tolist()}


def update_records(result):
    """Every presentation that changed the weights, as run.json lists it."""
    return [{"epoch": step.epoch, "example": step.example, "inputs": list(step.inputs), "net": step.net,
             "output": step.output, "target": step.target, "weights": list(step.weights), "bias": step.bias}
            for step in result.updates]


def main(argv=None):
    parser = training.lab_parser("01", epochs=100, batch_size=1,
                                 learning_rate=(perceptron.EXERCISE_LEARNING_RATE, "eta, the handbook's"))
    args = training.parse_lab_args(parser, argv)
    if args.smoke:  # the whole lab takes milliseconds: keep the full epoch limit
        args.epochs = parser.get_default("epochs")
    with training.LabRun("01", args) as run:
        result = train_on_and(args)
        xor_result, xor = try_xor(args)
        run.save_figure(plot_decision_lines(result, xor_result), "decision_line.png")
        weights, bias = rounded(result.weights), round(float(result.bias), 12)
        line = perceptron.decision_line(result.weights, result.bias)
        run.finish(
            metrics={"weights": weights, "bias": bias, "epochs": result.epochs, "updates": len(result.updates),
                     "xor_solved": xor["converged"]},
            weights=weights,
            bias=bias,
            decision_line={"coefficients": list(line), "equation": perceptron.format_line(line)},
            updates=update_records(result),
            xor=xor,
        )


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
