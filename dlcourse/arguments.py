"""Argument types for the command line: each parses one flag's text or raises ``ArgumentTypeError``.

Used by the lab runner (:func:`dlcourse.training.lab_parser`), the labs' own flags and the
``dlcourse`` subcommands, so a bad value gives the same one-line argparse error everywhere
(``--epochs 0`` -> "argument --epochs: must be > 0, got '0'").
"""

import argparse

SEED_LIMIT = 2**32  # NumPy's legacy seeding (np.random.seed, Keras's set_random_seed) takes 0 .. 2**32 - 1


def _number(kind, article, minimum, allow_equal):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {article} {kind.__name__}, got {text!r}") from None
        if value < minimum or (value == minimum and not allow_equal):
            relation = ">=" if allow_equal else ">"
            raise argparse.ArgumentTypeError(f"must be {relation} {minimum}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


positive_int = _number(int, "an", 0, allow_equal=False)
positive_float = _number(float, "a", 0.0, allow_equal=False)
nonnegative_float = _number(float, "a", 0.0, allow_equal=True)


def seed(text):
    """A random seed: an integer in [0, 2**32) (``--seed``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {SEED_LIMIT - 1} (2**32 - 1), got {text!r}")
    return value


def fraction(text):
    """A share strictly between 0 and 1 (``--validation-split``)."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be below 1, got {text!r}")
    return value


def rate(text):
    """A rate in [0, 1) (``--dropout-rate``, a masking fraction)."""
    value = nonnegative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be below 1, got {text!r}")
    return value


def probability_label(text):
    """A target label in (0, 1] (``--real-label``: 0.9 is one-sided label smoothing)."""
    value = positive_float(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (0.9 = one-sided label smoothing), got {text!r}")
    return value


def batch_range(text):
    """``"10,15"`` -> ``(10, 15)``, ``"10"`` -> ``(10, 10)``: training steps (from 1) to profile."""
    parts = text.split(",")
    try:
        start, stop = (int(part) for part in (parts * 2 if len(parts) == 1 else parts))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a step or START,STOP such as 10,15; got {text!r}") from None
    if not 1 <= start <= stop:
        raise argparse.ArgumentTypeError(f"steps count from 1 and START <= STOP; got {text!r}")
    return start, stop
