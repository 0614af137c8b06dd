"""Lab 21 — sequence to sequence, without and with attention (Unit III; 003 §11.1 and Practical Exercises 03, Ex. 7.4).

The handbook's neural machine translation (003 §11.1, 003 L1234): "an LSTM/GRU encodes source
sentence into vector representation (thought vector), then a second LSTM/GRU decodes this
representation to generate target sentence. Addition of attention mechanisms greatly improved
performance"; its Ex. 7.4 (003 L1830) asks how attention improves that basic architecture. This lab
measures it on a task generated on the fly (``dlcourse/data/translation.py``, nothing downloaded):
reverse a string of 1 to 16 digits (``--task sort``: sort it), e.g. "31415" -> "51413". Two GRU
encoder-decoders (``dlcourse/models/seq2seq.py``), trained alike:

    plain      the encoder's final state initialises the decoder: one 64-d vector carries the input
    attention  the same, plus Bahdanau's additive attention (Keras' ``AdditiveAttention`` on
               W_q s_t and W_k h_j; ``--attention dot``: Luong's dot score, Keras' ``Attention``): at
               every output step a softmax over the encoder steps, context c_t = Σ_j a_tj h_j

Training uses teacher forcing: the decoder reads START and the true answer shifted by one step, and
the loss is the cross-entropy of the next token on the answer's steps (PAD steps weigh 0). Testing
decodes greedily: the decoder starts from START and reads back its own most probable token
(``dlcourse/sequence_decoding.py``), and an answer counts only if every token and the END are right
(exact-sequence accuracy; per-token accuracy beside it). Where it departs from the notes: they give no
model, task or sizes; the attention is Luong et al.'s "global" form (the context joins the decoder's
output before the softmax, it does not feed the decoder's next step as in Bahdanau et al.).

What to observe: both models learn short strings; the plain model's exact-sequence accuracy falls as
the inputs grow longer (the fixed-size "thought vector" is a bottleneck), while the attention model
holds up to the longest inputs. Its attention matrix is an anti-diagonal for reversal: output step t
looks at input step L + 1 - t, an alignment it learned without being told.

Reference (measured on 2 shared CPU cores with the defaults: 8,000 training strings of 1-16 digits,
8 epochs, 64 units; 3 to 4.5 minutes of training, 4.4 to 5.6 in all, as the load varied; two runs gave
the same numbers): exact-sequence accuracy on the 1,000 test
strings 0.486 plain, 0.997 attention; per-token 0.668 and 0.999. By length the plain model is exact
up to 4 digits, 0.63 at 8, 0.15 at 10 and 0 from 14 on; the attention model stays at 1.0 up to 15
digits and 0.96 at 16 (0.0074 against 0.989 on the longest quarter, 13-16 digits). ``dlcourse check``
on the grader's 1,000 strings (another seed): 0.995 exact, 0.999 per-token with attention; 0.673
per-token plain.

Outputs (in <out>/21_seq2seq_attention/): seq2seq_plain.h5, seq2seq_attention.h5, attention_matrix.png,
accuracy_by_length.png, accuracy_by_length.csv, comparison.csv, examples.txt, history_<model>.csv,
learning_curves_<model>.png, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, sequence_decoding, training
from dlcourse.arguments import positive_int
from dlcourse.data import translation
from dlcourse.errors import UserError, report_user_errors
from dlcourse.models.recurrent_modes import padding_weights
from dlcourse.models.seq2seq import ATTENTION_KINDS, CELLS, attention_scores_model, build_seq2seq, build_seq2seq_attention

VARIANTS = ("plain", "attention")
SMOKE_SIZES = dict(train_samples=256, test_samples=128, embedding_dim=8, units=8)  # at most these with --smoke
LONG_QUARTER = 0.75  # "long inputs": the longest quarter of the length range
EXAMPLES = 3  # test strings in attention_matrix.png and examples.txt
COLUMNS = ("model", "parameters", "seconds_per_epoch", "test_sequence_accuracy", "test_token_accuracy",
           "test_sequence_accuracy_long")


def resolve_sizes(args):
    """Check the length range and cap the sizes of a smoke run."""
    if args.min_length > args.max_length:
        raise UserError(f"--min-length {args.min_length} is above --max-length {args.max_length}; "
                        "give a range with min <= max")
    if args.smoke:
        for key, value in SMOKE_SIZES.items():
            setattr(args, key, min(getattr(args, key), value))
    return args


def make_data(args):
    """The generated training and test pairs (seeded; the grader draws its own with another seed)."""
    options = dict(min_length=args.min_length, max_length=args.max_length, task=args.task, seed=args.seed)
    return (translation.make_pairs(args.train_samples, split="train", **options),
            translation.make_pairs(args.test_samples, split="test", **options))


def build_and_compile(run, args, variant):
    """The ``variant`` model, compiled for teacher forcing (next-token cross-entropy)."""
    sizes = dict(embedding_dim=args.embedding_dim, units=args.units, cell=args.cell)
    with run.strategy.scope():
        if variant == "plain":
            model = build_seq2seq(**sizes, name="seq2seq_plain")
        else:
            model = build_seq2seq_attention(**sizes, attention=args.attention, name="seq2seq_attention")
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="sparse_categorical_crossentropy",
                      weighted_metrics=["accuracy"])
    return model


def train_variant(run, args, variant, train, test):
    """Train with teacher forcing, decode the test strings greedily, save the model; returns the model,
    its comparison.csv row and its greedy test predictions."""
    model = build_and_compile(run, args, variant)
    history_name = f"history_{variant}.csv"
    weights = padding_weights(train.target, translation.PAD)  # PAD steps are not part of the answer
    history = run.fit(model, [train.encoder_input, train.decoder_input], train.target, sample_weight=weights,
                      validation_split=args.validation_split, epochs=args.epochs, batch_size=args.batch_size,
                      history_name=history_name, curves_name=f"learning_curves_{variant}.png")
    predicted = sequence_decoding.greedy_decode(model, test.encoder_input, test.target.shape[1])
    long = test.lengths >= args.min_length + LONG_QUARTER * (args.max_length - args.min_length)
    row = dict(model=variant, parameters=model.count_params(),
               seconds_per_epoch=round(run.fit_seconds[history_name] / max(len(history.epoch), 1), 3),
               test_sequence_accuracy=round(sequence_decoding.sequence_accuracy(predicted, test.target), 4),
               test_token_accuracy=round(sequence_decoding.token_accuracy(predicted, test.target), 4),
               test_sequence_accuracy_long=round(sequence_decoding.sequence_accuracy(predicted[long], test.target[long]), 4))
    print(f"  {variant:9s} exact {row['test_sequence_accuracy']:.4f}  per-token {row['test_token_accuracy']:.4f}  "
          f"long inputs {row['test_sequence_accuracy_long']:.4f}  ({row['seconds_per_epoch']:.1f} s/epoch)")
    run.save_model(model, f"seq2seq_{variant}.h5")
    return model, row, predicted


def by_length_rows(test, predictions):
    """accuracy_by_length.csv: per input length, both accuracies of both models."""
    tables = {variant: sequence_decoding.accuracy_by_length(predicted, test.target, test.lengths)
              for variant, predicted in predictions.items()}
    rows = []
    for length in sorted(tables[VARIANTS[0]]):
        row = dict(length=length, count=tables[VARIANTS[0]][length][2])
        for variant in VARIANTS:
            row[f"sequence_accuracy_{variant}"] = round(tables[variant][length][0], 4)
            row[f"token_accuracy_{variant}"] = round(tables[variant][length][1], 4)
        rows.append(row)
    return rows


def plot_accuracy_by_length(rows):
    figure, axes = artifacts.new_figure(1, 2, width=10, height=3.8)
    lengths = [row["length"] for row in rows]
    for axis, quantity, title in ((axes[0], "sequence", "exact-sequence accuracy"), (axes[1], "token", "per-token accuracy")):
        for variant in VARIANTS:
            axis.plot(lengths, [row[f"{quantity}_accuracy_{variant}"] for row in rows], marker="o", label=variant)
        axis.set_xlabel("input length (digits)")
        axis.set_ylabel(title)
        axis.set_ylim(-0.02, 1.02)
        axis.set_title(f"{title}, greedy decoding")
        axis.legend()
    return figure


def example_indexes(test, count=EXAMPLES):
    """Test strings for the pictures: the longest, one of the middle length and a short one."""
    order = np.argsort(-test.lengths, kind="stable")
    return [int(order[round(position * (len(order) - 1))]) for position in np.linspace(0, 0.9, count)]


def plot_attention(model, test, predicted, indexes):
    """The attention weights a_tj of the decoder's steps (rows, its greedy output) over the input (columns)."""
    decoder = translation.teacher_forcing_inputs(predicted[indexes])  # what the decoder read while decoding
    all_weights = np.asarray(attention_scores_model(model).predict([test.encoder_input[indexes], decoder], verbose=0))
    figure, axes = artifacts.new_figure(1, len(indexes), width=4.2 * len(indexes), height=4.2, squeeze=False)
    for axis, index, weights in zip(axes[0], indexes, all_weights):
        length, output = int(test.lengths[index]), predicted[index]
        steps = int(np.argmax(output == translation.END)) + 1 if (output == translation.END).any() else len(output)
        axis.imshow(weights[:steps, :length], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axis.set_xticks(range(length), list(translation.to_text(test.encoder_input[index])))
        axis.set_yticks(range(steps), [*translation.to_text(output), "END"][:steps])
        axis.set_xlabel("input digit")
        axis.set_ylabel("output token")
        axis.set_title(f"length {length}")
    return figure


def examples_text(test, predictions, indexes):
    lines = []
    for index in indexes:
        lines.append(f"input      {translation.to_text(test.encoder_input[index])}")
        lines.append(f"expected   {translation.to_text(test.target[index])}")
        lines.extend(f"{variant:10s} {translation.to_text(predictions[variant][index])}" for variant in VARIANTS)
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = training.lab_parser("21", epochs=8, batch_size=64, learning_rate=(3e-3, "Adam; chosen for 8 epochs"),
                                 validation_split=0.1)
    parser.add_argument("--task", choices=sorted(translation.TASKS), default="reverse")
    parser.add_argument("--min-length", type=positive_int, default=1, help="shortest input (digits)")
    parser.add_argument("--max-length", type=positive_int, default=16, help="longest input (digits)")
    parser.add_argument("--train-samples", type=positive_int, default=8000)
    parser.add_argument("--test-samples", type=positive_int, default=1000)
    parser.add_argument("--cell", choices=sorted(CELLS), default="gru")
    parser.add_argument("--attention", choices=ATTENTION_KINDS, default="additive",
                        help="additive (Bahdanau, AdditiveAttention) or dot (Luong, Attention)")
    parser.add_argument("--embedding-dim", type=positive_int, default=32)
    parser.add_argument("--units", type=positive_int, default=64)
    args = resolve_sizes(training.parse_lab_args(parser, argv))

    with training.LabRun("21", args) as run:
        train, test = make_data(args)
        print(f"  {len(train.target)} training and {len(test.target)} test strings of {args.min_length}-"
              f"{args.max_length} digits, task {args.task}")
        results = {variant: train_variant(run, args, variant, train, test) for variant in VARIANTS}
        predictions = {variant: predicted for variant, (_, _, predicted) in results.items()}
        rows = [row for _, row, _ in results.values()]
        run.save_csv(rows, "comparison.csv", fieldnames=COLUMNS)
        length_rows = by_length_rows(test, predictions)
        run.save_csv(length_rows, "accuracy_by_length.csv")
        run.save_figure(plot_accuracy_by_length(length_rows), "accuracy_by_length.png")
        indexes = example_indexes(test)
        run.save_figure(plot_attention(results["attention"][0], test, predictions["attention"], indexes),
                        "attention_matrix.png")
        run.save_text(examples_text(test, predictions, indexes), "examples.txt")
        metrics = {}
        for row in rows:
            for quantity in ("test_sequence_accuracy", "test_token_accuracy", "test_sequence_accuracy_long"):
                metrics[f"{quantity}_{row['model']}"] = row[quantity]
        run.finish(metrics=metrics, model=results["attention"][0], comparison=rows, task=args.task,
                   lengths=[args.min_length, args.max_length])


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
