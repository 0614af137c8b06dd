"""Scoring raw text with a saved sentiment model; the ``dlcourse predict-text`` command.

Lab 12's models take integer word indices (Unit III, many-to-one sentiment analysis), so the saved
``.h5`` needs nothing outside Keras; the words-to-indices mapping is saved beside it as
``vocabulary.json`` (:func:`vocabulary_record`): the word index, ``num_words``, ``index_from`` and the
other ``keras.datasets.imdb`` conventions, and the padded length. Text is encoded exactly as the
training reviews were (:func:`dlcourse.data.encode_text`).

Usage: ``dlcourse predict-text saved_models/12_sentiment_rnn/sentiment_lstm.h5 "a wonderful film"``
"""

import json
import pathlib

import numpy as np

from dlcourse.errors import UserError, report_user_errors

__all__ = ["VOCABULARY_FILENAME", "vocabulary_record", "load_vocabulary", "encode_texts",
           "check_text_model", "score_texts", "configure_parser", "command"]

VOCABULARY_FILENAME = "vocabulary.json"
VOCABULARY_FORMAT = "dlcourse-vocabulary/1"
ENCODING_KEYS = ("num_words", "skip_top", "start_char", "oov_char", "index_from")


def vocabulary_record(word_index, *, dataset, num_words, sequence_length, skip_top=0, start_char=1,
                      oov_char=2, index_from=3, padding="pre", truncating="pre"):
    """The content of ``vocabulary.json``: how a model's training text was turned into integers.

    Only words whose index is below ``num_words`` are kept (the rest encode as ``oov_char``
    anyway), so the file stays small (about 20,000 words for IMDB instead of 88,584).
    """
    limit = num_words - index_from if num_words else None
    kept = {word: int(rank) for word, rank in word_index.items() if limit is None or int(rank) < limit}
    return {"format": VOCABULARY_FORMAT, "dataset": dataset, "num_words": num_words,
            "skip_top": skip_top, "start_char": start_char, "oov_char": oov_char,
            "index_from": index_from, "sequence_length": sequence_length, "padding": padding,
            "truncating": truncating, "word_index": dict(sorted(kept.items(), key=lambda item: item[1]))}


def load_vocabulary(path):
    """Read a ``vocabulary.json``; a missing or malformed file is a :class:`UserError`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"no vocabulary file {path}; lab 12 writes {VOCABULARY_FILENAME} beside its "
                        "models (re-run `dlcourse run 12`) or pass --vocabulary PATH")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{path} is not a readable vocabulary file ({type(error).__name__}); "
                        "re-run lab 12 to recreate it") from None
    if not isinstance(record, dict) or record.get("format") != VOCABULARY_FORMAT or \
            not isinstance(record.get("word_index"), dict):
        raise UserError(f"{path} is not a {VOCABULARY_FORMAT} vocabulary file; re-run lab 12 to recreate it")
    return record


def encode_texts(texts, vocabulary, sequence_length=None):
    """Encode raw strings as the model's training reviews were encoded: int32 ``(N, sequence_length)``."""
    from dlcourse.data import encode_text

    length = sequence_length or vocabulary.get("sequence_length")
    options = {key: vocabulary[key] for key in ENCODING_KEYS if key in vocabulary}
    return encode_text(list(texts), vocabulary["word_index"], sequence_length=length,
                       padding=vocabulary.get("padding", "pre"),
                       truncating=vocabulary.get("truncating", "pre"), **options)


def check_text_model(model, path="model"):
    """Raise :class:`UserError` unless ``model`` maps one integer sequence to one probability.

    Returns the model's fixed sequence length, or ``None`` when it accepts any length.
    """
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or len(inputs[0].shape) != 2 or "int" not in str(inputs[0].dtype):
        shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in inputs)
        raise UserError(f"{path} is not a text model: it takes {shapes}, not integer word sequences "
                        "(batch, length); use `dlcourse predict` for image classifiers")
    if len(outputs) != 1 or tuple(outputs[0].shape[1:]) != (1,):
        raise UserError(f"{path} does not output one sentiment probability per text "
                        f"(its output shape is {tuple(outputs[0].shape)}); give a lab 12 model")
    return inputs[0].shape[1]


def _embedding_size(model):
    for layer in model.layers:
        if hasattr(layer, "input_dim") and hasattr(layer, "output_dim"):  # keras.layers.Embedding
            return layer.input_dim
    return None


def score_texts(model, vocabulary, texts):
    """Score raw texts: ``(probabilities (N,) that each is positive, encoded int32 (N, length))``."""
    length = check_text_model(model)
    encoded = encode_texts(texts, vocabulary, sequence_length=length)
    return np.asarray(model.predict(encoded, verbose=0)).reshape(-1), encoded


def configure_parser(parser):
    parser.description = ("Print the probability that each text is a positive review, with a sentiment "
                          "model saved by lab 12 and the vocabulary.json beside it.")
    parser.add_argument("model", help="a saved sentiment model, e.g. saved_models/12_sentiment_rnn/sentiment_lstm.h5")
    parser.add_argument("texts", nargs="+", help="one or more reviews (quote each one)")
    parser.add_argument("--vocabulary", default=None,
                        help=f"the vocabulary file (default: {VOCABULARY_FILENAME} beside the model)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="probability above which a text is called positive (default 0.5)")
    return parser


def _predict_text(args):
    from dlcourse import artifacts

    model_path = pathlib.Path(args.model)
    if not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold must be between 0 and 1, got {args.threshold}")
    vocabulary_path = pathlib.Path(args.vocabulary) if args.vocabulary else model_path.with_name(VOCABULARY_FILENAME)
    model = artifacts.load_model(model_path)
    check_text_model(model, model_path)
    vocabulary = load_vocabulary(vocabulary_path)
    size = _embedding_size(model)
    if size is not None and vocabulary.get("num_words") and vocabulary["num_words"] > size:
        raise UserError(f"{vocabulary_path} uses {vocabulary['num_words']} word indices but {model_path} "
                        f"knows only {size}; use the vocabulary saved with this model")
    probabilities, encoded = score_texts(model, vocabulary, args.texts)
    oov = vocabulary.get("oov_char", 2)
    for text, probability, sequence in zip(args.texts, probabilities, encoded):
        words = [index for index in sequence.tolist() if index not in (0, vocabulary.get("start_char", 1))]
        known = sum(index != oov for index in words)
        label = "positive" if probability >= args.threshold else "negative"
        print(f"{label} {probability:.4f}  ({known}/{len(words)} words known)  {text}")
    return 0


def command(args):
    """``dlcourse predict-text``: returns the exit code (2 for a user error)."""
    return report_user_errors(_predict_text, args)
