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

This module is the API (``run_in_sandbox``, ``inspect_files``, ``stop_all``, ``shutdown``); the
limited processes are :mod:`dlcourse.grading.processes`, the warm loaders
:mod:`dlcourse.grading.warm_loader`.
"""

import json
import os
import pathlib
import sys
import tempfile

from dlcourse.grading import processes, warm_loader, worker
from dlcourse.grading.processes import Interrupted, allow_starts, stopping
from dlcourse.grading.warm_loader import shutdown

DEFAULT_TIMEOUT_SECONDS = 120
DEFAULT_MEMORY_MB = 6144  # address space; TensorFlow alone reserves ~3 GB of it (2 GB is too little)
INSPECTOR = pathlib.Path(__file__).resolve().parent / "inspector.py"

__all__ = ["run_in_sandbox", "inspect_files", "stop_all", "stopping", "allow_starts", "shutdown",
           "running_children", "warm_loaders", "Interrupted", "DEFAULT_TIMEOUT_SECONDS",
           "DEFAULT_MEMORY_MB"]


def stop_all():
    """Stop every child process started here and refuse to start more (safe in a signal handler).

    Each gets SIGTERM, on which a forking child (inspector, loader) kills and reaps its own children
    before it exits; whoever waits on a child kills its whole group if it is not gone in
    ``processes.STOP_SECONDS`` (:func:`processes.stop`).
    """
    processes.refuse_starts()
    for process in [*processes.running(), *(loader.process for loader in warm_loader.loaders())]:
        processes.terminate(process)


def running_children():
    """PIDs of the children working now: inspectors, one-shot workers and busy loaders (for tests)."""
    idle = {loader.process.pid for loader in warm_loader.idle()}
    return sorted({process.pid for process in processes.running()}
                  | {loader.process.pid for loader in warm_loader.loaders()} - idle)


def warm_loaders():
    """PIDs of the warm loaders alive, working or idle (for tests)."""
    return sorted(loader.process.pid for loader in warm_loader.loaders())


def run_in_sandbox(request, *, timeout=DEFAULT_TIMEOUT_SECONDS, memory_mb=DEFAULT_MEMORY_MB):
    """Load and evaluate the model of ``request`` (a JSON-able dict) under the limits; its result dict.

    The result always has ``"ok"``; when loading fails, ``"error"`` says why in words a student
    understands (time limit, memory limit, crash). Raises :class:`Interrupted` after ``stop_all()``.
    """
    # The loader runs in its own scratch folder: hand it absolute paths.
    request = {**request, "model_path": str(pathlib.Path(request["model_path"]).absolute())}
    if request.get("data_dir"):
        request["data_dir"] = str(pathlib.Path(request["data_dir"]).resolve())
    result = warm_loader.with_loader(lambda loader: loader.load(request, timeout, memory_mb), attempts=2)
    if result is not None:
        return result
    return _run_once(request, timeout=timeout, memory_mb=memory_mb)  # as on systems without fork


def _run_once(request, *, timeout, memory_mb):
    """The model of ``request`` in a fresh limited process (``worker REQUEST RESULT``)."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-sandbox-") as folder:
        request_path = pathlib.Path(folder) / "request.json"
        result_path = pathlib.Path(folder) / "result.json"
        request_path.write_text(json.dumps({**request, "memory_mb": memory_mb}))
        command = [sys.executable, "-m", "dlcourse.grading.worker", str(request_path), str(result_path)]
        completed = processes.run(command, folder, timeout=timeout, memory_mb=memory_mb)
        if completed is None:
            return {"ok": False, "error": worker.TIME_MESSAGE.format(timeout)}
        returncode, stderr = completed
        text = processes.read_result(result_path)
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
    results = warm_loader.with_loader(lambda loader: loader.inspect(tasks, timeout, memory_mb), attempts=2)
    if results is not None:
        return results
    results = [None] * len(tasks)
    with tempfile.TemporaryDirectory(prefix="dlcourse-inspect-") as folder:
        request_path = pathlib.Path(folder) / "request.json"
        result_path = pathlib.Path(folder) / "result.jsonl"
        request_path.write_text(json.dumps({"tasks": tasks, "timeout": timeout}))
        command = [sys.executable, str(INSPECTOR), str(request_path), str(result_path)]
        completed = processes.run(command, folder, timeout=timeout * len(tasks) + 30, memory_mb=memory_mb)
        for line in (processes.read_result(result_path) or "").splitlines():
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
