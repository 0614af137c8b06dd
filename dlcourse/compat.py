"""Differences between the Keras versions the course supports, one function per difference.

The tested range is Google Colab's pair (TensorFlow 2.19 / Keras 3.10, ``constraints/lowest.txt``)
up to the newest release (``constraints/newest.txt``); ``.ci/lowest`` runs the suite on the lowest.
Code elsewhere calls these functions instead of testing ``keras.__version__`` itself, so dropping a
version is deleting a branch here.
"""

import contextlib
import re

import keras
import numpy as np

__all__ = ["KERAS_VERSION", "terminate_on_nan", "legacy_h5_safe_mode", "activity_penalties_averaged",
           "saved_by_newer_keras"]


def _version(text):
    """``"3.10.0"`` -> ``(3, 10, 0)``; pre-release tails (``"3.16.0.dev2026"``) are ignored."""
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


KERAS_VERSION = _version(keras.__version__)


class _RaisingTerminateOnNaN(keras.callbacks.TerminateOnNaN):
    """``TerminateOnNaN(raise_error=True)`` for Keras < 3.13, which only stops training quietly."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                               "Terminating training immediately.")


def terminate_on_nan():
    """A callback that raises ``RuntimeError`` (message containing "NaN") at the first NaN/Inf loss.

    Keras >= 3.13: ``keras.callbacks.TerminateOnNaN(raise_error=True)``. Keras 3.10-3.12 has no
    ``raise_error``; its ``TerminateOnNaN`` sets ``stop_training`` and ``fit`` returns normally
    with the NaN epoch in the history, so there a subclass raises the same error instead.
    """
    if KERAS_VERSION >= (3, 13):
        return keras.callbacks.TerminateOnNaN(raise_error=True)
    return _RaisingTerminateOnNaN()


def legacy_h5_safe_mode():
    """A context manager that makes ``.h5`` loading honour ``safe_mode=True``; wrap ``load_model`` in it.

    Keras < 3.11.3 ignores ``safe_mode`` for the legacy HDF5 format (CVE-2025-9905): a model with
    a Python ``lambda`` in a ``Lambda`` layer loads and its bytecode runs. Keras >= 3.11.3 enters
    the safe-mode scope itself and refuses it; on the older versions this enters the same scope.
    """
    if KERAS_VERSION >= (3, 11, 3):
        return contextlib.nullcontext()
    from keras.src.saving import serialization_lib  # not public; frozen in these old releases

    return serialization_lib.SafeModeScope(True)


def activity_penalties_averaged():
    """True when Keras divides a layer's activity-regularizer penalty by the batch size.

    Keras >= 3.14 adds ``regularizer(outputs) / batch_size`` to the layer's losses (a per-example
    mean); Keras <= 3.13 adds ``regularizer(outputs)``, the sum over the batch, so the same
    ``L1(l1)`` penalty is batch-size times stronger there. Regularizers that must mean the same on
    every version scale their value by this (see ``dlcourse.layers.sampling``).
    """
    return KERAS_VERSION >= (3, 14)


def saved_by_newer_keras(path):
    """The Keras version that wrote the ``.h5`` file ``path`` if it is newer than this Keras, else None.

    ``.h5`` files load forward only: Keras 3.15 reads what Keras 3.10 (Colab) wrote, but Keras 3.10
    cannot read Keras 3.15's (its initializer configs gained ``input_axes``/``output_axes``, which
    3.10 rejects as unexpected arguments). Used to turn that failure into a clear message.
    """
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            saved = handle.attrs.get("keras_version")
    except OSError:
        return None
    if isinstance(saved, bytes):
        saved = saved.decode("utf8", "replace")
    if not isinstance(saved, str) or not re.match(r"\d+\.\d+", saved):
        return None
    return saved if _version(saved) > KERAS_VERSION else None
