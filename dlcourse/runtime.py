"""Seeds, `tf.distribute` strategy selection and the environment report (`dlcourse info`).

Every lab builds and compiles its model inside ``get_strategy(args.strategy).scope()`` (docs/DESIGN.md,
"Runs: resume and scale-out"). Known Keras 3 limits are checked here so a student gets one clear
sentence instead of a deep traceback.
"""

import os
import pathlib
import platform
import random
import sys

import numpy as np

from dlcourse.errors import UserError

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")


def set_seed(seed, deterministic=False):
    """Seed Python, NumPy, TensorFlow and Keras; with ``deterministic`` also make TF ops deterministic.

    Op determinism makes reruns bit-identical at some speed cost (and some ops raise when they have
    no deterministic kernel), which is why it is opt-in.
    """
    import keras
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend (TF) seeds
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _visible_gpus():
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def _cluster_configured():
    import json

    try:
        return bool(json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster"))
    except ValueError:
        raise UserError("TF_CONFIG is not valid JSON; fix or unset it") from None


def _tpu_available():
    return bool(os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"))


def resolve_strategy_name(name="auto"):
    """The concrete strategy ``auto`` stands for on this machine (or ``name`` itself)."""
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    if name != "auto":
        return name
    if _cluster_configured():
        return "multiworker"
    if _tpu_available():
        return "tpu"
    if len(_visible_gpus()) > 1:
        return "mirrored"
    return "default"


def get_strategy(name="auto"):
    """A ``tf.distribute.Strategy`` by name: ``auto | default | mirrored | multiworker | tpu``.

    ``auto`` picks MultiWorkerMirroredStrategy when ``TF_CONFIG`` names a cluster, TPUStrategy on a
    Colab TPU, MirroredStrategy when more than one GPU is visible, and the default strategy otherwise.
    """
    import tensorflow as tf

    name = resolve_strategy_name(name)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        cpus = tf.config.list_logical_devices("CPU")
        if not _visible_gpus() and len(cpus) > 1:  # --devices N: one replica per logical CPU device
            return tf.distribute.MirroredStrategy([device.name for device in cpus],
                                                  cross_device_ops=tf.distribute.ReductionToOneDevice())
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise UserError(f"no TPU could be reached ({error}); use --strategy auto on this machine") from None
    return tf.distribute.TPUStrategy(resolver)


def strategy_description(strategy):
    """``{"name": class name, "replicas": n}`` for the run record ("default" for TF's default strategy)."""
    name = type(strategy).__name__
    return {"name": "default" if name == "_DefaultDistributionStrategy" else name,
            "replicas": int(strategy.num_replicas_in_sync)}


CPU_DEVICES_VARIABLE = "DLCOURSE_CPU_DEVICES"
TRAINING_LOOP_VARIABLE = "DLCOURSE_TRAINING_LOOP"


def configure_cpu_devices(count=None):
    """Split the CPU into ``count`` logical devices (default ``$DLCOURSE_CPU_DEVICES``) before TF starts.

    With ``--strategy mirrored`` each logical device is one replica, so a laptop shows data
    parallelism (``dlcourse run NN --devices 2 --strategy mirrored``). Returns the count, or None.
    """
    import tensorflow as tf

    text = os.environ.get(CPU_DEVICES_VARIABLE, "") if count is None else str(count)
    if not text.strip():
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise UserError(f"{CPU_DEVICES_VARIABLE}={text!r}: expected a number of devices >= 1")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if len(current or [None]) == count:
        return count
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise UserError(f"cannot split the CPU into {count} devices: TensorFlow had already started; "
                        f"set {CPU_DEVICES_VARIABLE} (or --devices) before it starts") from None
    return count


def is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def uses_custom_loop(strategy):
    """True where ``LabRun.fit`` trains with :mod:`dlcourse.distributed`'s loop instead of ``model.fit``.

    Keras 3's ``fit`` (and ``evaluate``) fail under MultiWorkerMirroredStrategy: "Attempt to convert a
    value (PerReplica...) with an unsupported type" (keras-team/keras#20585; seen on Keras 3.10 and
    3.15). ``DLCOURSE_TRAINING_LOOP=custom`` forces the loop under any strategy (tests compare the two).
    """
    forced = os.environ.get(TRAINING_LOOP_VARIABLE, "").strip().lower()
    if forced not in ("", "auto", "fit", "custom"):
        raise UserError(f"{TRAINING_LOOP_VARIABLE}={forced!r}: expected auto, fit or custom")
    if forced == "custom":
        return True
    return forced != "fit" and is_multi_worker(strategy)


def task_of(strategy):
    """``(task_type, task_id)`` of this process in a multi-worker cluster, ``(None, None)`` otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None) if is_multi_worker(strategy) else None
    if resolver is None or not resolver.cluster_spec().as_dict():
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy):
    """True for the process that writes the lab folder (TF's rule: the chief, else worker 0)."""
    task_type, task_id = task_of(strategy)
    if task_type is None:
        return True
    resolver = strategy.cluster_resolver
    if "chief" in resolver.cluster_spec().as_dict():
        return task_type == "chief"
    return task_type == "worker" and task_id == 0


def cluster_description(strategy, global_batch_size=None):
    """run.json's ``cluster``: workers, replicas, this task and the global / per-replica batch."""
    task_type, task_id = task_of(strategy)
    replicas = int(strategy.num_replicas_in_sync)
    workers = (sum(len(tasks) for kind, tasks in strategy.cluster_resolver.cluster_spec().as_dict().items()
                   if kind in ("chief", "worker")) if task_type is not None else 1)
    record = {"workers": workers, "replicas": replicas,
              "task": f"{task_type}:{task_id}" if task_type is not None else None,
              "training_loop": "custom" if uses_custom_loop(strategy) else "fit",
              "global_batch_size": global_batch_size}
    if global_batch_size:
        record["per_replica_batch_size"] = global_batch_size / replicas
    return record


def onednn_setting():
    """What ``TF_ENABLE_ONEDNN_OPTS`` says (TF enables oneDNN by default on x86 Linux)."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if value is None:
        return "unset (TensorFlow's default: on for x86 Linux builds)"
    return "on" if value.strip() in ("1", "true", "True") else "off"


def environment_report(data_dir=None):
    """Versions, devices, data root and settings, as printed by ``dlcourse info``."""
    import keras
    import tensorflow as tf

    import dlcourse
    from dlcourse import artifacts, catalog, data

    devices = [f"{device.device_type}:{device.name}" for device in tf.config.list_physical_devices()]
    return {
        "dlcourse": dlcourse.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "devices": devices,
        "cpu_count": os.cpu_count(),
        "strategy_auto": resolve_strategy_name("auto"),
        "installed_at": str(pathlib.Path(dlcourse.__file__).parent),
        "labs_folder": str(catalog.labs_directory()),
        "output_root": str(artifacts.output_root().absolute()),
        "data_root": str(data.data_root(data_dir)),
        "data_search_paths": [str(path) for path in data.search_paths(data_dir)],
        "offline": data.files.offline(),
        "verify_checksums": data.files.verification_enabled(),
        "onednn": onednn_setting(),
    }


def versions():
    """The versions recorded in every run.json."""
    import keras
    import tensorflow as tf

    import dlcourse

    return {"dlcourse": dlcourse.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0]}
