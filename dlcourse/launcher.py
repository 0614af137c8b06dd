"""``dlcourse run NN --workers N``: a multi-worker cluster of N local processes, and ``--devices N``.

The launcher starts N copies of ``dlcourse run NN [lab flags]`` on 127.0.0.1, each with its own
``TF_CONFIG`` (a cluster of N workers on free ports; worker 0 is the chief), each pinned to one
device (``CUDA_VISIBLE_DEVICES`` set to one GPU each where there are enough GPUs, else empty: one
CPU device). The chief's output streams to this terminal; the other workers' go to log files in a
temporary folder, shown (with the last lines) when a worker fails. If one worker fails, the launcher
stops every worker it started (SIGTERM, then SIGKILL after a grace period) and exits with the failing
worker's status; otherwise with the chief's. ``--timeout SECONDS`` bounds the whole run.

``--devices N`` (or ``DLCOURSE_CPU_DEVICES=N``) splits the CPU into N logical devices before
TensorFlow starts, so ``--strategy mirrored`` trains N replicas on one laptop.
"""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from dlcourse import runtime
from dlcourse.errors import UserError

__all__ = ["split_flags", "free_ports", "cluster_config", "launch"]

LAUNCHER_FLAGS = ("--workers", "--devices", "--timeout")
GRACE_SECONDS = 10.0  # how long a stopped worker may take to save and exit before SIGKILL


def count_flag(flag, text, minimum=1, kind=int):
    """``text`` as a number >= ``minimum`` for ``flag``, or a :class:`UserError` saying what was expected."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        value = None
    if value is None or value < minimum:
        raise UserError(f"{flag} expects a number >= {minimum}, got {text!r}")
    return value


def take_flags(flags, names):
    """``({name: value}, other flags)``: the flags in ``names`` (``--name V`` or ``--name=V``; a missing
    value is None) taken out of ``flags``, the rest kept in order. Shared by ``--workers``/``--devices``/
    ``--timeout`` here and ``run all``'s ``--jobs`` (:mod:`dlcourse.run_many`)."""
    found, rest, flags, index = {}, [], list(flags), 0
    while index < len(flags):
        flag = flags[index]
        name, equals, value = flag.partition("=")
        if name in names:
            if not equals:
                index += 1
                value = flags[index] if index < len(flags) else None
            found[name] = value
        else:
            rest.append(flag)
        index += 1
    return found, rest


def split_flags(flags):
    """``(workers, devices, timeout, other flags)`` from ``dlcourse run NN`` flags (``--workers N`` or ``=N``)."""
    found, rest = take_flags(flags, LAUNCHER_FLAGS)
    workers = count_flag("--workers", found["--workers"]) if "--workers" in found else None
    devices = count_flag("--devices", found["--devices"]) if "--devices" in found else None
    timeout = count_flag("--timeout", found["--timeout"], 1, float) if "--timeout" in found else None
    return workers, devices, timeout, rest


def free_ports(count, host="127.0.0.1"):
    """``count`` distinct ports that were free a moment ago (bound to port 0, then released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def cluster_config(ports, index, host="127.0.0.1"):
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers on ``host:ports``."""
    return json.dumps({"cluster": {"worker": [f"{host}:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def _gpu_count():
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def _status(code):
    return 128 - code if code is not None and code < 0 else code  # killed by signal n -> 128 + n


def _tail(path, lines=15):
    try:
        return "\n".join(pathlib.Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(processes, grace=GRACE_SECONDS):
    """SIGTERM every process still running (each saves and exits), SIGKILL any left after ``grace``."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch(lab_key, flags, *, workers, timeout=None, grace=GRACE_SECONDS):
    """Run ``dlcourse run lab_key flags`` as ``workers`` local worker processes; returns the exit status."""
    if os.environ.get("TF_CONFIG"):
        raise UserError("--workers starts its own local cluster; unset TF_CONFIG (or run without --workers)")
    strategy = next((flags[i + 1] for i, flag in enumerate(flags[:-1]) if flag == "--strategy"),
                    next((flag.split("=", 1)[1] for flag in flags if flag.startswith("--strategy=")), "auto"))
    if strategy not in ("auto", "multiworker"):
        raise UserError(f"--workers trains under MultiWorkerMirroredStrategy; drop --strategy {strategy}")
    ports = free_ports(workers)
    gpus = _gpu_count()
    logs = pathlib.Path(tempfile.mkdtemp(prefix="dlcourse-workers-"))
    command = [sys.executable, "-m", "dlcourse", "run", lab_key, *flags]
    processes, log_files = [], []
    interruption = None
    try:
        for index in range(workers):
            env = {**os.environ, "TF_CONFIG": cluster_config(ports, index),
                   "CUDA_VISIBLE_DEVICES": str(index) if gpus >= workers else ""}
            env.pop(runtime.CPU_DEVICES_VARIABLE, None)  # one device per worker
            if index == 0:
                output = None  # the chief streams to this terminal
            else:
                output = open(logs / f"worker{index}.log", "w")
                log_files.append(output)
            processes.append(subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT
                                              if output else None, start_new_session=True))
        device = "one GPU each" if gpus >= workers else "one CPU device each"
        print(f"dlcourse: {workers} workers on 127.0.0.1 ports {', '.join(map(str, ports))} ({device}); "
              f"worker 0 (chief, pid {processes[0].pid}) prints here, "
              + ", ".join(f"worker {index} (pid {process.pid}) logs to {logs / f'worker{index}.log'}"
                          for index, process in enumerate(processes) if index),
              file=sys.stderr, flush=True)
        failed, timed_out = _watch(processes, timeout)
    except KeyboardInterrupt as error:  # Ctrl-C or SIGTERM (resume.sigterm_raises): each worker saves
        interruption = error
        failed, timed_out = None, False
    finally:
        _stop(processes, grace=grace)
        for log_file in log_files:
            log_file.close()
    if interruption is not None:
        from dlcourse import resume

        print(f"dlcourse: interrupted; stopped all {workers} workers (logs in {logs})", file=sys.stderr)
        return resume.exit_status(interruption)
    if timed_out:
        print(f"dlcourse: the workers ran past --timeout {timeout:g}s and were stopped (logs in {logs})",
              file=sys.stderr)
        return 124
    if failed is not None:
        code = _status(processes[failed].returncode)
        where = "above" if failed == 0 else f"in {logs / f'worker{failed}.log'}:\n{_tail(logs / f'worker{failed}.log')}"
        print(f"dlcourse: worker {failed} exited with status {code}; stopped the other workers. Its output is "
              f"{where}", file=sys.stderr)
        return code
    shutil.rmtree(logs, ignore_errors=True)
    return _status(processes[0].returncode)


def _watch(processes, timeout):
    """Wait until every worker has exited, or one fails, or ``timeout``; returns ``(failed index, timed out)``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        codes = [process.poll() for process in processes]
        failed = [index for index, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            return failed[0], False
        if all(code == 0 for code in codes):
            return None, False
        if deadline is not None and time.monotonic() > deadline:
            return None, True
        time.sleep(0.1)
