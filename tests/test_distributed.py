"""The custom training loop (dlcourse.distributed) and the local launcher (dlcourse.launcher).

Multi-worker runs start real worker processes on 127.0.0.1 (``dlcourse run NN --workers 2``, bounded
by ``--timeout``), and are compared with an in-process run of the same lab, global batch, seed and
data order (``DLCOURSE_TRAINING_LOOP=custom``: the same loop on one replica).

Tolerances, on every weight of the saved .h5 files (max and mean of |difference|): lab 18 (VAE, no
batch norm) 1e-5 / 1e-8 (it agrees to ~5e-8); labs 06 and 14 (batch norm, synchronised across
replicas) 2e-3 / 2e-5, the ``--devices`` run (Keras' fit, 2 replicas vs 1) 5e-3 / 1e-4. The
differences are float rounding (per-worker gradient sums, the synchronised batch-norm moments)
amplified by Adam's first steps, which move a weight by about ±lr whatever its gradient's size, so a
near-zero gradient of the other sign costs ~2 lr: hence the mean, which is ~lr for runs that train
differently and ~1e-5 here. The epoch's logged losses agree to 1e-3 relative.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse import distributed, launcher, runtime
from lab_runs import run_record, run_smoke

WORKER_TIMEOUT = 240  # seconds: a bound on every multi-worker run here (each takes ~20 s)


def _h5_weights(path):
    arrays = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: arrays.__setitem__(name, np.array(item))
                        if isinstance(item, h5py.Dataset) else None)
    return arrays


def _assert_same_weights(first, second, atol, mean_atol):
    a, b = _h5_weights(first), _h5_weights(second)
    assert sorted(a) == sorted(b) and a
    differences = np.concatenate([np.abs(a[key] - b[key]).ravel() for key in a])
    assert differences.max() <= atol, f"{first.name}: largest weight difference {differences.max():.2e}"
    assert differences.mean() <= mean_atol, f"{first.name}: mean weight difference {differences.mean():.2e}"


def _dlcourse(*arguments, env=None, timeout=WORKER_TIMEOUT + 30, **popen):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    environment.pop("TF_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "dlcourse", *arguments], env=environment, timeout=timeout,
                          capture_output=True, text=True, **popen)


def _worker_folders():
    return set(pathlib.Path(tempfile.gettempdir()).glob("dlcourse-*-worker*-"))


# -- the loop itself, in-process ---------------------------------------------------------------------
def _compiled_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def test_custom_loop_logs_and_trains_like_fit():
    """Same data order (no shuffling): the loop's history (incl. validation) and weights are fit's."""
    x = np.random.default_rng(0).random((70, 4)).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int64") + (x[:, 0] > 0.8)
    reference = _compiled_model()
    expected = reference.fit(x, y, batch_size=16, epochs=3, validation_split=0.2, shuffle=False, verbose=0)
    model = _compiled_model()
    history = distributed.fit(model, x, y, strategy=tf.distribute.get_strategy(), batch_size=16, epochs=3,
                              validation_split=0.2, shuffle=False)
    assert sorted(history.history) == sorted(expected.history)
    for key, values in expected.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5, err_msg=key)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_custom_loop_stops_on_nan_before_logging_the_epoch():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])  # linear: NaN in, NaN loss out
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.full((8, 4), np.nan, dtype="float32")
    with pytest.raises(RuntimeError, match="NaN"):
        distributed.fit(model, x, np.zeros(8, "int64"), strategy=tf.distribute.get_strategy(), batch_size=4)


def test_launcher_flags_and_cluster_config():
    assert launcher.split_flags(["--smoke", "--workers", "2", "--timeout=30", "--seed", "1"]) == (
        2, None, 30.0, ["--smoke", "--seed", "1"])
    ports = launcher.free_ports(3)
    assert len(set(ports)) == 3
    config = json.loads(launcher.cluster_config(ports, 1))
    assert config["task"] == {"type": "worker", "index": 1}
    assert config["cluster"]["worker"] == [f"127.0.0.1:{port}" for port in ports]


# -- several processes -------------------------------------------------------------------------------
LAB_MODELS = {"06": (["cnn_cifar10_model.h5"], (2e-3, 2e-5)),
              "14": (["dcgan_generator.h5", "dcgan_discriminator.h5"], (2e-3, 2e-5)),
              "18": (["vae_encoder.h5", "vae_decoder.h5"], (1e-5, 1e-8))}


@pytest.mark.long
@pytest.mark.parametrize("number", sorted(LAB_MODELS))
def test_two_workers_train_what_one_process_trains(number, tmp_path, monkeypatch):
    before = _worker_folders()
    result = _dlcourse("run", number, "--smoke", "--workers", "2", "--timeout", str(WORKER_TIMEOUT),
                       "--out", str(tmp_path / "multi"))
    assert result.returncode == 0, result.stderr[-3000:]
    folders = list((tmp_path / "multi").iterdir())
    assert len(folders) == 1  # the chief's lab folder, nothing from the other worker
    assert _worker_folders() == before  # the other worker's temporary folder is gone
    record = run_record(folders[0])
    assert record["cluster"]["workers"] == 2 and record["cluster"]["replicas"] == 2
    assert record["cluster"]["training_loop"] == "custom" and record["cluster"]["global_batch_size"]

    monkeypatch.setenv(runtime.TRAINING_LOOP_VARIABLE, "custom")  # the same loop and data order, one replica
    single = run_smoke(number, tmp_path / "single")
    files, tolerances = LAB_MODELS[number]
    for name in files:
        _assert_same_weights(folders[0] / name, single / name, *tolerances)
    multi_history = (folders[0] / "history.csv").read_text().splitlines()
    single_history = (single / "history.csv").read_text().splitlines()
    assert multi_history[0] == single_history[0]  # the same columns
    row = lambda line: [float("nan") if value == "NA" else float(value) for value in line.split(",")]  # noqa: E731
    np.testing.assert_allclose(row(multi_history[1]), row(single_history[1]), rtol=1e-3)


@pytest.mark.long  # a fresh process tree, tens of seconds: CI runs it after the default suite
def test_devices_split_the_cpu_into_replicas(tmp_path):
    """``--devices 2 --strategy mirrored``: 2 replicas in one process, the weights of one device."""
    result = _dlcourse("run", "06", "--smoke", "--devices", "2", "--strategy", "mirrored",
                       "--out", str(tmp_path / "two"))
    assert result.returncode == 0, result.stderr[-3000:]
    two = tmp_path / "two" / "06_cifar10_cnn"
    assert run_record(two)["strategy"] == {"name": "MirroredStrategy", "replicas": 2}
    one = run_smoke("06", tmp_path / "one")  # Keras' fit on one device, the same shuffling
    assert run_record(one)["strategy"]["replicas"] == 1
    _assert_same_weights(two / "cnn_cifar10_model.h5", one / "cnn_cifar10_model.h5", 5e-3, 1e-4)


def _pid_of_worker(log, index, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("dlcourse: ") and f"worker {index} (pid " in line:
                return int(line.split(f"worker {index} (pid ")[1].split(")")[0])
        time.sleep(0.2)
    raise AssertionError(f"the launcher never named worker {index}:\n{log.read_text()[-2000:]}")


@pytest.mark.long
def test_a_killed_worker_resumes_from_the_chiefs_checkpoint(tmp_path):
    command = [sys.executable, "-m", "dlcourse", "run", "06", "--dataset", "sample", "--epochs", "3",
               "--batch-size", "128", "--workers", "2", "--timeout", str(WORKER_TIMEOUT), "--out", str(tmp_path)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    log = tmp_path.parent / f"{tmp_path.name}-launcher.log"
    metadata = tmp_path / "06_cifar10_cnn" / ".checkpoint" / "history" / "backup" / "training_metadata.json"
    with open(log, "w") as output:
        run = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            worker = _pid_of_worker(log, 1)
            deadline = time.monotonic() + WORKER_TIMEOUT
            while not (metadata.exists() and json.loads(metadata.read_text())["epoch"] >= 1):
                assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.05)
            os.kill(worker, signal.SIGKILL)  # the non-chief dies mid-run
            assert run.wait(timeout=120) != 0
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    lab = tmp_path / "06_cifar10_cnn"
    assert not (lab / "run.json").exists()
    epochs_saved = json.loads(metadata.read_text())["epoch"]
    assert 1 <= epochs_saved < 3

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT + 30)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming lab 06 from epoch {epochs_saved} of 3" in rerun.stdout
    rows = (lab / "history.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [0, 1, 2]  # each epoch once
    record = run_record(lab)
    assert record["resumed_from_epoch"] == epochs_saved and record["epochs"] == 3
    assert not (lab / ".checkpoint").exists()
