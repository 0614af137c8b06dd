"""Lab 04 — backpropagation from scratch in NumPy, checked against tf.GradientTape (Unit I, "Back-Propagation").

The notes' four steps (000 L467-L497) (forward pass, loss, backward pass with the chain rule, gradient-descent
update) written out for a dense network in ``dlcourse.scratch.backprop``. The lab first compares
every gradient with what ``tf.GradientTape`` computes for the same network built from float64
Keras Dense layers (softmax + cross-entropy on a batch of digits with sigmoid, tanh and ReLU
hidden units, and MSE on XOR), then trains the network with plain mini-batch SGD using only the
from-scratch gradients. No Keras training happens here.

What to observe:
- Every relative error ||ours - tape|| / (||ours|| + ||tape||) is around 1e-16 (float64 round-off):
  the hand-derived chain rule *is* what autodiff computes.
- The loss falls epoch after epoch with nothing but ``theta <- theta - eta grad``.

Outputs (in <out>/04_backprop/): gradient_check.json (per check and per parameter tensor: relative
and absolute error, and the worst), loss_curve.png, run.json.

Data: the embedded ``digits`` (28x28 real handwritten digits), so nothing is downloaded.
"""

import sys

import numpy as np

from dlcourse import arguments, artifacts, training
from dlcourse.errors import report_user_errors
from dlcourse.scratch import backprop
from dlcourse.scratch.perceptron import truth_table

TOLERANCE = 1e-6  # the largest relative gradient error accepted


def run_gradient_checks(x, y, hidden_units, seed):
    checks = {}
    for activation in ("sigmoid", "tanh", "relu"):
        params = backprop.init_mlp((x.shape[1], *hidden_units, 10), seed=seed)
        checks[f"cross_entropy_{activation}"] = backprop.gradient_check(params, x, y, hidden_activation=activation)
    inputs, targets = truth_table("xor")
    params = backprop.init_mlp((2, 2, 1), seed=seed)
    checks["mse_xor_tanh_sigmoid"] = backprop.gradient_check(params, inputs, targets, loss="mse",
                                                             hidden_activation="tanh", output_activation="sigmoid")
    return checks


def check_gradients(run, x, y, hidden_units, seed):
    """Step 1: every from-scratch gradient against GradientTape's; writes gradient_check.json."""
    checks = run_gradient_checks(x, y, hidden_units, seed)
    worst = max(check["max_relative_error"] for check in checks.values())
    for name, check in checks.items():
        print(f"  gradient check {name:22s} max relative error {check['max_relative_error']:.2e}")
    run.save_json({"tolerance": TOLERANCE, "max_relative_error": worst, "passed": bool(worst <= TOLERANCE),
                   "error_definition": "||ours - tape||_2 / (||ours||_2 + ||tape||_2) per parameter tensor",
                   "checks": checks}, "gradient_check.json")
    return worst


def train_from_scratch(run, args, x_train, y_train):
    """Step 2: mini-batch SGD with only the from-scratch gradients; returns (parameters, losses)."""
    params = backprop.init_mlp((x_train.shape[1], *args.hidden_units, 10), seed=args.seed)
    with run.timed(samples=len(x_train) * args.epochs):
        params, losses = backprop.train_sgd(params, x_train, y_train, hidden_activation=args.activation,
                                            learning_rate=args.learning_rate, epochs=args.epochs,
                                            batch_size=args.batch_size, seed=args.seed)
    print(f"  training loss per epoch {[round(value, 4) for value in losses]}")
    return params, losses


def plot_loss_curve(losses, test_accuracy, activation, learning_rate):
    figure, axis = artifacts.new_figure(width=6.0, height=4.0)
    axis.plot(range(len(losses)), losses, marker="o")
    axis.set(xlabel="epoch (0 = before training)", ylabel="training cross-entropy",
             title=f"From-scratch SGD, {activation} hidden units, eta = {learning_rate:g}\n"
                   f"test accuracy {test_accuracy:.3f}")
    axis.grid(alpha=0.3)
    return figure


def main(argv=None):
    parser = training.lab_parser("04", epochs=10, batch_size=32, learning_rate=(0.5, "SGD's eta"),
                                 datasets=["digits"])
    parser.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), default="sigmoid",
                        help="hidden activation for the training run (default sigmoid)")
    parser.add_argument("--hidden-units", nargs="+", type=arguments.positive_int, default=[64, 32],
                        help="hidden widths (default 64 32)")
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("04", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        x_train = x_train.reshape(len(x_train), -1).astype(np.float64) / 255.0
        x_test = x_test.reshape(len(x_test), -1).astype(np.float64) / 255.0

        worst = check_gradients(run, x_train[:32], y_train[:32], args.hidden_units, args.seed)
        params, losses = train_from_scratch(run, args, x_train, y_train)
        output, _ = backprop.forward(params, x_test, hidden_activation=args.activation)
        test_accuracy = float(np.mean(output.argmax(axis=1) == y_test))
        run.save_figure(plot_loss_curve(losses, test_accuracy, args.activation, args.learning_rate), "loss_curve.png")
        run.finish(metrics={"max_relative_error": worst, "gradients_match": bool(worst <= TOLERANCE),
                            "initial_loss": losses[0], "final_loss": losses[-1],
                            "test_accuracy": test_accuracy},
                   losses=losses, layer_sizes=[x_train.shape[1], *args.hidden_units, 10],
                   parameters=int(sum(layer["kernel"].size + layer["bias"].size for layer in params)))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
