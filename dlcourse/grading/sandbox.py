"""Run untrusted work in separate processes with a time and a memory limit.

Two kinds of child, each in its own session so a kill of its process group reaches everything it
started, with ``RLIMIT_AS`` (address space), ``RLIMIT_CPU`` and no core dumps:

- the inspector (``inspector.py``): reads a student's files without Keras (the static ``.h5``
  checks, JSON, zip listing and unpacking), one forked child per file with the per-file time limit;
- the loader (``worker.py``): loads one model with ``safe_mode=True`` and runs its checks.

Both run in a warm loader (``python -m dlcourse.grading.worker --serve``) that imports TensorFlow
once and forks one limited child per file or model, so a model costs its own load, not a Python and
TensorFlow start. Each grading thread (``--jobs``) keeps one; :func:`shutdown` ends them. Where
``fork`` is not available, a loader cannot start, or with ``DLCOURSE_GRADING_SPAWN=1``, each student's
files get a fresh inspector process and each model a fresh worker process instead.

The parent never parses a student's file: it reads only the results these children send. A crash,
a hang or a memory blow-up is a verdict about that file, never a grader crash. ``stop_all()``
(Ctrl-C, SIGTERM) kills every child and loader still running and makes the next start raise
:class:`Interrupted`.
"""

import atexit
import json
import os
import pathlib
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from dlcourse.grading import worker

DEFAULT_TIMEOUT_SECONDS = 120
DEFAULT_MEMORY_MB = 6144  # address space; TensorFlow alone reserves ~3 GB of it (2 GB is too little)
INSPECTOR = pathlib.Path(__file__).resolve().parent / "inspector.py"
MAX_RESULT_BYTES = worker.MAX_RESULT_BYTES
STDERR_TAIL_BYTES = worker.STDERR_TAIL_BYTES
STARTUP_SECONDS = 300  # a warm loader imports TensorFlow: seconds, or minutes on a crowded machine
GRACE_SECONDS = 30  # beyond a model's own time limit, which the loader enforces
STOP_SECONDS = 5  # for a stopped child to reap its own children and exit

_children = set()
_children_lock = threading.Lock()
_stopping = threading.Event()
_loaders = set()  # every warm loader alive
_idle = []  # those not working for a grading thread now


class Interrupted(Exception):
    """Grading was stopped (Ctrl-C or SIGTERM); the result of the interrupted work is not a verdict."""


def stop_all():
    """Stop every child process started here and refuse to start more (safe in a signal handler).

    Each gets SIGTERM, on which a forking child (inspector, loader) kills and reaps its own children
    before it exits; whoever waits on a child kills its whole group if it is not gone in
    ``STOP_SECONDS`` (:func:`_stop`).
    """
    _stopping.set()
    for process in [*_children, *(loader.process for loader in list(_loaders))]:
        _terminate(process)


def stopping():
    return _stopping.is_set()


def allow_starts():
    """Undo :func:`stop_all` (a new ``dlcourse grade`` in the same process, e.g. a test)."""
    _stopping.clear()


def running_children():
    """PIDs of the children working now: inspectors, one-shot workers and busy loaders (for tests)."""
    idle = {loader.process.pid for loader in list(_idle)}
    return sorted({process.pid for process in list(_children)}
                  | {loader.process.pid for loader in list(_loaders)} - idle)


def warm_loaders():
    """PIDs of the warm loaders alive, working or idle (for tests)."""
    return sorted(loader.process.pid for loader in list(_loaders))


def shutdown():
    """End every warm loader and remove its scratch folder (at the end of ``grade`` / ``check``)."""
    with _children_lock:
        loaders = list(_loaders)
        _idle.clear()
    for loader in loaders:
        loader.close()


atexit.register(shutdown)


def _kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the child leads its own session: its group is its PID
    except (ProcessLookupError, PermissionError):
        pass


def _terminate(process):
    try:
        process.send_signal(signal.SIGTERM)
    except (ProcessLookupError, OSError):
        pass


def _stop(process):
    """End ``process`` and everything in its group: SIGTERM (it reaps its own children, so none is
    left an orphan), then SIGKILL to the group if it is still there after ``STOP_SECONDS``."""
    if process.poll() is None:
        _terminate(process)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    _kill(process)
    process.wait()


def _limits(memory_mb, cpu_seconds):
    def apply():
        if memory_mb is not None:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.setsid()  # its own process group, so a kill reaches its children too

    return apply


def _environment():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
            "DLCOURSE_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}


def _run(command, folder, *, timeout, memory_mb):
    """Run ``command`` in ``folder`` under the limits; ``(returncode, stderr tail)``, or None on timeout."""
    if _stopping.is_set():
        raise Interrupted
    folder = pathlib.Path(folder)
    with open(folder / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(command, cwd=folder, env=_environment(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr,
                                   preexec_fn=_limits(memory_mb, worker.cpu_seconds(timeout)))
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
            _stop(process)
            if _stopping.is_set():
                raise Interrupted
            return None
    finally:
        with _children_lock:
            _children.discard(process)
        _kill(process)  # anything the child left behind in its group
    if _stopping.is_set():
        raise Interrupted
    with open(folder / "stderr.txt", "rb") as stderr:
        stderr.seek(max(0, os.path.getsize(folder / "stderr.txt") - STDERR_TAIL_BYTES))
        return process.returncode, stderr.read().decode("utf-8", "replace")


def _read_result(path):
    """Our own child's result file, read with a size limit (it may quote a student's strings)."""
    if not path.is_file() or path.stat().st_size > MAX_RESULT_BYTES:
        return None
    return path.read_text(encoding="utf-8", errors="replace")


class _LoaderFailed(Exception):
    """A warm loader did not start (the request then runs in a fresh process)."""


class _Loader:
    """One warm loader process (``worker --serve``), its pipes and its scratch folder.

    The loader itself has no memory or CPU limit (it only imports TensorFlow and forks; it never
    opens a student's file); each forked child sets the request's limits before it reads anything.
    """

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="dlcourse-loader-")
        self.buffer = bytearray()
        try:
            with open(os.path.join(self.folder, "loader.stderr"), "wb") as stderr:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "dlcourse.grading.worker", "--serve"], cwd=self.folder,
                    env=_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                    preexec_fn=_limits(None, None))
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise _LoaderFailed from None
        with _children_lock:
            _loaders.add(self)
        if _stopping.is_set():  # stopped between the caller's check and the start
            self.close()
            raise Interrupted
        if "ready" not in (self._read(STARTUP_SECONDS) or {}):
            self.close()
            if _stopping.is_set():
                raise Interrupted
            raise _LoaderFailed

    def _read(self, seconds):
        """The next result line as a dict, or None when the loader ended, misbehaved or took too long."""
        deadline = time.monotonic() + seconds
        descriptor = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or _stopping.is_set():
                return None
            if select.select([descriptor], [], [], min(remaining, 0.25))[0]:
                chunk = os.read(descriptor, 1 << 16)
                if not chunk or len(self.buffer) + len(chunk) > MAX_RESULT_BYTES + 1024:
                    return None
                self.buffer += chunk
        position = self.buffer.index(b"\n")
        line = bytes(self.buffer[:position])
        del self.buffer[:position + 1]
        try:
            message = json.loads(line)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def ask(self, message, seconds):
        """The loader's answer to ``message``; None when it failed (close it, try another)."""
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (OSError, ValueError):
            return None
        return self._read(seconds)

    def load(self, request, timeout, memory_mb):
        """The result of loading one model, or None."""
        result = self.ask({"kind": "load", "request": request, "timeout": timeout, "memory_mb": memory_mb},
                          timeout + GRACE_SECONDS)
        return result if result is not None and "ok" in result else None

    def inspect(self, tasks, timeout, memory_mb):
        """The inspector's result dicts for ``tasks``, or None."""
        answer = self.ask({"kind": "inspect", "tasks": tasks, "timeout": timeout, "memory_mb": memory_mb},
                          timeout * len(tasks) + GRACE_SECONDS)
        results = (answer or {}).get("results")
        if isinstance(results, list) and len(results) == len(tasks) and all(
                isinstance(result, dict) and "ok" in result for result in results):
            return results
        return None

    def close(self):
        _stop(self.process)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
        with _children_lock:
            _loaders.discard(self)
            if self in _idle:
                _idle.remove(self)


def _checkout():
    """An idle warm loader, or a new one; raises :class:`Interrupted` or :class:`_LoaderFailed`."""
    if _stopping.is_set():
        raise Interrupted
    with _children_lock:
        if _idle:
            return _idle.pop()
    return _Loader()


def _checkin(loader):
    with _children_lock:
        if loader in _loaders and not _stopping.is_set():
            _idle.append(loader)
            return
    loader.close()


def _use_fork():
    return (hasattr(os, "fork") and sys.platform.startswith("linux")
            and os.environ.get("DLCOURSE_GRADING_SPAWN") != "1")


def run_in_sandbox(request, *, timeout=DEFAULT_TIMEOUT_SECONDS, memory_mb=DEFAULT_MEMORY_MB):
    """Load and evaluate the model of ``request`` (a JSON-able dict) under the limits; its result dict.

    The result always has ``"ok"``; when loading fails, ``"error"`` says why in words a student
    understands (time limit, memory limit, crash). Raises :class:`Interrupted` after ``stop_all()``.
    """
    # The loader runs in its own scratch folder: hand it absolute paths.
    request = {**request, "model_path": str(pathlib.Path(request["model_path"]).absolute())}
    if request.get("data_dir"):
        request["data_dir"] = str(pathlib.Path(request["data_dir"]).resolve())
    result = _with_loader(lambda loader: loader.load(request, timeout, memory_mb), attempts=2)
    if result is not None:
        return result
    return _run_once(request, timeout=timeout, memory_mb=memory_mb)  # as on systems without fork


def _with_loader(work, attempts):
    """``work(loader)`` on a warm loader; None when there is none or it kept failing.

    A loader that dies is closed and (up to ``attempts`` times) replaced: that is never a student's
    doing, since the loader opens no file itself.
    """
    if not _use_fork():
        return None
    for _ in range(attempts):
        try:
            loader = _checkout()
        except _LoaderFailed:
            return None
        try:
            result = work(loader)
        except BaseException:
            loader.close()
            raise
        if result is not None:
            _checkin(loader)
            return result
        loader.close()
        if _stopping.is_set():
            raise Interrupted
    return None


def _run_once(request, *, timeout, memory_mb):
    """The model of ``request`` in a fresh limited process (``worker REQUEST RESULT``)."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-sandbox-") as folder:
        request_path = pathlib.Path(folder) / "request.json"
        result_path = pathlib.Path(folder) / "result.json"
        request_path.write_text(json.dumps({**request, "memory_mb": memory_mb}))
        command = [sys.executable, "-m", "dlcourse.grading.worker", str(request_path), str(result_path)]
        completed = _run(command, folder, timeout=timeout, memory_mb=memory_mb)
        if completed is None:
            return {"ok": False, "error": worker.TIME_MESSAGE.format(timeout)}
        returncode, stderr = completed
        text = _read_result(result_path)
        if text is not None:
            try:
                result = json.loads(text)
                if isinstance(result, dict) and "ok" in result:
                    return result
            except ValueError:
                pass
    return worker.failure(returncode, stderr, memory_mb)


def inspect_files(tasks, *, timeout=DEFAULT_TIMEOUT_SECONDS, memory_mb=DEFAULT_MEMORY_MB):
    """Run the inspector on ``tasks`` (see ``inspector.py``); one result dict per task, in order.

    Each file has ``timeout`` seconds; a file the inspector never reached (it was stopped) gets a
    verdict saying so. Raises :class:`Interrupted` after ``stop_all()``.
    """
    if not tasks:
        return []
    tasks = [{**task, "path": str(pathlib.Path(task["path"]).absolute())} for task in tasks]
    results = _with_loader(lambda loader: loader.inspect(tasks, timeout, memory_mb), attempts=2)
    if results is not None:
        return results
    results = [None] * len(tasks)
    with tempfile.TemporaryDirectory(prefix="dlcourse-inspect-") as folder:
        request_path = pathlib.Path(folder) / "request.json"
        result_path = pathlib.Path(folder) / "result.jsonl"
        request_path.write_text(json.dumps({"tasks": tasks, "timeout": timeout}))
        command = [sys.executable, str(INSPECTOR), str(request_path), str(result_path)]
        completed = _run(command, folder, timeout=timeout * len(tasks) + 30, memory_mb=memory_mb)
        for line in (_read_result(result_path) or "").splitlines():
            try:
                result = json.loads(line)
                index = result.pop("index")
                if isinstance(index, int) and 0 <= index < len(tasks) and "ok" in result:
                    results[index] = result
            except (ValueError, KeyError, AttributeError, TypeError):
                continue
    why = "the inspection ran out of time" if completed is None else "the inspection stopped before it"
    return [result or {"ok": False, "error": f"{os.path.basename(task['path'])} could not be read ({why})"}
            for task, result in zip(tasks, results)]
