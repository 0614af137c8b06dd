"""Lab 12 — sentiment analysis with SimpleRNN, LSTM, GRU and bidirectional RNNs (Unit III; 003 ch. 3 §9-10).

From Unit III, "RNN Architectures" (many-to-one), "Variants of RNNs", "Bidirectional LSTMs" and
"Bidirectional RNNs", and the handbook 003, chapter 3, sections 9 (LSTM) and 10 (GRU). Trains six
many-to-one classifiers, Embedding -> recurrent layer -> sigmoid unit, on IMDB movie reviews
(``--dataset sample``: the embedded ``reviews``), with the same data, optimizer and epochs:

    rnn     SimpleRNN                          lstm    LSTM (3 gates + cell state)
    gru     GRU (2 gates, no cell state)       bilstm  bidirectional LSTM, directions summed
    birnn   bidirectional SimpleRNN, directions concatenated
    bigru   bidirectional GRU, directions concatenated

and, only when named (``--models peephole`` or with the others), the peephole LSTM of the Q&A sheet
(001 Q4, "Peephole Connections": the gates also see the cell state; ``dlcourse.layers.recurrent``
``PeepholeLSTMCell`` in a ``keras.layers.RNN``, the LSTM's parameters plus 3·units; the sheet gives
no equations, the cell follows Gers & Schmidhuber: docs/SOURCES.md, erratum B60; Keras has no such
layer, so it runs as a plain RNN loop without cuDNN and is slower).

The notes print no code, dataset or sizes for Unit III; sizes follow the keras.io "Bidirectional
LSTM on IMDB" example (20,000 words, 200 tokens, 128-d embedding, 64 units, Adam, batch 32, 2
epochs) with one recurrent layer (``--num-layers 2`` gives that example's stacked model). The notes'
BiLSTM formula p_t = p_tf + p_tb is ``merge_mode="sum"``; their BiRNN concatenates (docs/SOURCES.md,
erratum A36). Keras' GRU uses ``reset_after=True`` (3·64 more biases than the classic GRU) and writes
its update with z and 1 − z swapped relative to the notes (erratum A34; ``dlcourse/scratch/cells.py``
and lab 13 check both conventions).

What to observe:
- parameters: the embedding (2.56M) dominates; the recurrent parts are 12,352 (RNN), 49,408 (LSTM,
  exactly 4x), 37,248 (GRU, 3x plus Keras' 192 reset_after biases) and 49,600 (peephole LSTM,
  192 more), twice that when bidirectional (lab 13 derives the formulas);
- seconds per epoch usually grow with the gates (RNN < GRU <= LSTM < BiLSTM; the first epoch also
  pays for tracing, so tiny runs are noisy), while the GRU is close to the LSTM's accuracy (the
  notes' "fewer parameters, faster, comparable performance");
- the SimpleRNN lags on 200-token reviews (vanishing gradients, lab 13); the bidirectional models read
  the end of the review first as well.

Reference: keras.io's stacked bidirectional LSTM (``--models bilstm --num-layers 2`` is that model
with the directions summed, the notes' formula, instead of concatenated) reaches about 0.84
validation accuracy after 2 epochs on IMDB; up to about 0.89 is
reported for tuned LSTMs. On the embedded ``reviews`` (``--dataset sample --epochs 3``) the LSTM
reached 0.81, the GRU 0.83, the SimpleRNN 0.78 and the bidirectional GRU 0.75 test accuracy (the
peephole LSTM, ``--models peephole``, 0.83; on 500 test reviews a few points are within one run's
spread).

Outputs (in <out>/12_sentiment_rnn/): sentiment_rnn.h5, sentiment_lstm.h5, sentiment_gru.h5,
sentiment_bilstm.h5, sentiment_birnn.h5, sentiment_bigru.h5 (sentiment_peephole.h5 with
``--models peephole``), vocabulary.json (word index and encoding settings for
``dlcourse predict-text``), comparison.csv, history_<model>.csv, learning_curves_<model>.png, run.json.
Try: ``dlcourse predict-text saved_models/12_sentiment_rnn/sentiment_lstm.h5 "a wonderful film"``.
"""

import sys

import keras

from dlcourse import data, training
from dlcourse.arguments import positive_int
from dlcourse.errors import report_user_errors
from dlcourse.models.recurrent import DEFAULT_SENTIMENT_MODELS, SENTIMENT_VARIANTS, build_sentiment_model
from dlcourse.text_prediction import VOCABULARY_FILENAME, vocabulary_record

FULL_SIZE = dict(num_words=20000, sequence_length=200)  # keras.io's max_features and maxlen
SAMPLE_SIZE = dict(num_words=1000, sequence_length=64)  # the embedded reviews: 126 words, <= 58 tokens
# At most these in a --smoke run; 16 tokens (the last 16 of each review) keep six models' recurrent
# loops short enough to train eagerly (dlcourse.performance.EAGER_RECURRENT_STEPS: the lab's smoke
# run took 15-18 s instead of 24-26 s with 32 tokens traced).
SMOKE_SIZES = dict(embedding_dim=16, units=8, sequence_length=16)
COLUMNS = ("model", "cell", "bidirectional", "merge_mode", "parameters", "seconds_per_epoch",
           "test_accuracy", "test_loss")


def resolve_sizes(args):
    """Fill in ``--num-words`` / ``--sequence-length`` for the dataset and cap the sizes of a smoke run."""
    size = SAMPLE_SIZE if args.dataset == "sample" else FULL_SIZE
    args.num_words = args.num_words or size["num_words"]
    args.sequence_length = args.sequence_length or size["sequence_length"]
    if args.smoke:
        for name, size in SMOKE_SIZES.items():
            setattr(args, name, min(getattr(args, name), size))
    return args


def save_vocabulary(run, args):
    """vocabulary.json: the word index and encoding settings ``dlcourse predict-text`` needs."""
    vocabulary = vocabulary_record(data.word_index(run.dataset, data_dir=args.data_dir), dataset=run.dataset,
                                   num_words=args.num_words, sequence_length=args.sequence_length)
    run.save_json(vocabulary, VOCABULARY_FILENAME)


def train_variant(run, args, key, train, test):
    """Train, evaluate and save the ``key`` model of SENTIMENT_VARIANTS; returns its comparison.csv row and
    its unrounded test accuracy."""
    variant = SENTIMENT_VARIANTS[key]
    with run.strategy.scope():
        model = build_sentiment_model(**variant, num_layers=args.num_layers, vocab_size=args.num_words,
                                      sequence_length=args.sequence_length, name=f"sentiment_{key}",
                                      embedding_dim=args.embedding_dim, units=args.units)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="binary_crossentropy",
                      metrics=["accuracy"])
    history_name = f"history_{key}.csv"
    history = run.fit(model, *train, validation_split=args.validation_split, epochs=args.epochs,
                      batch_size=args.batch_size, history_name=history_name, curves_name=f"learning_curves_{key}.png")
    seconds_per_epoch = run.fit_seconds[history_name] / max(len(history.epoch), 1)
    test_loss, test_accuracy = model.evaluate(*test, verbose=0)
    print(f"  {key:7s} test accuracy {test_accuracy:.4f}  ({seconds_per_epoch:.1f} s/epoch)")
    run.save_model(model, f"sentiment_{key}.h5")
    bidirectional = variant.get("bidirectional", False)
    row = dict(model=key, cell=variant["cell"], bidirectional=bidirectional,
               merge_mode=variant.get("merge_mode", "") if bidirectional else "", parameters=model.count_params(),
               seconds_per_epoch=round(seconds_per_epoch, 3), test_accuracy=round(float(test_accuracy), 4),
               test_loss=round(float(test_loss), 4))
    return row, float(test_accuracy)


def format_table(rows):
    """The comparison as aligned text columns."""
    header = f"  {'model':8s}{'parameters':>12s}{'s/epoch':>10s}{'test acc':>10s}"
    lines = [header] + [f"  {row['model']:8s}{row['parameters']:>12,d}{row['seconds_per_epoch']:>10.2f}"
                        f"{row['test_accuracy']:>10.4f}" for row in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = training.lab_parser("12", epochs=2, batch_size=32, learning_rate=(1e-3, "Adam, as keras.io's example"),
                                 validation_split=0.2)
    parser.add_argument("--models", nargs="+", choices=list(SENTIMENT_VARIANTS),
                        default=list(DEFAULT_SENTIMENT_MODELS),
                        help="which models to train (default: all but peephole)")
    parser.add_argument("--num-words", type=positive_int, default=None,
                        help="vocabulary size, as imdb.load_data(num_words=...) (default 20000; sample 1000)")
    parser.add_argument("--sequence-length", type=positive_int, default=None,
                        help="tokens per review after padding/truncation (default 200; sample 64)")
    parser.add_argument("--embedding-dim", type=positive_int, default=128)
    parser.add_argument("--units", type=positive_int, default=64, help="units per direction")
    parser.add_argument("--num-layers", type=positive_int, default=1, help="stacked recurrent layers")
    args = resolve_sizes(training.parse_lab_args(parser, argv))

    with training.LabRun("12", args) as run:
        train, test = run.load_splits(num_words=args.num_words, sequence_length=args.sequence_length)
        print(f"  {len(train[0])} training and {len(test[0])} test reviews, {args.sequence_length} tokens, "
              f"{args.num_words} words")
        save_vocabulary(run, args)
        results = {key: train_variant(run, args, key, train, test) for key in args.models}
        rows = [row for row, _ in results.values()]
        run.save_csv(rows, "comparison.csv", fieldnames=COLUMNS)
        print(format_table(rows))
        run.finish(metrics={f"test_accuracy_{key}": accuracy for key, (_, accuracy) in results.items()},
                   comparison=rows, num_words=args.num_words, sequence_length=args.sequence_length)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
