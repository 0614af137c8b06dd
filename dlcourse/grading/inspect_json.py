"""Strict reading of a student's JSON file (``run.json``, ``gradient_check.json``, ...).

Runs inside the inspector process (``inspector.py``), never in the grading parent. A file is
refused, with the reason, unless it is a regular file of at most ``MAX_BYTES``, UTF-8, holds a JSON
object at the top, nests at most ``MAX_DEPTH`` deep, and every number is finite with integers of at
most ``MAX_INTEGER_DIGITS`` digits (no ``NaN``/``Infinity``, no 4,000-digit integer). Which value has
which type (a number is never a string or a boolean) is the engine's to check, key by key.

Only the values the grader asks for leave the inspector (:func:`extract`), each at most
``MAX_VALUE_BYTES``, so a huge file never reaches the grading parent.

Standalone on purpose: the standard library only (the inspector starts without Keras).
"""

import json
import math
import os
import re
import stat

MAX_BYTES = 4 * 1024 * 1024  # a lab's run.json is a few kB
MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 18
MAX_VALUES = 200_000
MAX_VALUE_BYTES = 64 * 1024  # one value handed to the grader (a metric, a list of weights, the dataset record)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class MalformedJSON(ValueError):
    """The file is not used; the message says why."""


def _parse_int(text):
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise MalformedJSON(f"it holds an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _parse_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJSON(f"the number {text[:30]} is too large to be finite")
    return value


def _parse_constant(name):
    raise MalformedJSON(f"it holds {name}, which is not a JSON number")


def _depth(text):
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _count_values(value):
    count, stack = 0, [value]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise MalformedJSON(f"it holds more than {MAX_VALUES:,} values")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def read_bytes(path, max_bytes):
    """The bytes of ``path``, a regular file (``lstat`` first, opened without following links or
    blocking, so a FIFO or a device is refused rather than read)."""
    name = os.path.basename(path)
    status = os.lstat(path)
    if not stat.S_ISREG(status.st_mode):
        raise MalformedJSON(f"{name} is {'a symbolic link' if stat.S_ISLNK(status.st_mode) else 'not a regular file'}")
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise MalformedJSON(f"{name} is not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise MalformedJSON(f"{name} is larger than {max_bytes / 2**20:.0f} MB")
    return data


def load(path, *, max_bytes=MAX_BYTES):
    """The JSON object in ``path`` (a dict), or :class:`MalformedJSON` saying what is wrong with it."""
    data = read_bytes(path, max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJSON("it is not UTF-8 text") from None
    if _depth(text) > MAX_DEPTH:
        raise MalformedJSON(f"it nests deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except MalformedJSON:
        raise
    except (ValueError, RecursionError) as error:
        raise MalformedJSON(f"it is not valid JSON ({str(error)[:120]})") from None
    if not isinstance(value, dict):
        raise MalformedJSON(f"it holds a {type(value).__name__.replace('str', 'string')}, not a JSON object")
    _count_values(value)
    return value


def extract(document, keys):
    """A copy of ``document`` with only the values at ``keys`` (``"a.b"`` or ``["a", "b"]``).

    A value whose JSON is over ``MAX_VALUE_BYTES`` is replaced by a string saying so (no number,
    so it earns no points).
    """
    pruned = {}
    for key in keys:
        parts = key if isinstance(key, list) else key.split(".")
        node = document
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            size = len(json.dumps(node))
            value = node if size <= MAX_VALUE_BYTES else f"<a value of {size // 1024} kB, too large to grade>"
            target = pruned
            for part in parts[:-1]:
                if not isinstance(target.get(part), dict):
                    target[part] = {}
                target = target[part]
            target[parts[-1]] = value
    return pruned
