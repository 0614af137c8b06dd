"""Verdict items and how a measured value is judged against a manifest check.

:class:`Item` is one line of a lab's verdict (its points out of its maximum and why);
:class:`LabVerdict` a lab's items. :func:`compare` judges a number (or a list of numbers, or a
flag) against a check's thresholds or expected value, with the sample-data thresholds for a
``--smoke`` run; :func:`generator_verdict` judges a generator's sample statistics. Values come
from a student's files, so nothing is assumed about their type: a string or a boolean is never a
number here.
"""

import dataclasses
import math


@dataclasses.dataclass
class Item:
    name: str
    points: float
    max_points: float
    message: str = ""

    @property
    def passed(self):
        return self.points >= self.max_points - 1e-9


@dataclasses.dataclass
class LabVerdict:
    lab: str
    items: list
    sample_data: bool = False
    note: str = ""

    @property
    def points(self):
        return round(sum(item.points for item in self.items), 2)

    @property
    def max_points(self):
        return round(sum(item.max_points for item in self.items), 2)

    def to_dict(self):
        return {"lab": self.lab, "points": self.points, "max_points": self.max_points,
                "sample_data": self.sample_data, "note": self.note,
                "items": [dataclasses.asdict(item) | {"passed": item.passed} for item in self.items]}


def lookup(record, key):
    """``record["a"]["b"]`` for ``"a.b"``, or for ``["a", "b"]`` when a key itself holds a dot."""
    for part in (key if isinstance(key, list) else key.split(".")):
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    return record


def _threshold(check, sample):
    low = check.get("sample_min" if sample and "sample_min" in check else "min")
    high = check.get("sample_max" if sample and "sample_max" in check else "max")
    return low, high


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def shown(value, limit=120):
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def compare(value, check, sample):
    """(passed, wording) for a numeric value against the check's thresholds or expected value."""
    if "equals" in check:
        expected = check["equals"]
        tolerance = check.get("tolerance", 1e-6)
        if isinstance(expected, bool):  # a flag: true or false itself, never 0/1 or "true"
            return value is expected, f"{shown(value)} (expected {str(expected).lower()})"
        flat = _flat(value)
        if flat is None:
            return False, f"{shown(value)} is not a number or a list of numbers (expected {expected})"
        passed = len(flat) == len(_flat(expected)) and all(
            abs(a - b) <= tolerance for a, b in zip(flat, _flat(expected)))
        return passed, f"{shown(value)} (expected {expected})"
    low, high = _threshold(check, sample)
    if not is_number(value):
        return False, f"{shown(value)} is not a number"
    passed = (low is None or value >= low) and (high is None or value <= high)
    bounds = " and ".join(part for part in (f">= {low}" if low is not None else "",
                                            f"<= {high}" if high is not None else "") if part)
    return passed, f"{value:.4g} (needs {bounds}{', sample-data threshold' if sample else ''})"


def _flat(value):
    """``value`` as a list of floats (a number or a flat list of numbers), else None."""
    values = value if isinstance(value, list) else [value]
    return [float(v) for v in values] if values and all(is_number(v) for v in values) else None


def generator_verdict(value, check):
    problems = []
    if value["shape"] != check["shape"]:
        problems.append(f"images have shape {value['shape']}, expected {check['shape']}")
    low, high = check.get("range", [-math.inf, math.inf])
    if not value["finite"]:
        problems.append("some pixels are NaN or infinite")
    elif value["min"] < low - 1e-3 or value["max"] > high + 1e-3:
        problems.append(f"pixel range [{value['min']:.3g}, {value['max']:.3g}] is outside [{low}, {high}]")
    if value["std"] < check.get("min_std", 1e-3):
        problems.append("every sample is the same constant image")
    return not problems, "; ".join(problems) or f"shape {value['shape']}, range [{value['min']:.2f}, {value['max']:.2f}]"
