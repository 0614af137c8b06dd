"""Resumable runs (dlcourse/resume.py and LabRun.fit): kill -9, SIGTERM, Ctrl-C, NaN, --restart.

Resumed weights are compared with an uninterrupted run on full-batch training (one step per epoch),
where the data order cannot matter: a resumed fit restores weights, optimizer state, epoch and the
GAN's noise position, but shuffling restarts its sequence. Tolerance: float summation order only.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest

from dlcourse import artifacts, catalog, resume, training
from dlcourse.errors import UserError
from lab_runs import run_record

TOLERANCE = dict(rtol=1e-4, atol=1e-5)
FULL_BATCH = "4096"  # above every embedded training set: one step per epoch


def wait_for(predicate, *, deadline_s, process=None, interval=0.02):
    """Poll ``predicate`` until true; fail at the deadline or if ``process`` ended first."""
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            pytest.fail(f"the lab ended (status {process.returncode}) before the condition was met:\n"
                        + process.stdout.read())
        time.sleep(interval)
    pytest.fail(f"not met within {deadline_s} s")


def saved_epoch(folder, stem="history"):
    """Epochs in the checkpoint of fit ``stem`` (0 when none)."""
    path = folder / resume.CHECKPOINT_FOLDER / stem / "backup" / "training_metadata.json"
    try:
        return json.loads(path.read_text())["epoch"]
    except (OSError, ValueError):
        return 0


def start_lab(number, out, *flags):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "dlcourse", "run", number, "--out", str(out), *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)


def run_lab(number, out, *flags):
    lab = catalog.get_lab(number)
    code = catalog.load_lab_module(lab).main(["--out", str(out), *flags])
    assert code in (None, 0)
    return pathlib.Path(out) / lab.name


def epochs_in(csv_path):
    return [int(row["epoch"]) for row in artifacts.read_csv(csv_path)]


def h5_weights(path):
    arrays = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return arrays


def assert_same_weights(first, second):
    a, b = h5_weights(first), h5_weights(second)
    assert sorted(a) == sorted(b) and a
    for name in a:
        np.testing.assert_allclose(a[name], b[name], err_msg=name, **TOLERANCE)


LAB16 = ["--dataset", "sample", "--epochs", "6", "--batch-size", FULL_BATCH]


@pytest.mark.long  # starts its own processes: CI runs it with -m long
@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_a_killed_lab_resumes_at_its_last_epoch(how, tmp_path, capsys):
    process = start_lab("16", tmp_path / "run", *LAB16)
    folder = tmp_path / "run" / "16_dense_autoencoder"
    try:
        wait_for(lambda: saved_epoch(folder) >= 1, deadline_s=120, process=process)
        process.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    epoch = saved_epoch(folder)
    assert 1 <= epoch < 6
    if how == "SIGTERM":
        assert process.returncode == 143
        assert (f"interrupted: lab 16 stopped at epoch {epoch}; rerun the same command to resume, "
                "or add --restart") in output
    else:
        assert process.returncode == -signal.SIGKILL
    assert not (folder / "run.json").exists()

    capsys.readouterr()
    run_lab("16", tmp_path / "run", *LAB16)
    assert f"resuming lab 16 from epoch {epoch} of 6" in capsys.readouterr().out
    assert epochs_in(folder / "history.csv") == list(range(6))
    assert run_record(folder)["resumed_from_epoch"] == epoch
    assert not (folder / resume.CHECKPOINT_FOLDER).exists()
    if how == "kill -9":  # the same weights as a run that was never stopped
        reference = run_lab("16", tmp_path / "reference", *LAB16)
        assert run_record(reference)["resumed_from_epoch"] is None
        assert_same_weights(folder / "autoencoder.h5", reference / "autoencoder.h5")
        history = artifacts.read_csv(folder / "history.csv")
        expected = artifacts.read_csv(reference / "history.csv")
        np.testing.assert_allclose([float(row["loss"]) for row in history],
                                   [float(row["loss"]) for row in expected], **TOLERANCE)


def test_restart_discards_the_checkpoint(tmp_path, capsys):
    folder = tmp_path / "16_dense_autoencoder"
    with pytest.raises(SystemExit) as stopped:
        with interrupt_after_saving("history", 2):
            run_lab("16", tmp_path, *LAB16)
    assert stopped.value.code == 130
    assert "interrupted: lab 16 stopped at epoch 2;" in capsys.readouterr().err
    assert saved_epoch(folder) == 2
    run_lab("16", tmp_path, *LAB16, "--restart")
    output = capsys.readouterr().out
    assert "starting over (--restart)" in output and "resuming" not in output
    assert run_record(folder)["resumed_from_epoch"] is None
    assert epochs_in(folder / "history.csv") == list(range(6))
    assert not (folder / resume.CHECKPOINT_FOLDER).exists()


class interrupt_after_saving:
    """Ctrl-C (KeyboardInterrupt) right after the checkpoint of ``epoch`` epochs of fit ``stem``."""

    def __init__(self, stem, epoch):
        self.stem, self.epoch = stem, epoch

    def __enter__(self):
        original = self.original = resume.EpochBackup._save_model
        stem, epoch = self.stem, self.epoch

        def save_then_interrupt(backup):
            original(backup)
            if pathlib.Path(backup.backup_dir).parent.name == stem and backup.saved_epoch == epoch:
                raise KeyboardInterrupt

        resume.EpochBackup._save_model = save_then_interrupt

    def __exit__(self, *exc):
        resume.EpochBackup._save_model = self.original
        return False


def test_gan_lab_resumes_with_both_optimizers(tmp_path, monkeypatch, capsys):
    flags = ["--dataset", "sample", "--epochs", "3", "--model", "mlp", "--batch-size", "1437",
             "--score-samples", "32", "--latent-dim", "8"]  # 1,437 digits: one step per epoch
    folder = tmp_path / "run" / "14_dcgan"
    with pytest.raises(SystemExit) as stopped, interrupt_after_saving("history", 1):
        run_lab("14", tmp_path / "run", *flags)
    assert stopped.value.code == 130 and saved_epoch(folder) == 1

    restored = []
    original = resume.EpochBackup.on_train_begin

    def record_restored(backup, logs=None):
        original(backup, logs)
        restored.append((int(backup.model.d_optimizer.iterations.numpy()),
                         int(backup.model.g_optimizer.iterations.numpy())))

    monkeypatch.setattr(resume.EpochBackup, "on_train_begin", record_restored)
    capsys.readouterr()
    run_lab("14", tmp_path / "run", *flags)
    assert "resuming lab 14 from epoch 1 of 3" in capsys.readouterr().out
    assert restored == [(1, 1)]  # D's and G's Adam both continue after their one step
    assert epochs_in(folder / "history.csv") == [0, 1, 2]
    assert sorted(path.name for path in folder.glob("samples_epoch_*.png"))[-1] == "samples_epoch_003.png"
    monkeypatch.undo()
    reference = run_lab("14", tmp_path / "reference", *flags)
    assert_same_weights(folder / "mlp_generator.h5", reference / "mlp_generator.h5")
    assert_same_weights(folder / "mlp_discriminator.h5", reference / "mlp_discriminator.h5")


def test_multi_model_lab_does_not_retrain_a_finished_model(tmp_path, monkeypatch, capsys):
    flags = ["--dataset", "sample", "--epochs", "3", "--optimizers", "sgd", "adam", "--hidden-units", "16",
             "--batch-size", FULL_BATCH, "--experiments", "optimizers"]
    folder = tmp_path / "run" / "03_deep_ffn"
    with pytest.raises(SystemExit), interrupt_after_saving("history_adam", 1):
        run_lab("03", tmp_path / "run", *flags)
    assert "stopped at epoch 1 of history_adam.csv" in capsys.readouterr().err
    sgd_history = (folder / "history_sgd.csv").read_text()

    fits = []
    original_fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda model, *a, **k: fits.append(type(model.optimizer).__name__)
                        or original_fit(model, *a, **k))
    run_lab("03", tmp_path / "run", *flags)
    output = capsys.readouterr().out
    assert "history_sgd.csv had finished; its weights and history are restored" in output
    assert "resuming lab 03 from epoch 1 of 3 (history_adam.csv)" in output
    assert fits == ["Adam"]  # SGD's model was not trained again
    assert (folder / "history_sgd.csv").read_text() == sgd_history
    assert epochs_in(folder / "history_adam.csv") == [0, 1, 2]
    record = run_record(folder)
    assert record["resumed_from_epoch"] == 1 and record["resumed_fits_not_retrained"] == ["history_sgd.csv"]
    assert not (folder / resume.CHECKPOINT_FOLDER).exists()

    monkeypatch.undo()
    reference = run_lab("03", tmp_path / "reference", *flags)
    rows = {row["optimizer"]: row for row in artifacts.read_csv(folder / "optimizer_comparison.csv")}
    expected = {row["optimizer"]: row for row in artifacts.read_csv(reference / "optimizer_comparison.csv")}
    for key in ("train_accuracy", "val_accuracy", "test_accuracy", "test_loss"):  # the restored model's numbers
        assert float(rows["sgd"][key]) == pytest.approx(float(expected["sgd"][key]), rel=1e-6)


def tiny_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="tiny_out")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


class PoisonAtEpoch(keras.callbacks.Callback):
    """Sets a kernel to NaN when ``epoch`` begins, so its first step's loss is NaN."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.layers[-1].kernel  # linear output: NaN reaches the loss
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))


def tiny_fit(tmp_path, *flags, callbacks=()):
    args = training.parse_lab_args(training.lab_parser("16", epochs=5, batch_size=8),
                                   ["--out", str(tmp_path), "--strategy", "default", *flags])
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    with training.LabRun("16", args) as run:
        model = tiny_model()
        run.fit(model, x, x[:, :1], epochs=args.epochs, batch_size=args.batch_size, shuffle=False,
                callbacks=list(callbacks))
        run.finish(model=model)
    return model


def test_nan_stop_keeps_the_last_good_checkpoint(tmp_path, capsys):
    folder = tmp_path / "16_dense_autoencoder"
    with pytest.raises(UserError, match="the checkpoint of epoch 2 is kept; add --restart"):
        tiny_fit(tmp_path, callbacks=[PoisonAtEpoch(2)])
    assert saved_epoch(folder) == 2
    weights = h5_weights(folder / resume.CHECKPOINT_FOLDER / "history" / "backup" / "latest.weights.h5")
    assert all(np.all(np.isfinite(array)) for array in weights.values())

    resumed = tiny_fit(tmp_path)  # the same command resumes from the good epoch
    assert "resuming lab 16 from epoch 2 of 5" in capsys.readouterr().out
    assert epochs_in(folder / "history.csv") == [0, 1, 2, 3, 4]
    assert int(resumed.optimizer.iterations.numpy()) == 5 * 4
    reference = tiny_fit(tmp_path / "reference")
    for got, expected in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, expected, **TOLERANCE)
    assert not (folder / resume.CHECKPOINT_FOLDER).exists()


def test_step_checkpoints_and_a_different_command(tmp_path, capsys):
    folder = tmp_path / "16_dense_autoencoder"
    with pytest.raises(SystemExit), interrupt_after_saving("history", 0):  # Ctrl-C after the first save
        tiny_fit(tmp_path, "--checkpoint-every", "3")
    metadata = json.loads((folder / ".checkpoint/history/backup/training_metadata.json").read_text())
    assert metadata == {"epoch": 0, "batch": 2}  # after step 3 of epoch 1 (4 steps per epoch)
    with pytest.raises(UserError, match="checkpoint of a different command"):
        tiny_fit(tmp_path, "--epochs", "4")
    capsys.readouterr()
    tiny_fit(tmp_path, "--checkpoint-every", "3")
    assert ("resuming lab 16 from epoch 0 of 5 (weights from step 3 of epoch 1, which restarts)"
            in capsys.readouterr().out)
    assert epochs_in(folder / "history.csv") == [0, 1, 2, 3, 4]


def test_new_run_removes_an_old_run_record_and_help_lists_the_flags(tmp_path, capsys):
    folder = tmp_path / "16_dense_autoencoder"
    folder.mkdir()
    (folder / "run.json").write_text("{}")
    args = training.parse_lab_args(training.lab_parser("16", epochs=1, batch_size=8), ["--out", str(tmp_path)])
    with training.LabRun("16", args):
        assert not (folder / "run.json").exists()
    with pytest.raises(SystemExit):
        training.lab_parser("16", epochs=1, batch_size=8).parse_args(["--help"])
    text = capsys.readouterr().out
    assert "--checkpoint-every N" in text and "--restart" in text


GAN_FLAGS = ["--dataset", "sample", "--epochs", "4", "--model", "mlp", "--batch-size", "1437",
             "--score-samples", "32", "--latent-dim", "8"]
MULTI_FLAGS = ["--dataset", "sample", "--epochs", "4", "--optimizers", "sgd", "adam", "--hidden-units", "16",
               "--batch-size", FULL_BATCH, "--experiments", "optimizers"]


@pytest.mark.long
@pytest.mark.parametrize("number, flags, stem, history_name", [
    ("14", GAN_FLAGS, "history", "history.csv"),              # a GAN: both optimizers, the noise position
    ("03", MULTI_FLAGS, "history_adam", "history_adam.csv"),  # several models: the finished one is kept
])
def test_kill_9_of_a_gan_or_multi_model_lab_resumes(number, flags, stem, history_name, tmp_path, capsys):
    """The process really dies (kill -9, no handler runs); the rerun continues where the checkpoint is."""
    lab = catalog.get_lab(number)
    folder = tmp_path / "run" / lab.name
    process = start_lab(number, tmp_path / "run", *flags)
    try:
        wait_for(lambda: saved_epoch(folder, stem) >= 1, deadline_s=240, process=process)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    epoch = saved_epoch(folder, stem)
    assert 1 <= epoch < 4 and not (folder / "run.json").exists()

    capsys.readouterr()
    run_lab(number, tmp_path / "run", *flags)
    output = capsys.readouterr().out
    assert f"resuming lab {number} from epoch {epoch} of 4" in output
    assert epochs_in(folder / history_name) == [0, 1, 2, 3]
    record = run_record(folder)
    assert record["resumed_from_epoch"] == epoch
    if number == "03":
        assert record["resumed_fits_not_retrained"] == ["history_sgd.csv"]
        assert epochs_in(folder / "history_sgd.csv") == [0, 1, 2, 3]
    assert not (folder / resume.CHECKPOINT_FOLDER).exists()
    reference = run_lab(number, tmp_path / "reference", *flags)
    model_file = "mlp_generator.h5" if number == "14" else "ffn_adam.h5"
    assert_same_weights(folder / model_file, reference / model_file)
