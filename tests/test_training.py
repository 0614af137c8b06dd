"""The shared lab runner (dlcourse/training.py): flags, run folder, fit callbacks, run.json."""

import argparse
import json

import keras
import numpy as np
import pytest

from dlcourse import arguments, artifacts, training
from dlcourse.errors import UserError


def parse(argv, number="03", epochs=5, batch_size=16):
    return training.parse_lab_args(training.lab_parser(number, epochs=epochs, batch_size=batch_size), argv)


def tiny_classifier():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, activation="softmax", name="tiny_out")(keras.layers.Dense(8, activation="relu")(inputs))
    return keras.Model(inputs, outputs, name="tiny")


def test_common_flags_and_smoke(tmp_path):
    args = parse(["--out", str(tmp_path), "--seed", "7"])
    assert (args.epochs, args.batch_size, args.seed, args.dataset, args.strategy) == (5, 16, 7, "mnist", "auto")
    args = parse(["--smoke", "--epochs", "9", "--out", str(tmp_path)])
    assert (args.dataset, args.epochs) == ("sample", 1)
    assert args.command_line.startswith("dlcourse run 03 --smoke")


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "must be > 0"),
    (["--batch-size", "ten"], "expected an int"),
    (["--strategy", "gpu"], "invalid choice"),
    (["--dataset", "imagenet"], "invalid choice"),
    (["--seed", "-1"], "argument --seed: must be from 0 to 4294967295 (2**32 - 1), got '-1'"),
    (["--seed", str(2**32)], "must be from 0 to 4294967295"),
    (["--seed", "1.5"], "argument --seed: expected an integer, got '1.5'"),
])
def test_bad_flag_values_exit_with_one_message(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        parse(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_lab_run_records_training(tmp_path, capsys):
    args = parse(["--out", str(tmp_path), "--epochs", "3", "--strategy", "default"])
    x = np.random.default_rng(0).random((40, 4)).astype("float32")
    y = (x[:, 0] * 3).astype("int64").clip(0, 2)
    with training.LabRun("03", args) as run:
        with run.strategy.scope():
            model = tiny_classifier()
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = run.fit(model, x, y, validation_split=0.25, epochs=args.epochs, batch_size=args.batch_size)
        run.save_model(model, "ffn_adam.h5")
        record = run.finish(metrics={"accuracy": np.float32(history.history["accuracy"][-1])}, model=model,
                            weights=np.array([0.2, 0.1]))
    folder = tmp_path / "03_deep_ffn"
    assert sorted(p.name for p in folder.iterdir()) == ["ffn_adam.h5", "history.csv", "learning_curves.png", "run.json"]
    assert [row["epoch"] for row in artifacts.read_csv(folder / "history.csv")] == ["0", "1", "2"]
    saved = json.loads((folder / "run.json").read_text())
    assert saved == json.loads(json.dumps(record))
    assert saved["lab"] == "03_deep_ffn" and saved["seed"] == 42 and saved["parameters"] == 67
    assert saved["strategy"] == {"name": "default", "replicas": 1}
    assert saved["metrics"]["accuracy"] == pytest.approx(history.history["accuracy"][-1])
    assert saved["weights"] == [0.2, 0.1]
    assert saved["models"] == {"ffn_adam.h5": {"parameters": 67}}
    assert set(saved["versions"]) == {"dlcourse", "tensorflow", "keras", "numpy", "python"}
    assert saved["training_seconds"] > 0 and saved["samples_per_second"] == pytest.approx(
        3 * 30 / saved["training_seconds"], rel=0.01)
    assert "run.json" in saved["outputs"] and "ffn_adam.h5" in saved["outputs"]
    assert capsys.readouterr().out.strip().endswith(f"lab03 accuracy={saved['metrics']['accuracy']:.4f} params=67")


def test_early_stopping_stops_and_restores(tmp_path):
    args = parse(["--out", str(tmp_path), "--strategy", "default"])
    x = np.zeros((16, 4), "float32")
    y = np.zeros(16, "int64")
    with training.LabRun("03", args) as run:
        model = tiny_classifier()
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
        history = run.fit(model, x, y, validation_split=0.25, epochs=20, early_stopping={"patience": 2})
    assert len(history.epoch) == 3  # lr 0: val_loss never improves after the first epoch


class BatchSpy(keras.layers.Layer):
    """Records the first feature of every training batch (the example's index, see below)."""

    def __init__(self, seen, **kwargs):
        super().__init__(**kwargs)
        self.record = seen.append  # (a list attribute would be copied into Keras' tracked list)

    def call(self, inputs, training=None):
        if training:
            self.record(np.rint(np.asarray(inputs)[:, 0] * 100).astype(int).tolist())
        return inputs


def spied_epochs(tmp_path, seed):
    """Three epochs of ``LabRun.fit`` on 100 arrays (x[i, 0] = i / 100), 10% held out; the batches seen."""
    args = parse(["--out", str(tmp_path), "--strategy", "default", "--seed", str(seed), "--restart"])
    x = np.stack([np.arange(100) / 100, np.ones(100)], axis=1)  # float64, as x / 255.0 gives
    seen = []
    with training.LabRun("03", args) as run:
        model = keras.Sequential([keras.Input((2,)), BatchSpy(seen), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", run_eagerly=True)
        history = run.fit(model, x, x[:, 0], validation_split=0.1, epochs=3, batch_size=10)
    epochs = [sum(seen[epoch * 9:(epoch + 1) * 9], []) for epoch in range(3)]
    return epochs, history, model, x


def test_fit_on_arrays_reshuffles_every_epoch_and_a_seed_repeats_the_run(tmp_path):
    # Keras 3's own array input replays one order in every epoch once a global seed is set
    epochs, history, model, x = spied_epochs(tmp_path / "a", seed=5)
    assert [sorted(order) for order in epochs] == [list(range(90))] * 3  # every training example once
    assert epochs[0] != epochs[1] != epochs[2] != epochs[0]  # a new order each epoch
    assert epochs[0] != list(range(90))
    again, _, _, _ = spied_epochs(tmp_path / "b", seed=5)
    assert again == epochs  # the seed gives the same run
    other, _, _, _ = spied_epochs(tmp_path / "c", seed=6)
    assert other[0] != epochs[0]
    # the last 10% validate, as Keras' validation_split takes them
    held_out = model.evaluate(x[90:], x[90:, 0], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(held_out, rel=1e-5)


def test_nan_loss_stops_training_with_a_user_error(tmp_path):
    args = parse(["--out", str(tmp_path), "--strategy", "default"])
    x = np.full((8, 4), 1e3, "float32")
    with training.LabRun("03", args) as run:
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        model.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")  # diverges to inf/NaN
        with pytest.raises(UserError, match="NaN"):
            run.fit(model, x, np.ones(8, "float32"), epochs=5, batch_size=2)
    assert not (tmp_path / "03_deep_ffn" / "history.csv").exists()
    assert not (tmp_path / "03_deep_ffn" / "run.json").exists()


def test_samples_per_epoch_is_inferred_only_when_it_can_be_known():
    import tensorflow as tf

    x = np.zeros((40, 4), "float32")
    assert training.samples_in(x, {"validation_split": 0.25}) == 30
    assert training.samples_in({"a": x}, {}) == 40
    exact = tf.data.Dataset.from_tensor_slices(x).batch(8, drop_remainder=True)
    assert training.samples_in(exact, {}) == 40
    assert training.samples_in(tf.data.Dataset.from_tensor_slices(x).batch(8), {}) == 0  # last batch unknown

    class Batches(keras.utils.PyDataset):
        batch_size = 10

        def __len__(self):
            return 4

        def __getitem__(self, index):
            return x[:10], x[:10]

    assert training.samples_in(Batches(), {}) == 40


def test_missing_dataset_offline_is_one_message_and_writes_nothing(tmp_path, capsys, monkeypatch):
    """The whole path a student takes: `dlcourse run 06` without CIFAR-10 and without network."""
    from dlcourse import cli

    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.keras/datasets copy either
    code = cli.main(["run", "06", "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"),
                     "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1 and error.startswith("error: ")
    for part in ("cifar-10-python.tar.gz", str(tmp_path / "data"), "https://", "--dataset sample"):
        assert part in error
    assert not (tmp_path / "out").exists()


def test_fraction_and_rate_flag_types():
    assert arguments.fraction("0.25") == 0.25 and arguments.rate("0") == 0.0
    for parse, bad in ((arguments.fraction, "0"), (arguments.fraction, "1"), (arguments.rate, "1.5"), (arguments.rate, "-0.1")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


def test_out_must_be_a_writable_folder(tmp_path, capsys):
    a_file = tmp_path / "plot.png"
    a_file.write_bytes(b"png")
    with pytest.raises(SystemExit) as stopped:
        parse(["--out", str(a_file / "sub")])
    assert stopped.value.code == 2
    assert "is not a folder you can write to" in capsys.readouterr().err


def test_outputs_are_readable_by_others(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        path = artifacts.write_json({"a": 1}, tmp_path / "run.json")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600


SMOKE_NOTE = ("(smoke run: a seconds-long check that the lab works end to end, not a result; "
              "`dlcourse run 03 --help` says what to observe in a full run)")


@pytest.mark.parametrize("smoke", [True, False])
def test_smoke_run_says_its_numbers_are_near_chance(tmp_path, capsys, smoke):
    args = parse(["--smoke"] * smoke + ["--out", str(tmp_path), "--strategy", "default"])
    capsys.readouterr()
    with training.LabRun("03", args) as run:
        record = run.finish(metrics={"accuracy": 0.1})
    header, *printed = capsys.readouterr().out.splitlines()
    assert header.startswith("lab 03_deep_ffn: ")
    # the result line, then the note for smoke runs only
    assert printed == (["lab03 accuracy=0.1000", SMOKE_NOTE] if smoke else ["lab03 accuracy=0.1000"])
    saved = json.loads((tmp_path / "03_deep_ffn" / "run.json").read_text())
    assert saved["smoke"] is record["smoke"] is smoke


def test_seed_flag_takes_the_whole_numpy_range(tmp_path):
    assert arguments.seed("0") == 0 and arguments.seed(str(2**32 - 1)) == 2**32 - 1
    args = parse(["--smoke", "--out", str(tmp_path), "--strategy", "default", "--seed", str(2**32 - 1)])
    with training.LabRun("03", args):  # seeds NumPy, Python and TF without complaint
        pass


def test_a_new_run_removes_stale_partial_files_and_run_json_but_keeps_the_checkpoint(tmp_path):
    folder = tmp_path / "03_deep_ffn"
    (folder / ".checkpoint").mkdir(parents=True)
    stale = [".history.k2j4h5g6.partial.csv", ".ffn_adam.abc_1234.partial.h5", "run.json"]
    kept = ["history.csv", "ffn_adam.h5", ".checkpoint"]
    for name in stale + kept[:2]:
        (folder / name).write_text("old")
    args = parse(["--smoke", "--out", str(tmp_path), "--strategy", "default"])
    with training.LabRun("03", args):
        assert sorted(path.name for path in folder.iterdir()) == sorted(kept)


def test_a_full_disk_during_a_lab_is_one_line_and_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    import errno
    import os

    from dlcourse import cli

    def full_disk(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"\x89HDF")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(keras.Model, "save", full_disk)
    assert cli.main(["run", "07", "--smoke", "--out", str(tmp_path), "--strategy", "default"]) == 2
    error = capsys.readouterr().err
    folder = tmp_path / "07_lenet5"
    assert error == (f"error: no space left on device writing {folder / 'lenet5.h5'}; free space or choose "
                     "another --out\n")
    assert not [path for path in folder.iterdir() if ".partial" in path.name]
    assert not (folder / "run.json").exists()


def test_a_full_disk_while_checkpointing_is_one_line(tmp_path, capsys, monkeypatch):
    """A real (non-smoke) run checkpoints through Keras, outside dlcourse.artifacts: still one line."""
    import errno
    import os

    from dlcourse import cli

    def full_disk(self, filepath, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))

    monkeypatch.setattr(keras.Model, "save_weights", full_disk)
    code = cli.main(["run", "16", "--dataset", "sample", "--epochs", "1", "--out", str(tmp_path),
                     "--strategy", "default"])
    error = capsys.readouterr().err
    assert code == 2, error
    assert error.startswith("error: no space left on device writing ") and error.count("\n") == 1
    assert str(tmp_path / "16_dense_autoencoder") in error and "Traceback" not in error
