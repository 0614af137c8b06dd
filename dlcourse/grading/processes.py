"""Limited child processes for the sandbox: start one, wait for it, stop it and all it started.

Each child leads its own session, so a kill of its process group reaches everything it started,
and runs with ``RLIMIT_AS`` (address space), ``RLIMIT_CPU`` and no core dumps (:func:`limits`).
:func:`run` starts a one-shot child and waits for it under a time limit; :func:`refuse_starts`
(called by ``sandbox.stop_all``) makes every wait end and the next start raise
:class:`Interrupted`. The parent never reads more than :data:`MAX_RESULT_BYTES` of a child's
result, nor more than :data:`STDERR_TAIL_BYTES` of its stderr.
"""

import os
import resource
import signal
import subprocess
import threading
import time

from dlcourse.grading import worker

MAX_RESULT_BYTES = worker.MAX_RESULT_BYTES
STDERR_TAIL_BYTES = worker.STDERR_TAIL_BYTES
STOP_SECONDS = 5  # for a stopped child to reap its own children and exit

_children = set()
_children_lock = threading.Lock()
_stopping = threading.Event()


class Interrupted(Exception):
    """Grading was stopped (Ctrl-C or SIGTERM); the result of the interrupted work is not a verdict."""


def refuse_starts():
    """From now on waits end early and starts raise :class:`Interrupted` (safe in a signal handler)."""
    _stopping.set()


def stopping():
    return _stopping.is_set()


def allow_starts():
    """Undo :func:`refuse_starts`."""
    _stopping.clear()


def running():
    """The one-shot children started by :func:`run` that have not been reaped yet."""
    return list(_children)


def kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the child leads its own session: its group is its PID
    except (ProcessLookupError, PermissionError):
        pass


def terminate(process):
    try:
        process.send_signal(signal.SIGTERM)
    except (ProcessLookupError, OSError):
        pass


def stop(process):
    """End ``process`` and everything in its group: SIGTERM (it reaps its own children, so none is
    left an orphan), then SIGKILL to the group if it is still there after ``STOP_SECONDS``."""
    if process.poll() is None:
        terminate(process)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    kill(process)
    process.wait()


def limits(memory_mb, cpu_seconds):
    """A ``preexec_fn``: the memory and CPU limits (none when ``memory_mb`` is None), no core
    dumps, and a session of its own."""
    def apply():
        if memory_mb is not None:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.setsid()  # its own process group, so a kill reaches its children too

    return apply


def environment():
    """A child's environment: quiet TensorFlow, no GPU, no downloads, two threads by default."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
            "DLCOURSE_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}


def run(command, folder, *, timeout, memory_mb):
    """Run ``command`` in ``folder`` under the limits; ``(returncode, stderr tail)``, or None on timeout."""
    if _stopping.is_set():
        raise Interrupted
    with open(os.path.join(folder, "stderr.txt"), "wb") as stderr:
        process = subprocess.Popen(command, cwd=folder, env=environment(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr,
                                   preexec_fn=limits(memory_mb, worker.cpu_seconds(timeout)))
    with _children_lock:
        _children.add(process)
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None and not _stopping.is_set() and time.monotonic() < deadline:
            try:
                process.wait(timeout=min(0.25, max(0.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:  # out of time, or stopped
            stop(process)
            if _stopping.is_set():
                raise Interrupted
            return None
    finally:
        with _children_lock:
            _children.discard(process)
        kill(process)  # anything the child left behind in its group
    if _stopping.is_set():
        raise Interrupted
    path = os.path.join(folder, "stderr.txt")
    with open(path, "rb") as stderr:
        stderr.seek(max(0, os.path.getsize(path) - STDERR_TAIL_BYTES))
        return process.returncode, stderr.read().decode("utf-8", "replace")


def read_result(path):
    """Our own child's result file, read with a size limit (it may quote a student's strings)."""
    if not path.is_file() or path.stat().st_size > MAX_RESULT_BYTES:
        return None
    return path.read_text(encoding="utf-8", errors="replace")
