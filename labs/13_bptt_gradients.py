"""Lab 13 — backpropagation through time, vanishing and exploding gradients, gradient clipping
(Unit III: "Back propagation through time", "Vanishing Gradient problem", "Exploding Gradient
problem", "Gradient clipping", "LSTM", "GRU"; handbook chapter 3, sections 3.3, 5.5-5.7, 9-10 and
Practical Exercises 03).

Six steps, each checked against an independent computation:
1. BPTT by hand: the NumPy RNN of ``dlcourse/scratch/rnn.py`` (h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h))
   computes its gradients by BPTT; they must equal ``tf.GradientTape``'s (float64) for a loss on the
   last step and for the notes' L = Σ_t L_t. The NumPy LSTM and GRU cells must reproduce Keras' layers.
2. Parameter counts: RNN d_h(d_x + d_h + 1), LSTM four times that (3·d_h(d_x + d_h + 1) more, the
   answer of Practical Exercises 03, Ex. 2), GRU three times (plus 3·d_h for Keras' reset_after).
3. Vanishing gradients: ‖∂L/∂h_t‖ against t on a long-dependency task (the label is the sign of the
   first of T noisy inputs) for a SimpleRNN, an LSTM as Keras initialises it (forget bias 1) and an
   LSTM whose forget gate is open (bias 3, what training does when the task needs memory); and, with
   the NumPy RNN, for W_hh of spectral radius 0.5 ... 3.
4. Exploding gradients: the global gradient norm against the size of W_hh; then a ReLU SimpleRNN
   with a large W_hh trained with plain SGD, without clipping, with ``clipnorm`` and with
   ``global_clipnorm``.
5. Clipping as the notes write it: g = (3, 4), θ = 1 -> (0.6, 0.8).
6. The handbook's sliding-window approach (an MLP on the last w values) beside an RNN on a
   sine + noise series: test MSE of both and of "repeat the last value".

Where it departs from the notes: their BPTT example updates the weights after every time step; BPTT
here unrolls the sequence, sums the losses and takes one gradient. Clipping is listed in the notes as
a cure for vanishing gradients; it only bounds large ones (step 4). Keras' ``clipnorm`` clips each
variable's gradient separately; ``global_clipnorm`` (= ``tf.clip_by_global_norm``) clips them
together and keeps the update's direction: that is the usual meaning and what lab 13 recommends.

What to observe: the SimpleRNN's ‖∂L/∂h_t‖ falls by orders of magnitude going back in time; Keras'
default LSTM still loses it (f ≈ σ(1) = 0.73 per step), the open-gate LSTM keeps it (the cell state
is the "conveyor belt"). Spectral radius < 1 vanishes, > 1 explodes. Unclipped SGD on the large W_hh
reaches inf/NaN within a few steps; both clipped runs stay finite.

Outputs (in <out>/13_bptt_gradients/): gradient_norms.png, gradient_norms.csv, exploding.csv,
clipping.csv, exploding_gradients.png, parameter_counts.csv, oracle_checks.json,
sliding_window_vs_rnn.csv, history_window_mlp.csv, history_series_rnn.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, gradients, training
from dlcourse.errors import report_user_errors
from dlcourse.models.recurrent import build_sequence_predictor, build_window_mlp
from dlcourse.scratch import cells, rnn

PARAMETER_SIZES = ((1, 1), (10, 20), (128, 64))  # (d_x, d_h); (10, 20) is the inventory's example
SPECTRAL_RADII = (0.5, 0.9, 1.0, 1.5, 3.0)
EXPLODING_GAIN = 1.5  # spectral radius of W_hh of the ReLU SimpleRNN in the clipping experiment
TOLERANCE = 1e-6


def main(argv=None):
    parser = training.lab_parser("13", epochs=20, batch_size=32)
    parser.add_argument("--sequence-length", type=training.positive_int, default=100,
                        help="steps of the long-dependency task (default 100)")
    parser.add_argument("--units", type=training.positive_int, default=32)
    parser.add_argument("--forget-bias", type=float, default=3.0, help="forget-gate bias of the open-gate LSTM")
    parser.add_argument("--clip-threshold", type=training.positive_float, default=1.0, help="θ (default 1)")
    parser.add_argument("--clipping-steps", type=training.positive_int, default=30)
    parser.add_argument("--window", type=training.positive_int, default=20, help="sliding-window length")
    parser.add_argument("--series-length", type=training.positive_int, default=2000)
    args = training.parse_lab_args(parser, argv)
    if args.smoke:
        args.sequence_length, args.units = min(args.sequence_length, 30), min(args.units, 8)
        args.clipping_steps, args.series_length = min(args.clipping_steps, 8), min(args.series_length, 300)
    if args.series_length - args.window < 10:  # too few windows to split into training and test sets
        parser.error(f"argument --window: must be at least 10 less than the series length "
                     f"({args.series_length}{' with --smoke' if args.smoke else ''}), got {args.window}")

    with training.LabRun("13", args) as run:
        metrics = {}
        # 1, 2, 5. Oracle checks, parameter counts and the notes' clipping example.
        checks = {"bptt_relative_error": {loss_on: gradients.bptt_oracle_error(loss_on=loss_on)
                                          for loss_on in ("last", "all")},
                  "cells_max_abs_error": gradients.cells_oracle_errors(),
                  "clip_example": {"g": [3.0, 4.0], "threshold": 1.0,
                                   "clipped": gradients.clip_by_norm([3.0, 4.0], 1.0).tolist()}}
        run.save_json(checks, "oracle_checks.json")
        metrics["bptt_max_relative_error"] = max(checks["bptt_relative_error"].values())
        metrics["cells_max_abs_error"] = max(checks["cells_max_abs_error"].values())
        metrics["oracles_agree"] = bool(metrics["bptt_max_relative_error"] <= TOLERANCE
                                        and metrics["cells_max_abs_error"] <= TOLERANCE)
        print(f"  BPTT vs GradientTape: max relative error {metrics['bptt_max_relative_error']:.1e}; "
              f"NumPy LSTM/GRU vs Keras: {metrics['cells_max_abs_error']:.1e}")
        print(f"  clip (3, 4) at θ = 1 -> {checks['clip_example']['clipped']}")
        run.save_csv(cells.parameter_count_table(PARAMETER_SIZES), "parameter_counts.csv")

        # 3. Vanishing gradients: Keras cells on the long-dependency task, the NumPy RNN by spectral radius.
        x, y = gradients.long_dependency_task(64, args.sequence_length, seed=args.seed)
        head = keras.layers.Dense(1)  # one read-out shared by the three cells
        open_gate = gradients.set_forget_bias(keras.layers.LSTMCell(args.units), args.forget_bias, input_dim=1)
        curves = {key: gradients.hidden_state_gradient_norms(cell, head, x, y) for key, cell in (
            ("rnn", keras.layers.SimpleRNNCell(args.units)), ("lstm", keras.layers.LSTMCell(args.units)),
            ("lstm_open_gate", open_gate))}
        sweep = rnn.radius_sweep(SPECTRAL_RADII, steps=args.sequence_length, seed=args.seed)
        run.save_csv(gradient_rows(curves, sweep), "gradient_norms.csv")
        run.save_figure(plot_gradient_norms(curves, sweep, args.forget_bias), "gradient_norms.png")
        for key, curve in curves.items():
            metrics[f"gradient_ratio_{key}"] = float(curve["hidden"][0] / curve["hidden"][-1])
            print(f"  {key:15s} ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = {metrics[f'gradient_ratio_{key}']:.2e}")

        # 4. Exploding gradients and clipping.
        run.save_csv([dict(spectral_radius=radius, gradient_norm=result["gradient_norm"],
                           clip_factor=min(1.0, args.clip_threshold / result["gradient_norm"]))
                      for radius, result in rnn.radius_sweep(SPECTRAL_RADII, seed=args.seed).items()],
                     "exploding.csv")
        x, _ = gradients.long_dependency_task(256, 40, seed=args.seed)
        records = gradients.compare_clipping(
            lambda: build_sequence_predictor(cell="rnn", sequence_length=40, units=16, activation="relu",
                                             recurrent_scale=EXPLODING_GAIN, name="exploding_rnn"),
            x, x[:, :5, 0].sum(axis=1, keepdims=True),  # target: the sum of the first five inputs
            threshold=args.clip_threshold, steps=args.clipping_steps, seed=args.seed)
        run.save_csv([dict(step=step + 1, **{f"{name}_{key}": record[key][step] for name, record in records.items()
                                              for key in ("loss", "gradient_norm")})
                      for step in range(args.clipping_steps)], "clipping.csv")
        run.save_figure(plot_clipping(records, args.clip_threshold), "exploding_gradients.png")
        for name, record in records.items():
            metrics[f"final_loss_{name}"] = record["loss"][-1]
            print(f"  SGD {name:16s} final loss {record['loss'][-1]:.4g}, "
                  f"largest gradient norm {np.nanmax(record['gradient_norm']):.3g}")

        # 6. The handbook's sliding window (an MLP) beside an RNN reading the same window.
        series = rnn.sine_series(args.series_length, seed=args.seed)
        windows, targets = rnn.sliding_windows(series, args.window)
        split = int(0.8 * len(windows))
        rows = [dict(model="last_value", parameters=0,
                     test_mse=float(np.mean((windows[split:, -1] - targets[split:]) ** 2)))]
        for key, build, inputs in (
                ("window_mlp", lambda: build_window_mlp(window=args.window), windows),
                ("series_rnn", lambda: build_sequence_predictor(sequence_length=args.window, name="series_rnn"),
                 windows[..., None])):
            with run.strategy.scope():
                model = build()
                model.compile(optimizer="adam", loss="mse")
            run.fit(model, inputs[:split], targets[:split], validation_split=0.1, epochs=args.epochs,
                    batch_size=args.batch_size, history_name=f"history_{key}.csv", curves_name=None)
            rows.append(dict(model=key, parameters=model.count_params(),
                             test_mse=float(model.evaluate(inputs[split:], targets[split:], verbose=0))))
        run.save_csv(rows, "sliding_window_vs_rnn.csv")
        for row in rows:
            metrics[f"test_mse_{row['model']}"] = row["test_mse"]
            print(f"  {row['model']:12s} test MSE {row['test_mse']:.4f}  ({row['parameters']} parameters)")
        run.finish(metrics=metrics)


def gradient_rows(curves, sweep):
    """One row per time step: the Keras cells' ‖∂L/∂h_t‖ (and ‖∂L/∂C_t‖) and the NumPy sweep's."""
    steps = len(curves["rnn"]["hidden"])
    return [dict(t=t + 1, **{key: curve["hidden"][t] for key, curve in curves.items()},
                 **{f"{key}_cell": curve["cell"][t] for key, curve in curves.items() if curve["cell"] is not None},
                 **{f"numpy_radius_{radius}": result["hidden"][t] for radius, result in sweep.items()})
            for t in range(steps)]


def plot_gradient_norms(curves, sweep, forget_bias):
    figure, (left, right) = artifacts.new_figure(1, 2, width=11)
    labels = {"rnn": "SimpleRNN", "lstm": "LSTM, Keras init (b_f = 1)",
              "lstm_open_gate": f"LSTM, open forget gate (b_f = {forget_bias:g})"}
    for key, curve in curves.items():
        left.semilogy(np.arange(1, len(curve["hidden"]) + 1), curve["hidden"], label=labels[key])
    left.set_title("long-dependency task: ‖∂L/∂h_t‖ (loss at the last step)")
    for radius, result in sweep.items():
        right.semilogy(np.arange(1, len(result["hidden"]) + 1), result["hidden"], label=f"ρ(W_hh) = {radius:g}")
    right.set_title("NumPy tanh RNN: vanishing (ρ < 1) and exploding (ρ > 1)")
    for axis in (left, right):
        axis.set_xlabel("time step t")
        axis.set_ylabel("‖∂L/∂h_t‖")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return figure


def plot_clipping(records, threshold):
    figure, (left, right) = artifacts.new_figure(1, 2, width=11)
    for name, record in records.items():
        steps = np.arange(1, len(record["loss"]) + 1)
        left.semilogy(steps, record["gradient_norm"], marker="o", label=name)
        right.semilogy(steps, record["loss"], marker="o", label=name)
    left.axhline(threshold, color="gray", linestyle="--", label=f"θ = {threshold:g}")
    left.set_title("global gradient norm before clipping")
    right.set_title("training loss (missing points: inf / NaN)")
    for axis in (left, right):
        axis.set_xlabel("SGD step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return figure


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
