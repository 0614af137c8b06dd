"""Test-session setup: offline, quiet, two logical CPU devices for tf.distribute tests, one worker per core.

Tests never touch the network (``DLCOURSE_OFFLINE=1``). The CPU is split into two logical devices
before TensorFlow initialises, so ``MirroredStrategy(["/cpu:0", "/cpu:1"])`` can be compared with the
default strategy in-process; everything else still runs on ``/cpu:0``.

The suite runs in pytest-xdist workers (``-n auto --dist loadfile`` in setup.cfg): one per CPU core,
at most :data:`MAX_TEST_WORKERS`, each test file in one worker so its module fixtures (a lab's smoke
run) run once. Most tests are small eager TensorFlow steps, one Python thread each, so two workers on
two cores finish in about half the time of one process (5:41 against 10:58 on this project's 2-core
machine). ``-n 0`` runs everything in this process. The xdist controller only hands out tests, so it
does not import TensorFlow.
"""

import os

os.environ["DLCOURSE_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

MAX_TEST_WORKERS = 4  # each worker holds TensorFlow and a few labs' models: about 3 GB of memory


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, at most :data:`MAX_TEST_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, MAX_TEST_WORKERS))


def _is_xdist_controller(config):
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_configure(config):
    """Split the CPU into two logical devices in every process that runs tests, before TensorFlow starts."""
    if _is_xdist_controller(config):
        return
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


TWO_CPU_DEVICES = ["/cpu:0", "/cpu:1"]


@pytest.fixture(scope="session")
def two_cpu_strategy():
    """A MirroredStrategy over the two logical CPU devices (two replicas), shared by the session.

    One instance for the whole session: two MirroredStrategy objects in one process reuse collective
    keys, and the second one's all-reduce fails with "Shape mismatch in the collective instance".
    """
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(TWO_CPU_DEVICES, cross_device_ops=tf.distribute.ReductionToOneDevice())


@pytest.fixture(autouse=True)
def _isolated_data_environment(monkeypatch, tmp_path_factory):
    """No test reads a developer's real $DLCOURSE_DATA or changes the checksum setting by accident."""
    monkeypatch.delenv("DLCOURSE_DATA", raising=False)
    monkeypatch.delenv("DLCOURSE_VERIFY", raising=False)
    monkeypatch.delenv("TF_CONFIG", raising=False)
