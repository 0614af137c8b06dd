"""Resumable lab runs: the ``.checkpoint/`` folder of a lab, ``BackupAndRestore`` on the ``fit`` path,
and stopping cleanly on Ctrl-C or SIGTERM.

A training lab checkpoints every epoch (and every N steps with ``--checkpoint-every N``) into its
own folder, so rerunning the same command after a crash, ``kill -9``, SIGTERM or Ctrl-C resumes;
``--restart`` discards the checkpoint; a finished run removes it. The layout, one folder per fit
(named after its history file), is meant to be shared by a ``tf.train.CheckpointManager`` loop::

    <lab folder>/.checkpoint/
        state.json                     the flags that wrote it (a rerun must match them)
        <history stem>/backup/         the fit in progress: Keras' latest.weights.h5 (model weights
                                       and every optimizer's state) + training_metadata.json
        <history stem>/history.csv     the epochs trained so far, one row each (CSVLogger, append)
        <history stem>/finished.weights.h5, finished.json
                                       a fit that ended: its weights, history, seconds, samples

A fit whose ``finished.json`` exists is not trained again on a resumed run: its weights and history
are restored, so the steps after it (evaluation, comparison tables) see the same numbers.
"""

import contextlib
import json
import math
import os
import pathlib
import shutil
import signal
import threading

import keras
import numpy as np

from dlcourse import artifacts
from dlcourse.errors import UserError

__all__ = ["CHECKPOINT_FOLDER", "Terminated", "EpochBackup", "RunCheckpoint", "sigterm_raises", "exit_status"]

CHECKPOINT_FOLDER = ".checkpoint"
# flags that do not change what is trained, so a rerun may differ in them and still resume
_NEUTRAL_FLAGS = ("out", "restart", "checkpoint_every", "command_line", "tensorboard", "profile_batches",
                  "data_dir", "deterministic")


class Terminated(KeyboardInterrupt):
    """SIGTERM (Colab, a preempted job, ``kill``), raised in the main thread like Ctrl-C's KeyboardInterrupt."""


def exit_status(interruption):
    """The shell's status for a run stopped by ``interruption``: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(interruption, Terminated) else signal.SIGINT)


@contextlib.contextmanager
def sigterm_raises():
    """While the block runs, SIGTERM raises :class:`Terminated` (default: the process dies at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finite(logs, prefix_to_skip="val_"):
    """True when every training value in ``logs`` is a finite number (validation values not checked)."""
    for key, value in (logs or {}).items():
        if key.startswith(prefix_to_skip):
            continue
        try:
            if not np.all(np.isfinite(np.asarray(value, dtype="float64"))):
                return False
        except (TypeError, ValueError):
            continue
    return True


class EpochBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that saves at every epoch's end AND every ``save_freq`` steps, never saves
    non-finite weights, writes its two files so that a kill at any moment leaves a matching pair,
    and never deletes its backup (the runner does, once the fit is recorded as finished).

    Keras' own callback with an integer ``save_freq`` skips the epoch-end save, and deletes its backup
    in ``on_train_end``, which a quiet NaN stop (``TerminateOnNaN`` on Keras < 3.13) also reaches.
    Restoring a step checkpoint resumes that epoch from its first batch (Keras does not skip batches).
    Only arguments Keras 3.10 already has are used.
    """

    def __init__(self, backup_dir, *, save_freq="epoch", on_save=None):
        super().__init__(str(backup_dir), save_freq=save_freq, delete_checkpoint=False)
        self.on_save = on_save
        self.saved_epoch = None

    def on_train_begin(self, logs=None):
        recover(self.backup_dir)
        super().on_train_begin(logs)

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch) and _finite(logs):
            self._save_model()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        self._batches_seen_since_last_saving = 0
        if _finite(logs):
            self._save_model()

    def on_train_end(self, logs=None):
        pass  # the runner removes the backup once the fit's weights are recorded as finished

    def _save_model(self):
        # weights -> next.weights.h5, then the metadata -> .new, then both moved into place; recover()
        # completes or undoes a save that a kill interrupted, so weights and epoch always match
        if self.on_save is not None:
            self.on_save()
        folder = pathlib.Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_weights(str(folder / _NEXT_WEIGHTS), overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        artifacts.write_text(json.dumps(metadata), folder / _NEXT_METADATA)
        _commit(folder)
        self.saved_epoch = self._current_epoch


_WEIGHTS, METADATA_FILE = "latest.weights.h5", "training_metadata.json"  # Keras' names; also the custom loop's
_NEXT_WEIGHTS, _NEXT_METADATA = "next.weights.h5", "training_metadata.json.new"


def _commit(folder):
    if (folder / _NEXT_WEIGHTS).exists():
        os.replace(folder / _NEXT_WEIGHTS, folder / _WEIGHTS)
    os.replace(folder / _NEXT_METADATA, folder / METADATA_FILE)


def recover(backup_dir):
    """Finish a save that was interrupted after its metadata was written, or drop one that was not."""
    folder = pathlib.Path(backup_dir)
    if (folder / _NEXT_METADATA).exists():
        _commit(folder)
    elif (folder / _NEXT_WEIGHTS).exists():
        (folder / _NEXT_WEIGHTS).unlink()


def fingerprint(args):
    """The flags that decide what a run trains, as strings (``--out``, ``--restart``, ... excluded)."""
    return {key: str(value) for key, value in sorted(vars(args).items()) if key not in _NEUTRAL_FLAGS}


class RunCheckpoint:
    """The ``.checkpoint/`` folder of one lab run (see the module docstring for its layout)."""

    def __init__(self, lab_dir, args, *, enabled=True):
        self.root = pathlib.Path(lab_dir) / CHECKPOINT_FOLDER
        self.args = args
        self.enabled = enabled
        self.fingerprint = fingerprint(args)
        self.every = getattr(args, "checkpoint_every", None)
        self.resumed = False
        self.resumed_from_epoch = None  # the epoch the first resumed fit continued from; None: a new run
        self.restored_fits = []  # history files of fits restored, not retrained
        self.current = None  # (history_name, epochs saved) of the fit in progress
        self._backup = None  # the EpochBackup of the fit in progress
        self._continued_a_backup = False

    # -- the run ---------------------------------------------------------------------------------
    def open(self, *, restart=False, command="the same command"):
        """Decide whether this run resumes; ``restart`` discards an existing checkpoint. Returns a note or None."""
        if not self.enabled:
            return None
        state_path = self.root / "state.json"
        if restart and self.root.exists():
            shutil.rmtree(self.root)
            return "starting over (--restart): removed the checkpoint of the interrupted run"
        if not state_path.exists():
            shutil.rmtree(self.root, ignore_errors=True)  # leftovers of a run killed before its first save
            return None
        try:
            state = json.loads(state_path.read_text())
        except (OSError, ValueError):
            shutil.rmtree(self.root, ignore_errors=True)
            return "the checkpoint was unreadable and was removed; starting over"
        if state.get("flags") != self.fingerprint:
            raise UserError(f"{self.root} holds the checkpoint of a different command "
                            f"({state.get('command', '?')}); rerun that command to resume it, or add --restart "
                            "to discard it and start over")
        self.resumed = True
        self.resumed_from_epoch = 0
        return None

    def _write_state(self):
        path = self.root / "state.json"
        if not path.exists():
            artifacts.write_json({"command": getattr(self.args, "command_line", None), "flags": self.fingerprint},
                                 path)

    def discard(self):
        """Remove the whole checkpoint (a finished run)."""
        shutil.rmtree(self.root, ignore_errors=True)

    # -- one fit ---------------------------------------------------------------------------------
    def fit_dir(self, history_name):
        return self.root / pathlib.Path(history_name).stem

    def history_path(self, history_name):
        return self.fit_dir(history_name) / "history.csv"

    def finished(self, history_name):
        """The record of a fit that ended before the interruption (a resumed run only), or None."""
        path = self.fit_dir(history_name) / "finished.json"
        if not (self.resumed and path.exists()):
            return None
        return json.loads(path.read_text())

    def saved_epoch(self, history_name):
        """``(epochs done, batch)`` of this fit's backup, or None when there is none."""
        backup = self.fit_dir(history_name) / "backup"
        if not self.resumed or not backup.exists():
            return None
        recover(backup)
        try:
            metadata = json.loads((backup / METADATA_FILE).read_text())
        except (OSError, ValueError):
            return None
        return int(metadata["epoch"]), int(metadata.get("batch", 0))

    def start_fit(self, history_name, saved):
        """Before ``fit``: truncate the partial history to the saved epochs; returns them as a dict of lists."""
        path = self.history_path(history_name)
        epochs_done = saved[0] if saved else 0
        self.current = (history_name, epochs_done)
        if saved and not self._continued_a_backup:  # run.json's resumed_from_epoch: the first one
            self.resumed_from_epoch = epochs_done
            self._continued_a_backup = True
        if not path.exists():
            return {}
        if not saved:
            path.unlink()
            return {}
        lines = path.read_text().splitlines(keepends=True)
        header, rows = lines[:1], [line for line in lines[1:] if line.strip()]
        rows = [line for line in rows if int(float(line.split(",")[0])) < epochs_done]
        artifacts.write_text("".join(header + rows), path)
        return _columns(path)

    def callback(self, history_name):
        """The ``BackupAndRestore`` callback for this fit (goes last among the callbacks)."""
        backup = EpochBackup(self.fit_dir(history_name) / "backup", save_freq=self.every or "epoch",
                             on_save=self._write_state)
        self._backup = backup
        return backup

    def loop_backup(self, history_name):
        """The custom loop's counterpart of :meth:`callback` (``dlcourse.distributed``, a
        ``tf.train.CheckpointManager`` in the same ``backup/`` folder)."""
        from dlcourse.distributed import LoopBackup

        backup = LoopBackup(self.fit_dir(history_name) / "backup", every=self.every, on_save=self._write_state)
        self._backup = backup
        return backup

    def epoch_saved(self):
        """Epochs of the fit in progress that are safe on disk (for the interruption message)."""
        backup = self._backup
        if backup is not None and backup.saved_epoch is not None:
            return backup.saved_epoch
        return self.current[1] if self.current else None

    def finish_fit(self, model, history_name, history, *, seconds, samples_per_epoch):
        """Record a fit that ended: its weights (with the optimizers) and history; drop its backup."""
        folder = self.fit_dir(history_name)
        folder.mkdir(parents=True, exist_ok=True)
        self._write_state()
        model.save_weights(str(folder / "finished.weights.h5"), overwrite=True)
        record = {"history": history.history, "epoch": list(history.epoch), "seconds": seconds,
                  "samples_per_epoch": samples_per_epoch}
        artifacts.write_json(record, folder / "finished.json")
        shutil.rmtree(folder / "backup", ignore_errors=True)
        self.current = None
        self._backup = None

    def restore_fit(self, model, history_name, record):
        """Load a finished fit's weights into ``model``; returns a ``History`` with its epochs."""
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its state is in the file too
        model.load_weights(str(self.fit_dir(history_name) / "finished.weights.h5"))
        self.restored_fits.append(history_name)
        history = keras.callbacks.History()
        history.set_model(model)
        history.history = {key: list(values) for key, values in record["history"].items()}
        history.epoch = list(record["epoch"])
        return history


def _columns(path):
    """A CSVLogger file as ``{column: [floats]}``, like ``History.history``: the epoch column and the
    all-"NA" ``val_`` columns CSVLogger adds for a fit without validation are left out."""
    rows = artifacts.read_csv(path)
    keys = [key for key in (rows[0] if rows else {}) if key != "epoch"
            and any(row[key] not in ("NA", "") for row in rows)]
    return {key: [_number(row[key]) for row in rows] for key in keys}


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
