"""Lab 22 — a character-level LSTM language model: sampling with temperature, perplexity (Unit III; 003 §3.7.3, §3.7.5).

Unit III names language modelling and text generation among the uses of RNNs (000 L1276, L1317;
003 §3.7.3 "Language modeling: Prediction of next word in a sequence", §3.7.5 "Text generation")
but trains none. This lab trains one on characters: the embedded ``corpus`` is the Book of Genesis
of the King James Version (1611, public domain; ``dlcourse/data/characters.py`` says where the text
comes from), 196,818 characters of 60 kinds, the first 90% for training and the end of the book
held out. Each example is a window of 100 character ids and, at every position, the next id
(many-to-many, the same length): Embedding(60, 128) -> LSTM(128, return_sequences=True) ->
Dense(60) logits, trained with the cross-entropy of every position (``from_logits=True``).

Perplexity is exp(mean cross-entropy per character): the number of characters the model is, on
average, as unsure between as a uniform guess. A model that gives each character 1/60 scores
exactly 60; predicting the held-out end of Genesis well scores a few. Text is generated one
character at a time, feeding each choice back: the logits are divided by a temperature T before
the softmax, so T -> 0 always takes the most probable character (greedy, repetitive), T = 1 samples
the model's own distribution and T > 1 flattens it (more invention, more misspellings).

003 Practical Exercises 03, Exercise 7, question 5 (003 L1831) asks about the regularisation
strategies specific to RNNs: recurrent dropout, variational dropout, weight tying. Besides the
plain model the lab trains, with the same data and epochs, the two that Keras offers directly:
``recurrent_dropout`` (``--recurrent-dropout``, the LSTM's recurrent state h_{t-1} dropped with
that rate during training; Keras draws one mask per sequence, which is the variational dropout of
Gal and Ghahramani, 2016) and ``tied`` (``--tie-weights``: the output projection is the embedding
matrix transposed, ``dlcourse/layers/language.py``, which removes exactly 60 x 128 = 7,680 of the
147,004 parameters; its 60 biases stay). comparison.csv lists parameters, validation perplexity,
test perplexity and training samples (windows) per second.

What to observe:
- the untrained model's perplexity is near 60 (the vocabulary size): it starts almost uniform;
  within 10 epochs it falls to about 5 while the samples go from noise to English-looking words
  and verse-like lines ("and the sons of ...", "unto him");
- temperature 0 loops (the argmax repeats "the sons of the sons of ..."), 0.5 gives the most
  word-like text, 1.0 and above invent words and names: the same model, only the sampling differs;
- recurrent dropout roughly halves the speed (Keras cannot use its fused LSTM kernel for it) and
  narrows the gap between training and validation loss, but in 10 epochs on this corpus it does
  not yet pay off in perplexity; tying saves 5% of the parameters here (60 characters, not a large
  word vocabulary, where tying pays) and learns more slowly.

Reference (on the corpus, the defaults: 10 epochs, batch 32, 824 s of training on 2 shared CPU
cores): test perplexity 4.89 for the plain model (validation 4.98), 5.05 with recurrent dropout 0.25
(validation 5.09; training/validation loss 1.61/1.63 against the plain 1.55/1.61), 6.82 for the tied
model (validation 6.69); 75, 41 and 72 windows per second. At temperature 0.5 the plain model
continued the held-out "... and Joseph shall put his ha" with "nd the sent of the sear brought the
earth upto his eat of the in that le breed the sons of the woth wiven ...". Chance is 60.

Outputs (in <out>/22_char_language_model/): char_lm.h5 (the plain model), char_lm_recurrent_dropout.h5,
char_lm_tied.h5, vocabulary.json (the characters in id order and the window length), samples.txt
(text from each model at each temperature), comparison.csv, history_<variant>.csv,
learning_curves_<variant>.png, run.json.
"""

import argparse
import sys

import keras
import numpy as np

from dlcourse import data, training
from dlcourse.arguments import nonnegative_float, positive_int, rate
from dlcourse.data.characters import CORPUS_SOURCE
from dlcourse.errors import report_user_errors
from dlcourse.models.language_model import build_char_language_model, perplexity, sample_text

MODEL_FILES = {"baseline": "char_lm.h5", "recurrent_dropout": "char_lm_recurrent_dropout.h5",
               "tied": "char_lm_tied.h5"}
SMOKE_SIZE = dict(sequence_length=32, embedding_dim=16, units=16, sample_length=40)  # at most these in --smoke
COLUMNS = ("variant", "parameters", "recurrent_dropout", "tied", "validation_perplexity", "test_perplexity",
           "samples_per_second")


def resolve_sizes(args):
    """Cap the sizes of a smoke run (a few seconds of training)."""
    if args.smoke:
        for key, value in SMOKE_SIZE.items():
            setattr(args, key, min(getattr(args, key), value))
    return args


def variants(args):
    """``{variant: builder settings}``: the plain model, then the regularised ones the flags ask for."""
    chosen = {"baseline": {}}
    if args.recurrent_dropout > 0:
        chosen["recurrent_dropout"] = {"recurrent_dropout": args.recurrent_dropout}
    if args.tie_weights:
        chosen["tied"] = {"tie_weights": True}
    return chosen


def vocabulary_record(run, args, vocabulary):
    """vocabulary.json: what decoding a saved model's ids needs."""
    return {"dataset": run.dataset, "characters": list(vocabulary), "sequence_length": args.sequence_length,
            "source": CORPUS_SOURCE}


def train_variant(run, args, key, settings, train, test, vocab_size):
    """Train, measure and save one variant; returns ``(model, comparison.csv row)``."""
    with run.strategy.scope():
        model = build_char_language_model(vocab_size=vocab_size, embedding_dim=args.embedding_dim,
                                          units=args.units, name=f"char_lm_{key}", **settings)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history_name = f"history_{key}.csv"
    history = run.fit(model, *train, validation_split=args.validation_split, epochs=args.epochs,
                      batch_size=args.batch_size, history_name=history_name, curves_name=f"learning_curves_{key}.png")
    fitted = int(len(train[0]) * (1 - args.validation_split)) * len(history.epoch)
    test_perplexity = perplexity(model, *test, batch_size=args.batch_size)
    validation_perplexity = float(np.exp(history.history["val_loss"][-1]))
    print(f"  {key:18s} perplexity: validation {validation_perplexity:.3f}, test {test_perplexity:.3f}")
    run.save_model(model, MODEL_FILES[key])
    row = dict(variant=key, parameters=model.count_params(), recurrent_dropout=settings.get("recurrent_dropout", 0.0),
               tied=bool(settings.get("tie_weights")), validation_perplexity=round(validation_perplexity, 4),
               test_perplexity=round(test_perplexity, 4),
               samples_per_second=round(fitted / max(run.fit_seconds[history_name], 1e-9), 1))
    return model, row, test_perplexity


def write_samples(run, args, models, seed_text, vocabulary):
    """samples.txt: each model continues the first held-out window at each temperature."""
    sections = [f"Seed (the first {len(seed_text)} held-out characters):\n{seed_text}\n"]
    for key, model in models.items():
        texts = sample_text(model, seed_text, args.sample_length, args.temperatures, vocabulary, seed=args.seed)
        for temperature, text in texts.items():
            sections.append(f"--- {key}, temperature {temperature:g} ---\n{text}\n")
    run.save_text("\n".join(sections), "samples.txt")
    return sections


def main(argv=None):
    parser = training.lab_parser("22", epochs=10, batch_size=32, learning_rate=(2e-3, "Adam, common for char-LSTMs"),
                                 validation_split=0.1)
    parser.add_argument("--sequence-length", type=positive_int, default=100, help="characters per training window")
    parser.add_argument("--embedding-dim", type=positive_int, default=128)
    parser.add_argument("--units", type=positive_int, default=128, help="LSTM units")
    parser.add_argument("--recurrent-dropout", type=rate, default=0.25,
                        help="rate of the recurrent_dropout variant (0: do not train it)")
    parser.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=True,
                        help="also train the tied variant (output projection = embedding transposed)")
    parser.add_argument("--temperatures", type=nonnegative_float, nargs="+", default=[0.0, 0.5, 1.0, 1.5],
                        help="sampling temperatures for samples.txt (0: argmax)")
    parser.add_argument("--sample-length", type=positive_int, default=300, help="characters generated per sample")
    args = resolve_sizes(training.parse_lab_args(parser, argv))

    with training.LabRun("22", args) as run:
        train, test = run.load_splits(sequence_length=args.sequence_length)
        vocabulary = data.class_names(run.dataset)
        print(f"  {len(train[0])} training and {len(test[0])} test windows of {args.sequence_length} characters, "
              f"{len(vocabulary)} characters")
        run.save_json(vocabulary_record(run, args, vocabulary), "vocabulary.json")
        results = {key: train_variant(run, args, key, settings, train, test, len(vocabulary))
                   for key, settings in variants(args).items()}
        rows = [row for _, row, _ in results.values()]
        run.save_csv(rows, "comparison.csv", fieldnames=COLUMNS)
        seed_text = "".join(vocabulary[index] for index in test[0][0])
        sections = write_samples(run, args, {key: model for key, (model, _, _) in results.items()}, seed_text,
                                 vocabulary)
        print("\n".join(sections[:3]))
        run.finish(metrics={f"test_perplexity_{key}": value for key, (_, _, value) in results.items()},
                   model=results["baseline"][0], comparison=rows, sequence_length=args.sequence_length,
                   temperatures=args.temperatures)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
