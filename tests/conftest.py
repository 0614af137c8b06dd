"""Test-session setup: offline, quiet, two logical CPU devices for tf.distribute tests.

Tests never touch the network (``DLCOURSE_OFFLINE=1``). The CPU is split into two logical devices
before TensorFlow initialises, so ``MirroredStrategy(["/cpu:0", "/cpu:1"])`` can be compared with the
default strategy in-process; everything else still runs on ``/cpu:0``.
"""

import os

os.environ["DLCOURSE_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

TWO_CPU_DEVICES = ["/cpu:0", "/cpu:1"]


@pytest.fixture(scope="session")
def two_cpu_strategy():
    """A MirroredStrategy over the two logical CPU devices (two replicas), shared by the session.

    One instance for the whole session: two MirroredStrategy objects in one process reuse collective
    keys, and the second one's all-reduce fails with "Shape mismatch in the collective instance".
    """
    return tf.distribute.MirroredStrategy(TWO_CPU_DEVICES, cross_device_ops=tf.distribute.ReductionToOneDevice())


@pytest.fixture(autouse=True)
def _isolated_data_environment(monkeypatch, tmp_path_factory):
    """No test reads a developer's real $DLCOURSE_DATA or changes the checksum setting by accident."""
    monkeypatch.delenv("DLCOURSE_DATA", raising=False)
    monkeypatch.delenv("DLCOURSE_VERIFY", raising=False)
    monkeypatch.delenv("TF_CONFIG", raising=False)
