"""Lab 23 — Transformer: attention, positional encoding, a classifier beside an LSTM (Unit III; 003 ch. 3 §12).

The handbook 003, chapter 3, §12 ("RNN vs Transformers") replaces recurrence by self-attention,
Attention(Q, K, V) = softmax(QKᵀ/√d_k)V (§12.2), and injects word order with the sinusoidal encoding
PE(pos, 2i) = sin(pos/10000^(2i/d)), PE(pos, 2i+1) = cos(pos/10000^(2i/d)) (§12.3); its §7.2
classifies sentiment with a Transformer, and the main notes (000 L441) name Transformers for
language where RNNs serve sequences. This lab writes all of it out in
``dlcourse/layers/transformer.py`` (attention with ``keras.ops``, a multi-head layer that loads
``keras.layers.MultiHeadAttention``'s weights, the encoder block) and trains a small Transformer
classifier (embedding ·√d + sinusoidal encoding -> one encoder block -> mean over the words ->
sigmoid; sizes of the keras.io "Text classification with Transformer" example) beside lab 12's LSTM
on the same reviews (``--dataset sample``: the embedded ``reviews``), with the same data, optimizer and epochs. The handbook prints
the encoding without saying how it meets the embeddings; the classifier scales them by √d first, as
Vaswani et al. do (docs/SOURCES.md, erratum B59).

Exercise 5 of the handbook's practical exercises (003, "Exercise 5: RNN vs Transformers") asks to
compare the RNN's O(T) with the Transformer's O(T²); the lab measures it: the forward time of an LSTM
layer and of a self-attention layer of the same width against the sequence length T, and the memory of
the attention score tensor (batch·heads·T² floats, computed) against the LSTM's carried state
(constant in T). The handbook says self-attention captures dependencies "in constant time" (§12.2):
that is the path length between two words (one step instead of up to T); the work of a layer grows as
T² (docs/SOURCES.md, erratum B58).

What to observe:
- parameters: the embeddings dominate both models; the encoder block has 4·(d·d + d) attention weights
  (4,224 for d = 32) plus its feed-forward network and two LayerNorms, far fewer than the LSTM's
  49,408 recurrent weights at lab 12's sizes;
- samples/s: the Transformer processes all positions of a review at once, the LSTM step by step;
  on a CPU with 64-token reviews Keras' fused LSTM kernel is still faster per sample (parallel
  positions pay off on a GPU), and on the small sample the Transformer needs more epochs to catch up;
- scaling.csv / scaling.png: the LSTM does T sequential steps and its memory is flat, the attention
  computes T² pairs and its score tensor grows as T² (on a CPU both times grow; the LSTM's steps
  cannot run in parallel, the attention's pairs can);
- attention_maps.png: each row (a word) spreads its attention over the words of the review, averaged
  over the heads; padding gets none.

Reference (on the sample, 3 epochs: ``dlcourse run 23 --dataset sample --epochs 3``, 2,000 reviews of
64 tokens, 2 shared CPU cores): the Transformer (38,497 parameters) reached 0.772 test accuracy at 912
training samples/s, the LSTM (177,473) 0.782 at 972 samples/s; from T = 16 to 1024 the LSTM's forward
pass (batch 8) went from 1.4 ms to 105 ms and the attention's from 0.9 ms to 166 ms (it overtakes the
LSTM at the longest length), while its score tensor grew from 16 KiB to 64 MiB (the LSTM's state
stayed at 2 KiB). keras.io reports about 0.88 for its Transformer on the full IMDB data after 2 epochs.

Outputs (in <out>/23_transformer/): transformer_classifier.h5, sentiment_lstm.h5, vocabulary.json
(for ``dlcourse predict-text``), comparison.csv (model, parameters, samples/s, test accuracy),
scaling.csv, scaling.png, attention_maps.png, history_<model>.csv, learning_curves_<model>.png, run.json.
Try: ``dlcourse predict-text saved_models/23_transformer/transformer_classifier.h5 "a wonderful film"``.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, data, evaluation, training
from dlcourse.arguments import positive_int
from dlcourse.errors import UserError, report_user_errors
from dlcourse.layers.transformer import MultiHeadSelfAttention
from dlcourse.models.recurrent import build_sentiment_model
from dlcourse.models.transformer import attention_weights, build_transformer_classifier
from dlcourse.text_prediction import VOCABULARY_FILENAME, vocabulary_record

FULL_SIZE = dict(num_words=20000, sequence_length=200)  # lab 12's (keras.io's max_features and maxlen)
SAMPLE_SIZE = dict(num_words=1000, sequence_length=64)  # the embedded reviews: 126 words, <= 58 tokens
SMOKE_SIZES = dict(embedding_dim=16, ff_dim=16, lstm_embedding_dim=16, lstm_units=8)  # caps in --smoke
SCALING_LENGTHS = (16, 32, 64, 128, 256, 512, 1024)
SMOKE_SCALING_LENGTHS = (8, 16, 32)
SCALING_BATCH = 8  # sequences per timed forward pass
TIMING = dict(repeats=5, warmup=2)  # median of 5 after 2 untimed calls (the first traces the graph)
FLOAT_BYTES = 4  # float32
MAP_TOKENS = 24  # words shown per attention map (the last ones of the review)
COLUMNS = ("model", "parameters", "samples_per_second", "seconds_per_epoch", "test_accuracy", "test_loss")
SCALING_COLUMNS = ("sequence_length", "lstm_seconds", "attention_seconds", "lstm_sequential_steps",
                   "attention_pairs", "attention_score_bytes", "lstm_state_bytes")


def resolve_sizes(args):
    """Fill in ``--num-words`` / ``--sequence-length`` for the dataset; cap the sizes of a smoke run."""
    size = SAMPLE_SIZE if args.dataset == "sample" else FULL_SIZE
    args.num_words = args.num_words or size["num_words"]
    args.sequence_length = args.sequence_length or size["sequence_length"]
    if args.embedding_dim % args.num_heads:
        raise UserError(f"--embedding-dim {args.embedding_dim} must be a multiple of --num-heads {args.num_heads}")
    if args.smoke:
        for key, cap in SMOKE_SIZES.items():
            setattr(args, key, min(getattr(args, key), cap))
        args.embedding_dim = max(args.num_heads, args.embedding_dim - args.embedding_dim % args.num_heads)
    return args


def save_vocabulary(run, args):
    """vocabulary.json: lab 12's word index and encoding settings, for ``dlcourse predict-text``."""
    vocabulary = vocabulary_record(data.word_index(run.dataset, data_dir=args.data_dir), dataset=run.dataset,
                                   num_words=args.num_words, sequence_length=args.sequence_length)
    run.save_json(vocabulary, VOCABULARY_FILENAME)
    return vocabulary


def build_models(run, args):
    """The Transformer classifier and lab 12's LSTM, compiled alike (Adam, binary cross-entropy)."""
    with run.strategy.scope():
        models = {
            "transformer": build_transformer_classifier(
                vocab_size=args.num_words, sequence_length=args.sequence_length, embedding_dim=args.embedding_dim,
                num_heads=args.num_heads, ff_dim=args.ff_dim, num_blocks=args.num_blocks),
            "lstm": build_sentiment_model(cell="lstm", vocab_size=args.num_words, sequence_length=args.sequence_length,
                                          embedding_dim=args.lstm_embedding_dim, units=args.lstm_units,
                                          name="sentiment_lstm"),
        }
        for model in models.values():
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="binary_crossentropy",
                          metrics=["accuracy"])
    return models


def train_model(run, args, key, model, train, test):
    """Fit, evaluate and save one model; returns its comparison.csv row."""
    history_name = f"history_{key}.csv"
    samples_before = run.samples_seen
    history = run.fit(model, *train, validation_split=args.validation_split, epochs=args.epochs,
                      batch_size=args.batch_size, history_name=history_name, curves_name=f"learning_curves_{key}.png")
    seconds = run.fit_seconds[history_name]
    test_loss, test_accuracy = model.evaluate(*test, verbose=0)
    print(f"  {key:12s} test accuracy {test_accuracy:.4f}  ({seconds / max(len(history.epoch), 1):.1f} s/epoch)")
    run.save_model(model, f"{model.name}.h5")
    return dict(model=key, parameters=model.count_params(),
                samples_per_second=round((run.samples_seen - samples_before) / max(seconds, 1e-9), 1),
                seconds_per_epoch=round(seconds / max(len(history.epoch), 1), 3),
                test_accuracy=round(float(test_accuracy), 4), test_loss=round(float(test_loss), 4))


def measure_scaling(args, lengths, seed):
    """Exercise 5 measured: forward seconds of an LSTM and of a self-attention layer of width d against T,
    with the attention's score tensor and the LSTM's carried state in bytes."""
    width, heads = args.embedding_dim, args.num_heads
    sequences = keras.Input(shape=(None, width))  # any length: one model per layer, traced once per T
    lstm = keras.Model(sequences, keras.layers.LSTM(width)(sequences))
    attention = keras.Model(sequences, MultiHeadSelfAttention(heads, width // heads)(sequences))
    generator = np.random.default_rng(seed)
    rows = []
    for length in lengths:
        x = generator.normal(size=(SCALING_BATCH, length, width)).astype("float32")
        rows.append(dict(
            sequence_length=length,  # predict_on_batch: the traced graph, no Python loop over steps
            lstm_seconds=round(evaluation.forward_seconds(lstm.predict_on_batch, x, **TIMING), 6),
            attention_seconds=round(evaluation.forward_seconds(attention.predict_on_batch, x, **TIMING), 6),
            lstm_sequential_steps=length, attention_pairs=length * length,
            attention_score_bytes=SCALING_BATCH * heads * length * length * FLOAT_BYTES,
            lstm_state_bytes=SCALING_BATCH * 2 * width * FLOAT_BYTES))  # h and c, whatever T is
    return rows


def plot_scaling(rows):
    """Forward time and memory against sequence length, log-log."""
    figure, (time_axis, memory_axis) = artifacts.new_figure(1, 2, width=10, height=4)
    lengths = [row["sequence_length"] for row in rows]
    time_axis.loglog(lengths, [row["lstm_seconds"] for row in rows], "o-", label="LSTM (T sequential steps)")
    time_axis.loglog(lengths, [row["attention_seconds"] for row in rows], "s-", label="self-attention (T² pairs)")
    time_axis.set(xlabel="sequence length T", ylabel="forward seconds", title=f"Forward pass, batch {SCALING_BATCH}")
    memory_axis.loglog(lengths, [row["attention_score_bytes"] for row in rows], "s-", label="attention scores")
    memory_axis.loglog(lengths, [row["lstm_state_bytes"] for row in rows], "o-", label="LSTM state (h, c)")
    memory_axis.set(xlabel="sequence length T", ylabel="bytes", title="Memory that grows with T")
    for axis in (time_axis, memory_axis):
        axis.legend()
        axis.grid(True, which="both", alpha=0.3)
    return figure


def plot_attention_maps(model, vocabulary, test, count=3):
    """Head-averaged attention weights of the first block over the (last) words of ``count`` test reviews."""
    reviews, labels = test[0][:count], test[1][:count]
    weights = attention_weights(model, reviews).mean(axis=1)  # (count, T, T)
    probabilities = model.predict(reviews, verbose=0).reshape(-1)
    figure, axes = artifacts.new_figure(1, len(reviews), width=6 * len(reviews), height=6, squeeze=False)
    for axis, review, review_weights, label, probability in zip(axes[0], reviews, weights, labels, probabilities):
        positions = np.flatnonzero(review)[-MAP_TOKENS:]  # real tokens, not padding
        words = data.decode_sequence(review[positions], vocabulary["word_index"],
                                     index_from=vocabulary["index_from"]).split(" ")
        image = axis.imshow(review_weights[np.ix_(positions, positions)], cmap="viridis")
        axis.set_xticks(range(len(words)), words, rotation=90, fontsize=7)
        axis.set_yticks(range(len(words)), words, fontsize=7)
        axis.set(xlabel="attended word (key)", ylabel="word (query)",
                 title=f"{'positive' if label else 'negative'} review, P(positive) = {probability:.2f}")
        figure.colorbar(image, ax=axis, shrink=0.7)
    return figure


def main(argv=None):
    parser = training.lab_parser("23", epochs=2, batch_size=32, learning_rate=(1e-3, "Adam, as lab 12 and keras.io"),
                                 validation_split=0.2)
    parser.add_argument("--num-words", type=positive_int, default=None, help="vocabulary size (default 20000; sample 1000)")
    parser.add_argument("--sequence-length", type=positive_int, default=None,
                        help="tokens per review after padding/truncation (default 200; sample 64)")
    parser.add_argument("--embedding-dim", type=positive_int, default=32, help="Transformer width d")
    parser.add_argument("--num-heads", type=positive_int, default=2)
    parser.add_argument("--ff-dim", type=positive_int, default=32, help="feed-forward units per block")
    parser.add_argument("--num-blocks", type=positive_int, default=1, help="stacked encoder blocks")
    parser.add_argument("--lstm-embedding-dim", type=positive_int, default=128, help="the LSTM's embedding (lab 12)")
    parser.add_argument("--lstm-units", type=positive_int, default=64, help="the LSTM's units (lab 12)")
    parser.add_argument("--scaling-lengths", type=positive_int, nargs="+", default=None,
                        help=f"sequence lengths timed for Exercise 5 (default {' '.join(map(str, SCALING_LENGTHS))})")
    args = resolve_sizes(training.parse_lab_args(parser, argv))

    with training.LabRun("23", args) as run:
        train, test = run.load_splits(num_words=args.num_words, sequence_length=args.sequence_length)
        print(f"  {len(train[0])} training and {len(test[0])} test reviews, {args.sequence_length} tokens")
        vocabulary = save_vocabulary(run, args)
        models = build_models(run, args)
        rows = [train_model(run, args, key, model, train, test) for key, model in models.items()]
        run.save_csv(rows, "comparison.csv", fieldnames=COLUMNS)
        lengths = args.scaling_lengths or (SMOKE_SCALING_LENGTHS if args.smoke else SCALING_LENGTHS)
        scaling = measure_scaling(args, lengths, args.seed)
        run.save_csv(scaling, "scaling.csv", fieldnames=SCALING_COLUMNS)
        run.save_figure(plot_scaling(scaling), "scaling.png")
        run.save_figure(plot_attention_maps(models["transformer"], vocabulary, test), "attention_maps.png")
        run.finish(metrics={f"test_accuracy_{row['model']}": row["test_accuracy"] for row in rows},
                   model=models["transformer"], comparison=rows, scaling=scaling,
                   num_words=args.num_words, sequence_length=args.sequence_length)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
