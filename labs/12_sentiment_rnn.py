"""Lab 12 — sentiment analysis with SimpleRNN, LSTM, GRU, bidirectional LSTM and bidirectional RNN
(Unit III: "RNN Architectures" (many-to-one), "Variants of RNNs", "Bidirectional LSTMs",
"Bidirectional RNNs"; handbook chapter 3, sections 9-10).

Trains five many-to-one classifiers, Embedding -> recurrent layer -> sigmoid unit, on IMDB movie
reviews (``--dataset sample``: the embedded ``reviews``), with the same data, optimizer and epochs:

    rnn     SimpleRNN                          lstm    LSTM (3 gates + cell state)
    gru     GRU (2 gates, no cell state)       bilstm  bidirectional LSTM, directions summed
    birnn   bidirectional SimpleRNN, directions concatenated

The notes print no code, dataset or sizes for Unit III; sizes follow the keras.io "Bidirectional
LSTM on IMDB" example (20,000 words, 200 tokens, 128-d embedding, 64 units, Adam, batch 32, 2
epochs) with one recurrent layer (``--num-layers 2`` gives that example's stacked model). The notes'
BiLSTM formula p_t = p_tf + p_tb is ``merge_mode="sum"``; their BiRNN concatenates. Keras' GRU uses
``reset_after=True`` (3·64 more biases than the classic GRU) and writes its update with z and 1 − z
swapped relative to the notes (see ``dlcourse/scratch/cells.py`` and lab 13).

What to observe:
- parameters: the embedding (2.56M) dominates; the recurrent parts are 12,352 (RNN), 49,408 (LSTM,
  exactly 4x) and 37,248 (GRU, 3x plus Keras' 192 reset_after biases), twice that when
  bidirectional (lab 13 derives the formulas);
- seconds per epoch usually grow with the gates (RNN < GRU <= LSTM < BiLSTM; the first epoch also
  pays for tracing, so tiny runs are noisy), while the GRU is close to the LSTM's accuracy (the
  notes' "fewer parameters, faster, comparable performance");
- the SimpleRNN lags on 200-token reviews (vanishing gradients, lab 13); the bidirectional models read
  the end of the review first as well.

Reference: keras.io's stacked bidirectional LSTM (``--models bilstm --num-layers 2`` is that model
with the directions summed, the notes' formula, instead of concatenated) reaches about 0.84
validation accuracy after 2 epochs on IMDB; up to about 0.89 is
reported for tuned LSTMs. On the embedded ``reviews`` (``--dataset sample --epochs 3``) the LSTM
reached 0.81 and the SimpleRNN 0.73 test accuracy.

Outputs (in <out>/12_sentiment_rnn/): sentiment_rnn.h5, sentiment_lstm.h5, sentiment_gru.h5,
sentiment_bilstm.h5, sentiment_birnn.h5, vocabulary.json (word index and encoding settings for
``dlcourse predict-text``), comparison.csv, history_<model>.csv, learning_curves_<model>.png, run.json.
Try: ``dlcourse predict-text saved_models/12_sentiment_rnn/sentiment_lstm.h5 "a wonderful film"``.
"""

import sys
import time

import keras

from dlcourse import data, training
from dlcourse.errors import report_user_errors
from dlcourse.models.recurrent import SENTIMENT_VARIANTS, build_sentiment_model
from dlcourse.text_prediction import VOCABULARY_FILENAME, vocabulary_record

FULL_SIZE = dict(num_words=20000, sequence_length=200)  # keras.io's max_features and maxlen
SAMPLE_SIZE = dict(num_words=1000, sequence_length=64)  # the embedded reviews: 126 words, <= 58 tokens
COLUMNS = ("model", "cell", "bidirectional", "merge_mode", "parameters", "seconds_per_epoch",
           "test_accuracy", "test_loss")


def main(argv=None):
    parser = training.lab_parser("12", epochs=2, batch_size=32)
    parser.add_argument("--models", nargs="+", choices=list(SENTIMENT_VARIANTS), default=list(SENTIMENT_VARIANTS),
                        help="which models to train (default: all five)")
    parser.add_argument("--num-words", type=training.positive_int, default=None,
                        help="vocabulary size, as imdb.load_data(num_words=...) (default 20000; sample 1000)")
    parser.add_argument("--sequence-length", type=training.positive_int, default=None,
                        help="tokens per review after padding/truncation (default 200; sample 64)")
    parser.add_argument("--embedding-dim", type=training.positive_int, default=128)
    parser.add_argument("--units", type=training.positive_int, default=64, help="units per direction")
    parser.add_argument("--num-layers", type=training.positive_int, default=1, help="stacked recurrent layers")
    parser.add_argument("--learning-rate", type=training.positive_float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--validation-split", type=training.fraction, default=0.2,
                        help="fraction of the training reviews held out for validation, in (0, 1)")
    args = training.parse_lab_args(parser, argv)
    size = SAMPLE_SIZE if args.dataset == "sample" else FULL_SIZE
    num_words = args.num_words or size["num_words"]
    sequence_length = args.sequence_length or size["sequence_length"]
    hidden = dict(embedding_dim=args.embedding_dim, units=args.units)
    if args.smoke:
        hidden = dict(embedding_dim=min(args.embedding_dim, 16), units=min(args.units, 8))

    with training.LabRun("12", args) as run:
        options = dict(num_words=num_words, sequence_length=sequence_length)
        x_train, y_train = run.load_data("train", **options)
        x_test, y_test = run.load_data("test", **options)
        if args.smoke:
            x_train, y_train, x_test, y_test = x_train[:128], y_train[:128], x_test[:64], y_test[:64]
        print(f"  {len(x_train)} training and {len(x_test)} test reviews, {sequence_length} tokens, "
              f"{num_words} words")
        vocabulary = vocabulary_record(data.word_index(run.dataset, data_dir=args.data_dir), dataset=run.dataset,
                                       num_words=num_words, sequence_length=sequence_length)
        run.save_json(vocabulary, VOCABULARY_FILENAME)

        rows, metrics = [], {}
        for key in args.models:
            variant = SENTIMENT_VARIANTS[key]
            with run.strategy.scope():
                model = build_sentiment_model(**variant, num_layers=args.num_layers, vocab_size=num_words,
                                              sequence_length=sequence_length, name=f"sentiment_{key}", **hidden)
                model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="binary_crossentropy",
                              metrics=["accuracy"])
            started = time.perf_counter()
            history = run.fit(model, x_train, y_train, validation_split=args.validation_split,
                              epochs=args.epochs, batch_size=args.batch_size,
                              history_name=f"history_{key}.csv", curves_name=f"learning_curves_{key}.png")
            seconds_per_epoch = (time.perf_counter() - started) / max(len(history.epoch), 1)
            test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
            rows.append(dict(model=key, cell=variant["cell"], bidirectional=variant.get("bidirectional", False),
                             merge_mode=variant.get("merge_mode", "") if variant.get("bidirectional") else "",
                             parameters=model.count_params(), seconds_per_epoch=round(seconds_per_epoch, 3),
                             test_accuracy=round(float(test_accuracy), 4), test_loss=round(float(test_loss), 4)))
            metrics[f"test_accuracy_{key}"] = float(test_accuracy)
            print(f"  {key:7s} test accuracy {test_accuracy:.4f}  ({seconds_per_epoch:.1f} s/epoch)")
            run.save_model(model, f"sentiment_{key}.h5")  # save .h5 last (it drops the optimizer)

        run.save_csv(rows, "comparison.csv", fieldnames=COLUMNS)
        print(format_table(rows))
        run.finish(metrics=metrics, comparison=rows, num_words=num_words, sequence_length=sequence_length)


def format_table(rows):
    """The comparison as aligned text columns."""
    header = f"  {'model':8s}{'parameters':>12s}{'s/epoch':>10s}{'test acc':>10s}"
    lines = [header] + [f"  {row['model']:8s}{row['parameters']:>12,d}{row['seconds_per_epoch']:>10.2f}"
                        f"{row['test_accuracy']:>10.4f}" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
