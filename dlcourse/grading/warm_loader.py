"""Warm loaders: ``python -m dlcourse.grading.worker --serve`` processes kept for the sandbox.

A warm loader imports TensorFlow once and forks one limited child per file or model it is asked
about, so a model costs its own load, not a Python and TensorFlow start. Each grading thread
(``--jobs``) checks one out and back in (:func:`with_loader`); :func:`shutdown` ends them all.
The loader itself has no memory or CPU limit (it only imports TensorFlow and forks; it never opens
a student's file); each forked child sets the request's limits before it reads anything, so a
loader that dies is never a student's doing: it is closed and replaced.
"""

import atexit
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from dlcourse.grading import processes

STARTUP_SECONDS = 300  # a warm loader imports TensorFlow: seconds, or minutes on a crowded machine
GRACE_SECONDS = 30  # beyond a model's own time limit, which the loader enforces

_loaders = set()  # every warm loader alive
_idle = []  # those not working for a grading thread now
_lock = threading.Lock()


class LoaderFailed(Exception):
    """A warm loader did not start (the request then runs in a fresh process)."""


class Loader:
    """One warm loader process (``worker --serve``), its pipes and its scratch folder."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="dlcourse-loader-")
        self.buffer = bytearray()
        try:
            with open(os.path.join(self.folder, "loader.stderr"), "wb") as stderr:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "dlcourse.grading.worker", "--serve"], cwd=self.folder,
                    env=processes.environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=stderr, preexec_fn=processes.limits(None, None))
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise LoaderFailed from None
        with _lock:
            _loaders.add(self)
        if processes.stopping():  # stopped between the caller's check and the start
            self.close()
            raise processes.Interrupted
        if "ready" not in (self._read(STARTUP_SECONDS) or {}):
            self.close()
            if processes.stopping():
                raise processes.Interrupted
            raise LoaderFailed

    def _read(self, seconds):
        """The next result line as a dict, or None when the loader ended, misbehaved or took too long."""
        deadline = time.monotonic() + seconds
        descriptor = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or processes.stopping():
                return None
            if select.select([descriptor], [], [], min(remaining, 0.25))[0]:
                chunk = os.read(descriptor, 1 << 16)
                if not chunk or len(self.buffer) + len(chunk) > processes.MAX_RESULT_BYTES + 1024:
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
        processes.stop(self.process)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
        with _lock:
            _loaders.discard(self)
            if self in _idle:
                _idle.remove(self)


def loaders():
    """Every warm loader alive, working or idle."""
    return list(_loaders)


def idle():
    """The warm loaders alive that no grading thread is using now."""
    return list(_idle)


def shutdown():
    """End every warm loader and remove its scratch folder."""
    with _lock:
        alive = list(_loaders)
        _idle.clear()
    for loader in alive:
        loader.close()


atexit.register(shutdown)


def _checkout():
    """An idle warm loader, or a new one; raises :class:`Interrupted` or :class:`LoaderFailed`."""
    if processes.stopping():
        raise processes.Interrupted
    with _lock:
        if _idle:
            return _idle.pop()
    return Loader()


def _checkin(loader):
    with _lock:
        if loader in _loaders and not processes.stopping():
            _idle.append(loader)
            return
    loader.close()


def use_fork():
    """Whether warm loaders are used: Linux with ``fork``, unless ``DLCOURSE_GRADING_SPAWN=1``."""
    return (hasattr(os, "fork") and sys.platform.startswith("linux")
            and os.environ.get("DLCOURSE_GRADING_SPAWN") != "1")


def with_loader(work, attempts):
    """``work(loader)`` on a warm loader; None when there is none or it kept failing.

    A loader that dies is closed and (up to ``attempts`` times) replaced: that is never a student's
    doing, since the loader opens no file itself.
    """
    if not use_fork():
        return None
    for _ in range(attempts):
        try:
            loader = _checkout()
        except LoaderFailed:
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
        if processes.stopping():
            raise processes.Interrupted
    return None
