"""Lab 20 — RNN input/output modes: one-to-many, tagging, encoder-decoder (Unit III, "RNN Architectures"; 003 §6.2).

The notes list five input/output configurations (000 L1254-L1270, "RNN Architectures"; 001 Q3; 003
§6.2 "RNN Operating Modes"): one-to-one, one-to-many, many-to-one, many-to-many of the same length and
many-to-many of different lengths. Lab 12 trains many-to-one classifiers; this lab builds, trains and
saves the other three recurrent ones on small tasks generated on the fly (``dlcourse.data.sequence_modes``,
seeded by ``--seed``; no download), each with a softmax at every output step:

    one-to-many      a start digit and a step (one input vector, 13 features) -> the 8 digits
                     (start + step·t) mod 10: Dense -> RepeatVector -> LSTM -> Dense per step
    tagger           many-to-many, synchronous: 4 to 16 tokens, zero-padded to 16, one tag per token
                     (first / up / down against the previous token): Embedding -> GRU(return_sequences=True)
                     -> Dense per step; per-step weights 0 at the padding leave the padded steps out
                     of the loss (averaged over the weights) and of the accuracy (weighted_metrics)
    encoder-decoder  8 digits -> the 4 digits at even positions (input and output lengths differ):
                     Embedding -> LSTM encoder (context vector) -> RepeatVector -> LSTM decoder -> Dense

The notes give no code, task or sizes for these modes; the examples they name (image captioning,
named-entity recognition, machine translation) need data the course does not ship, so the tasks are
synthetic with the same shapes. The padding is masked by sample weights rather than by
``Embedding(mask_zero=True)``: Keras 3.10-3.15 store that mask as a ``NotEqual`` operation their
``.h5`` loader cannot rebuild, and Keras 3.10's metrics ignore it (the builder's ``mask_zero=True``
gives the same loss; the tests compare them). 001 Q3 files both many-to-many configurations under one item ("Two inputs
yield three outputs"); this lab keeps the synchronous and the encoder-decoder forms apart as 000
and 003 do (docs/SOURCES.md, erratum B52). Parameter counts are derived in the builders' docstrings
(``dlcourse/models/recurrent_modes.py``) with ``dlcourse/scratch/cells.py``'s formulas: 34,570,
5,219 and 54,570 with the default sizes.

What to observe:
- modes.png: where the time axis appears and disappears. One-to-many creates it (RepeatVector:
  (batch, 64) -> (batch, T=8, 64)); the tagger keeps it from input to output, (batch, T, ·) with
  T free; the encoder-decoder removes it (the encoder's last state, the context vector (batch, 64))
  and creates a new one of another length, (batch, T=4, 64);
- the tagger's loss and accuracy count only the real tokens: the padded steps (about 37% of the
  steps here) weigh 0, so other labels or predictions there change neither number (the tests check
  this against a manual computation over the real tokens);
- the encoder-decoder must squeeze 8 digits into one context vector before writing any output: it
  learns last, and its middle output steps are the least accurate (the first digit read and the last
  are the easiest); lab 21 lets the decoder look back at every input step (attention).

Reference (measured once, ``dlcourse run 20``: 10,000 generated training sequences per task, 15
epochs, 222 s of training on 2 shared CPU cores): per-step test accuracy one-to-many 1.000 (validation
accuracy 1.000 after the first epoch), tagger 1.000, encoder-decoder 0.986 (whole 4-digit outputs right 0.944;
per output step on the grader's draw 1.000, 0.986, 0.972, 0.997).

Outputs (in <out>/20_rnn_modes/): one_to_many.h5, tagger.h5, encoder_decoder.h5, modes.png (one
panel per model: the tensor shape after each layer), modes.csv (layer, output shape, parameters of
each model), history_<mode>.csv, learning_curves_<mode>.png, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, training
from dlcourse.arguments import positive_int
from dlcourse.data import sequence_modes
from dlcourse.errors import report_user_errors
from dlcourse.models.recurrent_modes import (build_encoder_decoder, build_one_to_many, build_sequence_tagger,
                                             masked_loss)

MODES = {  # key (also the sequence_modes task): saved file, builder, panel title
    "one_to_many": ("one_to_many.h5", build_one_to_many, "one-to-many"),
    "tagger": ("tagger.h5", build_sequence_tagger, "many-to-many, synchronous (masked)"),
    "encoder_decoder": ("encoder_decoder.h5", build_encoder_decoder, "many-to-many, encoder-decoder"),
}
SEQUENCE_COLOUR, VECTOR_COLOUR = "#dce8f7", "#f7e6cc"  # boxes: a time axis, one vector per example
SMOKE_UNITS = 8  # at most this many units in a --smoke run
TEST_SAMPLES = 1000


def make_data(args, task):
    """Training and test splits ``(x, y, weights)`` of one generated task (weights 0 at the tagger's
    padding, 1 elsewhere); the test draw uses seed + 1, the grader's its own seed."""
    train_count = training.SMOKE_TRAIN_SAMPLES if args.smoke else args.train_samples
    test_count = training.SMOKE_TEST_SAMPLES if args.smoke else TEST_SAMPLES
    splits = []
    for count, seed in ((train_count, args.seed), (test_count, args.seed + 1)):
        x, y, mask = sequence_modes.generate(task, count, seed=seed)
        splits.append((x, y, mask.astype("float32")))
    return splits


def train_mode(run, args, key, train, test):
    """Build, train, evaluate and save one mode's model; returns it and its test numbers."""
    filename, build, _ = MODES[key]
    with run.strategy.scope():
        model = build(**({"units": args.units} if args.units else {}))
        # Per-step weights 0 at padding leave those steps out of the loss (averaged over the weights)
        # and, as weighted_metrics, out of the accuracy.
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=masked_loss(),
                      weighted_metrics=["accuracy"])
    validation = run.validation(*test[:2])
    if "validation_data" in validation:  # --validate-on test: the test draw, with its weights
        validation["validation_data"] = test
    x_train, y_train, weights_train = train
    run.fit(model, x_train, y_train, sample_weight=weights_train, **validation, epochs=args.epochs,
            batch_size=args.batch_size, history_name=f"history_{key}.csv", curves_name=f"learning_curves_{key}.png")
    x_test, y_test, weights_test = test
    probabilities = model.predict(x_test, verbose=0)  # the numbers evaluate() gives, from one pass
    test_loss = float(masked_loss()(y_test, probabilities, sample_weight=weights_test))
    test_accuracy = sequence_modes.masked_step_accuracy(y_test, probabilities, weights_test > 0)
    whole = np.all((probabilities.argmax(axis=-1) == y_test) | (weights_test == 0), axis=1).mean()
    print(f"  {key:16s} per-step test accuracy {test_accuracy:.4f}, whole sequences {whole:.4f}")
    run.save_model(model, filename)
    return model, dict(test_loss=float(test_loss), test_accuracy=float(test_accuracy),
                       test_sequence_accuracy=float(whole))


def shape_text(tensor):
    """A layer's output shape with its axes named: ``(batch, T=8, 64)``, ``(batch, T)``, ``(batch, 64)``.
    The time axis is axis 1 of a 3-d tensor or of an integer token sequence."""
    shape = tuple(tensor.shape)
    timed = len(shape) == 3 or (len(shape) == 2 and "int" in str(tensor.dtype))
    names = ["batch"] + [("T" if size is None else f"T={size}") if axis == 1 and timed else str(size)
                         for axis, size in enumerate(shape) if axis]
    return "(" + ", ".join(names) + ")"


def layer_rows(key, model):
    """One modes.csv row per layer of ``model``: its class, output shape and parameters."""
    return [dict(mode=key, layer=layer.name, kind=type(layer).__name__,
                 output_shape=shape_text(layer.output), parameters=layer.count_params())
            for layer in model.layers]


def plot_modes(rows_by_mode):
    """modes.png: one panel per model, a box per layer with the shape it outputs."""
    figure, axes = artifacts.new_figure(1, len(rows_by_mode), width=4.2 * len(rows_by_mode), height=4.6)
    for axis, (key, rows) in zip(np.atleast_1d(axes), rows_by_mode.items()):
        axis.set_axis_off()
        axis.set_xlim(0, 1)
        axis.set_ylim(-0.5, len(rows) - 0.5)
        total = sum(row["parameters"] for row in rows)
        axis.set_title(f"{MODES[key][2]}\n{total:,} parameters", fontsize=10)
        for index, row in enumerate(rows):
            height = len(rows) - 1 - index  # the input at the top
            label = f"{row['kind']}  {row['output_shape']}"
            if row["parameters"]:
                label += f"\n{row['parameters']:,} parameters"
            colour = SEQUENCE_COLOUR if "T" in row["output_shape"] else VECTOR_COLOUR
            axis.text(0.5, height, label, ha="center", va="center", fontsize=8.5,
                      bbox=dict(boxstyle="round", facecolor=colour))
            if index:
                axis.annotate("", xy=(0.5, height + 0.28), xytext=(0.5, height + 0.72),
                              arrowprops=dict(arrowstyle="->", color="grey"))
    figure.suptitle("blue: a sequence (time axis T); orange: one vector per example", fontsize=9)
    return figure


def main(argv=None):
    parser = training.lab_parser("20", epochs=15, batch_size=64, learning_rate=(3e-3, "Adam"),
                                 validation_split=0.1)
    parser.add_argument("--units", type=positive_int, default=None,
                        help="recurrent units of every model (default: the builders', 64 / 32 / 64)")
    parser.add_argument("--train-samples", type=positive_int, default=10000,
                        help="generated training sequences per task (default %(default)s; test: 1000)")
    args = training.parse_lab_args(parser, argv)
    if args.smoke:
        args.units = min(args.units or SMOKE_UNITS, SMOKE_UNITS)

    with training.LabRun("20", args) as run:
        results, rows_by_mode = {}, {}
        for key in MODES:
            train, test = make_data(args, key)
            model, results[key] = train_mode(run, args, key, train, test)
            rows_by_mode[key] = layer_rows(key, model)
        run.save_figure(plot_modes(rows_by_mode), "modes.png")
        run.save_csv([row for rows in rows_by_mode.values() for row in rows], "modes.csv")
        metrics = {f"{name}_{key}": value for key, numbers in results.items() for name, value in numbers.items()}
        run.finish(metrics=metrics, parameters_by_mode={key: sum(row["parameters"] for row in rows)
                                                         for key, rows in rows_by_mode.items()})


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
