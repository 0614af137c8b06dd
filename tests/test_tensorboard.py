"""``--tensorboard`` / ``--profile-batches`` (dlcourse/training.py): the logs TensorBoard reads back."""

import json
import sys

import keras
import numpy as np
import pytest

from dlcourse import artifacts, training
from dlcourse.errors import UserError
from lab_runs import run_record, run_smoke

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
tensor_util = pytest.importorskip("tensorboard.util.tensor_util")


def parse(argv, number="03"):
    return training.parse_lab_args(training.lab_parser(number, epochs=3, batch_size=8), argv)


def scalars(folder):
    """``{tag: [(step, value), ...]}`` of the per-epoch scalars in a TensorBoard run folder."""
    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {tag: [(event.step, float(tensor_util.make_ndarray(event.tensor_proto))) for event in
                  accumulator.Tensors(tag)] for tag in accumulator.Tags()["tensors"] if tag.startswith("epoch_")}


def train_tiny(args, history_name="history.csv"):
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    y = (x[:, 0] * 3).astype("int64").clip(0, 2)
    with training.LabRun("03", args) as run:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        run.fit(model, x, y, validation_split=0.25, epochs=args.epochs, batch_size=args.batch_size,
                history_name=history_name, curves_name=None)
        run.finish(model=model)
    return run


@pytest.mark.parametrize("text, steps", [("10,15", (10, 15)), ("7", (7, 7))])
def test_profile_batches_parses_a_step_range(text, steps, tmp_path):
    assert parse(["--out", str(tmp_path), "--profile-batches", text]).profile_batches == steps
    assert parse(["--out", str(tmp_path)]).profile_batches is None


@pytest.mark.parametrize("text", ["ten", "15,10", "0,3", "1,2,3", ""])
def test_bad_profile_batches_exit_with_one_message(text, capsys):
    with pytest.raises(SystemExit) as stopped:
        parse(["--profile-batches", text])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "--profile-batches" in error and "START" in error and "Traceback" not in error


def test_tensorboard_logs_the_epoch_losses_of_history_csv(tmp_path):
    args = parse(["--out", str(tmp_path), "--strategy", "default", "--tensorboard"])
    run = train_tiny(args, history_name="history_adam.csv")
    folder = tmp_path / "03_deep_ffn"
    history = artifacts.read_csv(folder / "history_adam.csv")
    logged = scalars(folder / "tensorboard" / "history_adam" / "train")
    assert [step for step, _ in logged["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([value for _, value in logged["epoch_loss"]],
                               [float(row["loss"]) for row in history], rtol=1e-6, atol=1e-6)
    validation = scalars(folder / "tensorboard" / "history_adam" / "validation")["epoch_loss"]
    np.testing.assert_allclose([value for _, value in validation],
                               [float(row["val_loss"]) for row in history], rtol=1e-6, atol=1e-6)
    record = json.loads((folder / "run.json").read_text())["tensorboard"]
    assert record == {"enabled": True, "log_dir": str(run.tensorboard_dir.absolute()),
                      "runs": ["history_adam"], "profile_batches": None}
    # a rerun replaces its run's logs: TensorBoard shows one curve, not two overlaid
    train_tiny(args, history_name="history_adam.csv")
    assert len(list((folder / "tensorboard" / "history_adam" / "train").glob("events.out.tfevents.*"))) == 1
    assert len(scalars(folder / "tensorboard" / "history_adam" / "train")["epoch_loss"]) == 3


def test_without_the_flag_nothing_is_logged(tmp_path):
    train_tiny(parse(["--out", str(tmp_path), "--strategy", "default"]))
    folder = tmp_path / "03_deep_ffn"
    assert not (folder / "tensorboard").exists()
    assert json.loads((folder / "run.json").read_text())["tensorboard"] == {"enabled": False}


def test_profile_batches_writes_a_trace_and_implies_tensorboard(tmp_path):
    args = parse(["--out", str(tmp_path), "--strategy", "default", "--profile-batches", "2,3"])
    train_tiny(args)
    folder = tmp_path / "03_deep_ffn"
    assert list((folder / "tensorboard" / "history" / "train" / "plugins" / "profile").iterdir())
    assert json.loads((folder / "run.json").read_text())["tensorboard"]["profile_batches"] == [2, 3]


def test_missing_tensorboard_package_is_one_user_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard.summary.v2", None)  # as if it were not installed
    with pytest.raises(UserError, match=r'pip install "dlcourse\[tensorboard\]"'):
        train_tiny(parse(["--out", str(tmp_path), "--strategy", "default", "--tensorboard"]))
    assert not (tmp_path / "03_deep_ffn").exists()


def test_a_custom_train_step_lab_logs_its_own_losses(tmp_path):
    """Lab 14's GAN trains through GAN.train_step; its d_loss / g_loss reach TensorBoard."""
    folder = run_smoke("14", tmp_path, "--tensorboard", "--strategy", "default")
    history = artifacts.read_csv(folder / "history.csv")
    logged = scalars(folder / "tensorboard" / "history" / "train")
    for key in ("d_loss", "g_loss"):
        assert logged[f"epoch_{key}"][-1][1] == pytest.approx(float(history[-1][key]), abs=1e-6)
    assert run_record(folder)["tensorboard"]["runs"] == ["history"]
