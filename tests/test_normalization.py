"""Dropout and the four normalizations on small arrays (dlcourse/normalization.py, Unit II)."""

import pytest

from dlcourse import normalization

GROUPINGS = ("channel over N,H,W", "example over H,W,C", "example and channel over H,W",
             "example and group over H,W,C/G")
# Which groups of values each normalization leaves with mean 0 and variance 1. A coarser grouping
# made of standardised pieces of equal size is standardised too (mean of zeros, mean of ones), so
# instance normalization, the finest, standardises every grouping, and group normalization also
# each whole example; batch and layer normalization standardise only their own axes.
EXPECTED = {
    "batch": {"channel over N,H,W"},
    "layer": {"example over H,W,C"},
    "instance": set(GROUPINGS),
    "group": {"example and group over H,W,C/G", "example over H,W,C"},
}


def test_each_normalization_standardises_exactly_its_own_axes():
    results = normalization.normalization_statistics()
    assert set(results) == set(EXPECTED)
    for kind, expected in EXPECTED.items():
        standardised = {grouping for grouping, ok in results[kind]["standardised_per"].items() if ok}
        assert standardised == expected, kind
        assert results[kind]["axes"] == normalization.STATISTICS_AXES[kind]


@pytest.mark.parametrize("rate, kept_value", [(0.5, 2.0), (0.2, 1.25)])
def test_dropout_is_inverted_dropout(rate, kept_value):
    example = normalization.dropout_example(units=1000, rate=rate, seed=1)
    assert example["kept_value"] == pytest.approx(kept_value)
    assert example["inverted_dropout_scale"] == pytest.approx(kept_value)
    assert example["inference_is_identity"] is True
    # about (1 - rate) of the units stay active: within 4 binomial standard deviations
    spread = 4 * (1000 * rate * (1 - rate)) ** 0.5
    assert abs(example["active_in_training"] - 1000 * (1 - rate)) <= spread
