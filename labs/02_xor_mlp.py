"""Lab 02 — XOR and XNOR with the notes' 2-2-1 network (Unit I, "XOR/XNOR", "Multi-Layer ... Solution").

The main notes (000 L222-L257) show that XOR is not linearly separable and solve it with one hidden
layer of 2 units. This lab trains one 2-2-1 network (2 inputs, 2 hidden units, 1 sigmoid output;
9 parameters) on the XOR truth table and one on XNOR (= NOT XOR; the notes name XNOR only in a
heading: docs/SOURCES.md, erratum A2), full-batch: each training step sees the whole 4-row table
(an "epoch" is ``--steps-per-epoch`` such steps). Then sets the same network's weights by hand
(hidden OR and NAND units, output AND) and checks both tables exactly.

What to observe:
- A single perceptron cannot do XOR (lab 01); one hidden layer can: both tables end 4/4 correct.
- The hidden layer's outputs (printed) put the two classes on opposite sides of one line: the
  hidden layer made the problem linearly separable, as Unit I says.
- With only 2 hidden units the network often ends in a local minimum (outputs like (0, 2/3, 2/3,
  2/3), or two points stuck at 0.5). Measured over seeds 0-99 with this lab's training (Adam 0.1,
  200 full-batch steps): ReLU is stuck in 84 of 100 starts (a unit whose inputs are all negative
  never recovers), tanh and sigmoid in 53 of 100 each, Swish (the default) in none; try
  ``--activation relu --seed 0``. ``--hidden-units 3`` makes it rarer.

Outputs (in <out>/02_xor_mlp/): xor_mlp.h5, xnor_mlp.h5, xor_history.csv, xnor_history.csv,
xor_learning_curves.png, xnor_learning_curves.png, decision_regions.png, run.json.

The full lab takes seconds, so ``--smoke`` keeps its full 200 training steps.
"""

import sys

import keras
import numpy as np

from dlcourse import arguments, artifacts, runtime, training
from dlcourse.errors import report_user_errors
from dlcourse.models.mlp import build_xor_mlp, set_hand_xor_weights
from dlcourse.scratch.perceptron import truth_table

TABLES = ("xor", "xnor")


def plot_decision_regions(models):
    figure, axes = artifacts.new_figure(1, len(models), width=4.5 * len(models), height=4.0)
    grid = np.linspace(-0.25, 1.25, 121)
    x1, x2 = np.meshgrid(grid, grid)
    points = np.stack([x1.ravel(), x2.ravel()], axis=1)
    inputs, _ = truth_table("xor")
    for axis, (table, model) in zip(np.atleast_1d(axes), models.items()):
        probabilities = np.asarray(model(points, training=False)).reshape(x1.shape)
        image = axis.contourf(x1, x2, probabilities, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.8)
        axis.contour(x1, x2, probabilities, levels=[0.5], colors="black")
        _, targets = truth_table(table)
        axis.scatter(inputs[:, 0], inputs[:, 1], c=targets, cmap="coolwarm", edgecolors="black", s=120)
        axis.set(title=f"{table.upper()}: P(output = 1)", xlabel="x1", ylabel="x2")
    figure.colorbar(image, ax=axes)
    return figure


def train_table(run, args, table):
    """Train a fresh 2-2-1 network on one truth table; returns (model, metrics, hidden-layer outputs)."""
    inputs, targets = truth_table(table)
    runtime.set_seed(args.seed)  # each table starts from the same initial weights
    with run.strategy.scope():
        model = build_xor_mlp(hidden_units=args.hidden_units, activation=args.activation, name=f"{table}_mlp")
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="binary_crossentropy",
                      metrics=["accuracy"])
    # The table repeated: every batch of 4 rows is one full-batch step (batch size 4).
    repeats = args.steps_per_epoch * max(1, args.batch_size // 4)
    run.fit(model, np.tile(inputs, (repeats, 1)), np.tile(targets, repeats), epochs=args.epochs,
            batch_size=args.batch_size, shuffle=args.batch_size < 4,
            history_name=f"{table}_history.csv", curves_name=f"{table}_learning_curves.png")
    probabilities = np.asarray(model(inputs, training=False)).ravel().astype(np.float64)
    accuracy = float(np.mean((probabilities > 0.5) == (targets > 0.5)))
    hidden = keras.Model(model.input, model.get_layer(f"{table}_mlp_hidden").output)
    hidden_outputs = np.round(np.asarray(hidden(inputs, training=False)).astype(np.float64), 4).tolist()
    print(f"{table.upper()}: targets {targets.astype(int).tolist()}, "
          f"outputs {np.round(probabilities, 3).tolist()}, accuracy {accuracy:.2f}")
    for row, values in zip(inputs.astype(int).tolist(), hidden_outputs):
        print(f"  input {row} -> hidden {values}")
    metrics = {f"accuracy_{table}": accuracy, f"max_error_{table}": float(np.max(np.abs(probabilities - targets)))}
    return model, metrics, hidden_outputs


def check_hand_set_weights():
    """The same network with hand-set weights (hidden OR and NAND, output AND) on both tables."""
    hand = {}
    model = build_xor_mlp(activation="tanh", name="hand_mlp")
    for table in TABLES:
        inputs, targets = truth_table(table)
        set_hand_xor_weights(model, xnor=table == "xnor")
        probabilities = np.asarray(model(inputs, training=False)).ravel().astype(np.float64)
        hand[table] = {"outputs": np.round(probabilities, 6).tolist(),
                       "exact": bool(np.all((probabilities > 0.5) == (targets > 0.5)))}
        print(f"hand-set weights (OR, NAND -> AND), {table.upper()}: {np.round(probabilities, 4).tolist()}")
    return hand


def main(argv=None):
    parser = training.lab_parser("02", epochs=10, batch_size=4, learning_rate=(0.1, "Adam's"))
    parser.add_argument("--steps-per-epoch", type=arguments.positive_int, default=20,
                        help="training steps per epoch (default %(default)s; 10 x 20 = 200 steps)")
    parser.add_argument("--hidden-units", type=arguments.positive_int, default=2, help="hidden width (notes: 2)")
    parser.add_argument("--activation", default="swish", choices=("swish", "tanh", "sigmoid", "relu"),
                        help="hidden activation (default swish; the notes list sigmoid, tanh, ReLU)")
    args = training.parse_lab_args(parser, argv)
    if args.smoke:  # 200 steps on 4 rows take about a second: keep them
        args.epochs = parser.get_default("epochs")
    with training.LabRun("02", args) as run:
        models, metrics, hidden_outputs = {}, {}, {}
        for table in TABLES:
            models[table], table_metrics, hidden_outputs[table] = train_table(run, args, table)
            metrics.update(table_metrics)
        hand = check_hand_set_weights()
        metrics["hand_set_exact"] = all(entry["exact"] for entry in hand.values())

        run.save_figure(plot_decision_regions(models), "decision_regions.png")
        for table, model in models.items():
            run.save_model(model, f"{table}_mlp.h5")
        run.finish(metrics=metrics, model=models["xor"], hidden_outputs=hidden_outputs, hand_set=hand,
                   training_steps=args.epochs * args.steps_per_epoch)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
