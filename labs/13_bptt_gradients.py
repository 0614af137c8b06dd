"""Lab 13 — backpropagation through time, vanishing and exploding gradients, gradient clipping (Unit III; 003 ch. 3).

From Unit III, "Back propagation through time", "Vanishing Gradient problem", "Exploding Gradient
problem", "Gradient clipping", "LSTM" and "GRU" (000 L1330-L1507), and the handbook 003 §3.3.3,
§3.5.5-§3.5.7, §3.9-§3.10 and Practical Exercises 03. Seven steps, each checked against an independent
computation:
1. BPTT by hand: the NumPy RNN of ``dlcourse/scratch/rnn.py`` (h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h))
   computes its gradients by BPTT; they must equal ``tf.GradientTape``'s (float64) for a loss on the
   last step and for the notes' L = Σ_t L_t. The NumPy LSTM and GRU cells must reproduce Keras' layers,
   and the NumPy peephole LSTM the package's ``PeepholeLSTMCell`` (001 Q4, "Peephole Connections":
   the gates also see the cell state; docs/SOURCES.md, erratum B60).
2. Parameter counts: RNN d_h(d_x + d_h + 1), LSTM four times that (3·d_h(d_x + d_h + 1) more, the
   answer of Practical Exercises 03, Ex. 2, which 003 does not give: docs/SOURCES.md, erratum B29),
   peephole LSTM 3·d_h more than the LSTM, GRU three times (plus 3·d_h for Keras' reset_after).
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
7. Truncated BPTT and the notes' own scheme, with the NumPy RNN (16 units) on next-value sequences
   of the same series (T = 20, a loss at every step): for k = 1..T, how much of the full gradient of
   L = Σ_t L_t truncated BPTT keeps (‖g_k − g‖ / ‖g‖, g_k·g / ‖g‖²) for ρ(W_hh) = 0.5, 0.9, 1.5; then
   SGD (η = 0.01, ``--epochs``) with full BPTT, truncated BPTT (``--truncate`` k, default 5) and
   per-step updates (the weights updated after every time step, as the notes' example does).

Where it departs from the notes (docs/SOURCES.md, errata A29, A31, A32, A52): their BPTT example
(000 L1360-L1374) updates the weights after every time step; BPTT here unrolls the sequence, sums the
losses and takes one gradient, and step 7 runs the notes' scheme beside it (``bptt_schemes.csv``):
with η = 0 its T gradients add up to BPTT's, with η > 0 they do not. The notes list truncated BPTT
as a remedy for vanishing gradients (000 L1344); it only drops the part of the gradient older than k
steps (cheaper, and blind to longer dependencies). Clipping is listed in the notes as a cure for
vanishing gradients; it only bounds large ones (step 4). Keras' ``clipnorm`` clips each variable's
gradient separately; ``global_clipnorm`` (= ``tf.clip_by_global_norm``) clips them together and
keeps the update's direction: that is the usual meaning and what lab 13 recommends.

What to observe: the SimpleRNN's ‖∂L/∂h_t‖ falls by orders of magnitude going back in time; Keras'
default LSTM still loses it (f ≈ σ(1) = 0.73 per step), the open-gate LSTM keeps it (the cell state
is the "conveyor belt"). Spectral radius < 1 vanishes, > 1 explodes. Unclipped SGD on the large W_hh
reaches inf/NaN within a few steps; both clipped runs stay finite. Truncated BPTT's error falls
with k, fast for ρ = 0.5 and slowly for ρ = 1.5 (the long-range part it drops is what an exploding
RNN has most of), and is zero at k = T.

Reference for step 7 (defaults: 20 epochs, 2,000 values, seed 0): ‖g_k − g‖ / ‖g‖ at k = 5 is 0.002
(ρ = 0.5), 0.031 (ρ = 0.9) and 0.14 (ρ = 1.5), at k = 1 0.11, 0.19 and 0.35; SGD test MSE 0.031 with
full BPTT, 0.034 truncated (k = 5) and 0.029 with per-step updates, which take 20 times as many steps
(2,000 against 100) and whose first batch moves the weights 56% away from BPTT's update.

Outputs (in <out>/13_bptt_gradients/): gradient_norms.png, gradient_norms.csv, exploding.csv,
clipping.csv, exploding_gradients.png, parameter_counts.csv, oracle_checks.json,
sliding_window_vs_rnn.csv, history_window_mlp.csv, history_series_rnn.csv, truncated_bptt.csv,
bptt_schemes.csv, truncated_bptt.png, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, gradients, training
from dlcourse.arguments import positive_float, positive_int
from dlcourse.errors import report_user_errors
from dlcourse.layers.recurrent import peephole_oracle_error
from dlcourse.models.recurrent import build_sequence_predictor, build_window_mlp
from dlcourse.scratch import cells, rnn

# (d_x, d_h); (10, 20) puts numbers on 003's Practical Exercises 03, Ex. 2.3 (003 L1804), which gives
# none: RNN 620, LSTM 2,480 (1,860 more)
PARAMETER_SIZES = ((1, 1), (10, 20), (128, 64))
SPECTRAL_RADII = (0.5, 0.9, 1.0, 1.5, 3.0)
EXPLODING_GAIN = 1.5  # spectral radius of W_hh of the ReLU SimpleRNN in the clipping experiment
CLIPPING_SEQUENCES, CLIPPING_LENGTH, CLIPPING_BATCH = 256, 40, 32  # the clipping experiment's data and SGD batch
CLIPPING_RUNS = 3  # gradients.compare_clipping trains without clipping, with clipnorm and with global_clipnorm
TOLERANCE = 1e-6
BPTT_STEPS, BPTT_UNITS, BPTT_BATCH = 20, 16, 16  # step 7: T of the NumPy RNN's sequences, d_h, SGD batch
BPTT_SGD_RATE = 0.01  # the same η for the three schemes (BPTT's summed gradient diverges from about 0.05)
TRUNCATION_RADII = (0.5, 0.9, 1.5)  # spectral radii of W_hh in the truncation table
SMOKE_SIZES = dict(sequence_length=30, units=8, clipping_steps=8, series_length=300)  # at most these with --smoke


def check_oracles(run):
    """Steps 1, 2 and 5: BPTT and the NumPy cells against TensorFlow, the parameter counts, the notes'
    clipping example (oracle_checks.json, parameter_counts.csv)."""
    checks = {"bptt_relative_error": {loss_on: gradients.bptt_oracle_error(loss_on=loss_on)
                                      for loss_on in ("last", "all")},
              "cells_max_abs_error": gradients.cells_oracle_errors(),
              "peephole_max_abs_error": peephole_oracle_error(),
              "clip_example": {"g": [3.0, 4.0], "threshold": 1.0,
                               "clipped": gradients.clip_by_norm([3.0, 4.0], 1.0).tolist()}}
    run.save_json(checks, "oracle_checks.json")
    metrics = {"max_relative_error_bptt": max(checks["bptt_relative_error"].values()),
               "max_abs_error_cells": max(checks["cells_max_abs_error"].values()),
               "max_abs_error_peephole": checks["peephole_max_abs_error"]}
    metrics["oracles_agree"] = bool(metrics["max_relative_error_bptt"] <= TOLERANCE
                                    and metrics["max_abs_error_cells"] <= TOLERANCE
                                    and metrics["max_abs_error_peephole"] <= TOLERANCE)
    print(f"  BPTT vs GradientTape: max relative error {metrics['max_relative_error_bptt']:.1e}; "
          f"NumPy LSTM/GRU vs Keras: {metrics['max_abs_error_cells']:.1e}; "
          f"NumPy peephole LSTM vs PeepholeLSTMCell: {metrics['max_abs_error_peephole']:.1e}")
    print(f"  clip (3, 4) at θ = 1 -> {checks['clip_example']['clipped']}")
    run.save_csv(cells.parameter_count_table(PARAMETER_SIZES), "parameter_counts.csv")
    return metrics


def gradient_rows(curves, sweep):
    """One row per time step: the Keras cells' ‖∂L/∂h_t‖ (and ‖∂L/∂C_t‖) and the NumPy sweep's."""
    rows = []
    for t in range(len(curves["rnn"]["hidden"])):
        row = {"t": t + 1}
        row.update({key: curve["hidden"][t] for key, curve in curves.items()})
        row.update({f"{key}_cell": curve["cell"][t] for key, curve in curves.items() if curve["cell"] is not None})
        row.update({f"numpy_radius_{radius}": result["hidden"][t] for radius, result in sweep.items()})
        rows.append(row)
    return rows


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


def vanishing_gradients(run, args):
    """Step 3: ‖∂L/∂h_t‖ of three Keras cells on the long-dependency task and of the NumPy RNN by
    spectral radius (gradient_norms.csv, gradient_norms.png); returns ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ per cell."""
    x, y = gradients.long_dependency_task(64, args.sequence_length, seed=args.seed)
    head = keras.layers.Dense(1)  # one read-out shared by the three cells
    open_gate = gradients.set_forget_bias(keras.layers.LSTMCell(args.units), args.forget_bias, input_dim=1)
    keras_cells = (("rnn", keras.layers.SimpleRNNCell(args.units)), ("lstm", keras.layers.LSTMCell(args.units)),
                   ("lstm_open_gate", open_gate))
    curves = {key: gradients.hidden_state_gradient_norms(cell, head, x, y) for key, cell in keras_cells}
    sweep = rnn.radius_sweep(SPECTRAL_RADII, steps=args.sequence_length, seed=args.seed)
    run.save_csv(gradient_rows(curves, sweep), "gradient_norms.csv")
    run.save_figure(plot_gradient_norms(curves, sweep, args.forget_bias), "gradient_norms.png")
    metrics = {}
    for key, curve in curves.items():
        metrics[f"gradient_ratio_{key}"] = float(curve["hidden"][0] / curve["hidden"][-1])
        print(f"  {key:15s} ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = {metrics[f'gradient_ratio_{key}']:.2e}")
    return metrics


def build_exploding_rnn():
    return build_sequence_predictor(cell="rnn", sequence_length=CLIPPING_LENGTH, units=16, activation="relu",
                                    recurrent_scale=EXPLODING_GAIN, name="exploding_rnn")


def clipping_rows(records, steps):
    """One row per SGD step: each run's loss and (unclipped) global gradient norm."""
    rows = []
    for step in range(steps):
        row = {"step": step + 1}
        for name, record in records.items():
            row.update({f"{name}_{key}": record[key][step] for key in ("loss", "gradient_norm")})
        rows.append(row)
    return rows


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


def exploding_gradients(run, args):
    """Step 4: the gradient norm by spectral radius (exploding.csv), then SGD on a ReLU RNN with a large
    W_hh without and with clipping (clipping.csv, exploding_gradients.png); returns each run's final loss."""
    run.save_csv([dict(spectral_radius=radius, gradient_norm=result["gradient_norm"],
                       clip_factor=min(1.0, args.clip_threshold / result["gradient_norm"]))
                  for radius, result in rnn.radius_sweep(SPECTRAL_RADII, seed=args.seed).items()],
                 "exploding.csv")
    x, _ = gradients.long_dependency_task(CLIPPING_SEQUENCES, CLIPPING_LENGTH, seed=args.seed)
    target = x[:, :5, 0].sum(axis=1, keepdims=True)  # the sum of the first five inputs
    with run.timed(samples=CLIPPING_RUNS * args.clipping_steps * CLIPPING_BATCH):  # SGD steps outside fit
        records = gradients.compare_clipping(build_exploding_rnn, x, target, threshold=args.clip_threshold,
                                             steps=args.clipping_steps, batch_size=CLIPPING_BATCH, seed=args.seed)
    run.save_csv(clipping_rows(records, args.clipping_steps), "clipping.csv")
    run.save_figure(plot_clipping(records, args.clip_threshold), "exploding_gradients.png")
    metrics = {}
    for name, record in records.items():
        metrics[f"final_loss_{name}"] = record["loss"][-1]
        print(f"  SGD {name:16s} final loss {record['loss'][-1]:.4g}, "
              f"largest gradient norm {np.nanmax(record['gradient_norm']):.3g}")
    return metrics


def train_series_model(run, args, key, build, inputs, targets, split):
    """Fit ``build()`` on the first 80% of the windows (history_<key>.csv); returns its row of the table."""
    with run.strategy.scope():
        model = build()
        model.compile(optimizer="adam", loss="mse")
    run.fit(model, inputs[:split], targets[:split], validation_split=0.1, epochs=args.epochs,
            batch_size=args.batch_size, history_name=f"history_{key}.csv", curves_name=None)
    return dict(model=key, parameters=model.count_params(),
                test_mse=float(model.evaluate(inputs[split:], targets[split:], verbose=0)))


def sliding_window(run, args):
    """Step 6: "repeat the last value", the handbook's sliding-window MLP and an RNN on the same
    windows of a sine + noise series (sliding_window_vs_rnn.csv); returns their test MSE."""
    series = rnn.sine_series(args.series_length, seed=args.seed)
    windows, targets = rnn.sliding_windows(series, args.window)
    split = int(0.8 * len(windows))
    rows = [dict(model="last_value", parameters=0,
                 test_mse=float(np.mean((windows[split:, -1] - targets[split:]) ** 2)))]
    rows.append(train_series_model(run, args, "window_mlp", lambda: build_window_mlp(window=args.window),
                                   windows, targets, split))
    rows.append(train_series_model(run, args, "series_rnn",
                                   lambda: build_sequence_predictor(sequence_length=args.window, name="series_rnn"),
                                   windows[..., None], targets, split))
    run.save_csv(rows, "sliding_window_vs_rnn.csv")
    metrics = {}
    for row in rows:
        metrics[f"test_mse_{row['model']}"] = row["test_mse"]
        print(f"  {row['model']:12s} test MSE {row['test_mse']:.4f}  ({row['parameters']} parameters)")
    return metrics


def truncation_rows(inputs, targets, seed):
    """One row per k = 1..T: what truncated BPTT keeps of the full gradient, for each radius of W_hh."""
    tables = {}
    for radius in TRUNCATION_RADII:
        params = rnn.RNNParameters.initialize(1, BPTT_UNITS, 1, seed=seed, recurrent_scale=radius)
        tables[radius] = rnn.truncation_table(params, inputs, targets, range(1, inputs.shape[1] + 1))
    rows = []
    for index, k in enumerate(range(1, inputs.shape[1] + 1)):
        row = {"k": k}
        for radius, table in tables.items():
            row.update({f"{key}_radius_{radius}": table[index][key]
                        for key in ("relative_error", "fraction_kept", "cosine")})
        rows.append(row)
    return rows


def compare_schemes(args, train, test):
    """Full BPTT, truncated BPTT (k = --truncate) and the notes' per-step updates, same SGD rate and
    epochs, on the same NumPy RNN; returns their rows and per-epoch training MSE."""
    initial = rnn.RNNParameters.initialize(1, BPTT_UNITS, 1, seed=args.seed, recurrent_scale=0.9)
    first = (train[0][:BPTT_BATCH], train[1][:BPTT_BATCH])
    schemes = {"full_bptt": dict(scheme="bptt"), "truncated_bptt": dict(scheme="bptt", truncate=args.truncate),
               "per_step": dict(scheme="per_step")}
    # Δθ of each scheme on the first mini-batch (one epoch of one batch), against true BPTT's Δθ
    start = rnn.gradient_vector(initial.as_dict())
    updates = {key: start - rnn.gradient_vector(rnn.sgd_train(initial, *first, epochs=1, batch_size=BPTT_BATCH,
                                                              learning_rate=BPTT_SGD_RATE, **options)[0].as_dict())
               for key, options in schemes.items()}
    rows, curves = [], {}
    for key, options in schemes.items():
        params, record = rnn.sgd_train(initial, *train, epochs=args.epochs, batch_size=BPTT_BATCH,
                                       learning_rate=BPTT_SGD_RATE, seed=args.seed, **options)
        curves[key] = record["mse"]
        difference = np.linalg.norm(updates[key] - updates["full_bptt"]) / np.linalg.norm(updates["full_bptt"])
        rows.append(dict(scheme=key, truncate=options.get("truncate", ""), updates=record["updates"],
                         train_mse=record["mse"][-1], test_mse=rnn.sequence_mse(params, *test),
                         first_update_difference=float(difference)))
    return rows, curves


def plot_bptt_variants(truncation, curves, truncate):
    figure, (left, right) = artifacts.new_figure(1, 2, width=11)
    ks = [row["k"] for row in truncation]
    for radius in TRUNCATION_RADII:
        errors = [row[f"relative_error_radius_{radius}"] or np.nan for row in truncation]  # k = T: exactly 0
        left.semilogy(ks, errors, marker="o", label=f"ρ(W_hh) = {radius:g}")
    left.axvline(truncate, color="gray", linestyle="--", label=f"k = {truncate} (--truncate)")
    left.set_title("truncated BPTT: ‖g_k − g‖ / ‖g‖ (L = Σ_t L_t)")
    left.set_xlabel("steps k each loss travels back")
    for key, mse in curves.items():
        right.semilogy(np.arange(1, len(mse) + 1), mse, marker="o", label=key)
    right.set_title(f"NumPy RNN, SGD η = {BPTT_SGD_RATE:g}: training MSE")
    right.set_xlabel("epoch")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return figure


def bptt_variants(run, args):
    """Step 7: truncated BPTT against full BPTT (truncated_bptt.csv) and the notes' per-step updates
    against both (bptt_schemes.csv, truncated_bptt.png), on next-value sequences of the sine series."""
    inputs, targets = rnn.next_value_sequences(rnn.sine_series(args.series_length, seed=args.seed), BPTT_STEPS)
    split = max(int(0.8 * len(inputs)), 1)
    train, test = (inputs[:split], targets[:split]), (inputs[split:], targets[split:])
    truncation = truncation_rows(train[0][:BPTT_BATCH], train[1][:BPTT_BATCH], args.seed)
    run.save_csv(truncation, "truncated_bptt.csv")
    with run.timed(samples=3 * args.epochs * split):  # NumPy SGD outside fit
        rows, curves = compare_schemes(args, train, test)
    run.save_csv(rows, "bptt_schemes.csv")
    run.save_figure(plot_bptt_variants(truncation, curves, args.truncate), "truncated_bptt.png")
    kept = truncation[min(args.truncate, BPTT_STEPS) - 1]
    metrics = {"relative_error_truncated_bptt": kept["relative_error_radius_0.9"],
               "update_difference_per_step": rows[-1]["first_update_difference"]}
    print(f"  truncated BPTT, k = {args.truncate}: relative gradient error "
          f"{metrics['relative_error_truncated_bptt']:.3g} (ρ = 0.9); per-step updates vs one BPTT update: "
          f"{metrics['update_difference_per_step']:.3g}")
    for row in rows:
        metrics[f"test_mse_{row['scheme']}"] = row["test_mse"]
        print(f"  {row['scheme']:15s} {row['updates']:5d} updates, train MSE {row['train_mse']:.4f}, "
              f"test MSE {row['test_mse']:.4f}")
    return metrics


def main(argv=None):
    parser = training.lab_parser("13", epochs=20, batch_size=32)
    parser.add_argument("--sequence-length", type=positive_int, default=100,
                        help="steps of the long-dependency task (default 100)")
    parser.add_argument("--units", type=positive_int, default=32)
    parser.add_argument("--forget-bias", type=float, default=3.0, help="forget-gate bias of the open-gate LSTM")
    parser.add_argument("--clip-threshold", type=positive_float, default=1.0, help="θ (default 1)")
    parser.add_argument("--clipping-steps", type=positive_int, default=30)
    parser.add_argument("--window", type=positive_int, default=20, help="sliding-window length")
    parser.add_argument("--series-length", type=positive_int, default=2000)
    parser.add_argument("--truncate", type=positive_int, default=5,
                        help="k of truncated BPTT in step 7 (default 5 of T = 20 steps)")
    args = training.parse_lab_args(parser, argv)
    if args.smoke:
        for name, size in SMOKE_SIZES.items():
            setattr(args, name, min(getattr(args, name), size))
    if args.series_length - args.window < 10:  # too few windows to split into training and test sets
        parser.error(f"argument --window: must be at least 10 less than the series length "
                     f"({args.series_length}{' with --smoke' if args.smoke else ''}), got {args.window}")

    if args.series_length <= 2 * BPTT_STEPS:  # step 7 needs two sequences of T + 1 values
        parser.error(f"argument --series-length: must be above {2 * BPTT_STEPS}, got {args.series_length}")

    with training.LabRun("13", args) as run:
        metrics = check_oracles(run)
        metrics.update(vanishing_gradients(run, args))
        metrics.update(exploding_gradients(run, args))
        metrics.update(sliding_window(run, args))
        metrics.update(bptt_variants(run, args))
        run.finish(metrics=metrics)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
