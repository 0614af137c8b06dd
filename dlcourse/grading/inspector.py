"""The limited process that reads a student's files before anything trusts them.

``python .../dlcourse/grading/inspector.py REQUEST.json RESULT.jsonl`` (run by path, not with ``-m``:
``import dlcourse`` would load Keras, and nothing here needs it). ``sandbox.inspect_files`` starts it
with the sandbox's memory limit where no warm loader runs; the warm loader (``worker.py``) forks
the same children itself, each setting the limits. The request is a list of tasks, each about one file:

- ``{"kind": "h5", "path", "max_bytes"}``: the static model checks of ``inspect_model``;
- ``{"kind": "json", "path", "keys"}``: the strict JSON reader of ``inspect_json``; only the values
  at ``keys`` come back;
- ``{"kind": "zip", "path", "destination"}``: check every entry, then unpack (``submissions``).

Each task runs in a forked child with the per-file time limit; a child that hangs is killed, one
that crashes or raises is that file's verdict ("xor_mlp.h5 is corrupt: ..."). One JSON line per task
is appended to RESULT as soon as it is known, so the parent keeps every verdict reached even if this
process itself is stopped.
"""

import importlib.util
import json
import os
import pathlib
import select
import signal
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
MAX_RESULT_BYTES = 8 * 1024 * 1024

running = set()  # PIDs of the children forked here and not yet reaped


def stop_children(signal_number=None, frame=None):
    """The SIGTERM handler of a forking process: kill and reap its children, then exit, so that
    stopping it (Ctrl-C, SIGTERM of the grader) leaves no orphan behind."""
    for pid in list(running):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    os._exit(128 + signal.SIGTERM)


def fork_child(run):
    """Fork a child that calls ``run()`` (which must never return); its PID, in ``running``."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # no stop between fork and bookkeeping
    try:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            try:
                run()
            finally:
                os._exit(1)
        running.add(pid)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    return pid


def reap(pid):
    """Wait for a child of :func:`fork_child`; its wait status."""
    _, status = os.waitpid(pid, 0)
    running.discard(pid)
    return status


def _sibling(name):
    """A module of this folder, loaded by path (without importing the dlcourse package)."""
    spec = importlib.util.spec_from_file_location(f"_dlcourse_inspector_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corrupt(name, error):
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{name} is corrupt and cannot be read ({type(error).__name__}{': ' + text if text else ''})"


def run_task(task, modules):
    """The verdict on one file: ``{"ok": True, ...}`` or ``{"ok": False, "error": reason}``."""
    inspect_model, inspect_json, submissions = modules
    path = task["path"]
    name = os.path.basename(path)
    if task["kind"] == "h5":
        try:
            summary = inspect_model.inspect_h5(path, max_bytes=task.get("max_bytes", inspect_model.DEFAULT_MAX_BYTES))
        except inspect_model.RefusedModel as reason:
            return {"ok": False, "error": str(reason)}
        return {"ok": True, "parameters": summary.parameters, "layer_classes": sorted(set(summary.layer_classes)),
                "registered_names": summary.registered_names, "keras_version": summary.keras_version}
    if task["kind"] == "json":
        try:
            return {"ok": True, "value": inspect_json.extract(inspect_json.load(path), task.get("keys", []))}
        except FileNotFoundError:
            return {"ok": False, "error": f"{name} is missing"}
        except inspect_json.MalformedJSON as reason:
            return {"ok": False, "error": f"{name} is malformed: {reason}"}
    if task["kind"] == "zip":
        try:
            inspect_model.regular_file_size(path)
        except inspect_model.RefusedModel as reason:
            return {"ok": False, "error": str(reason)}
        try:
            submissions.extract_zip(path, task["destination"])
        except submissions.RefusedSubmission as reason:
            return {"ok": False, "error": str(reason)}
        return {"ok": True}
    raise ValueError(f"unknown task kind {task['kind']!r}")


def _child(task, modules, write_end):
    name = os.path.basename(task["path"])
    try:
        result = run_task(task, modules)
    except MemoryError:
        result = {"ok": False, "error": f"{name} needs more than the memory limit to read"}
    except RecursionError:
        result = {"ok": False, "error": f"{name} is corrupt or malformed: it nests too deeply to read"}
    except Exception as error:  # noqa: BLE001 — whatever a corrupt file makes h5py or zipfile raise
        result = {"ok": False, "error": corrupt(name, error)}
    data = json.dumps(result).encode("utf-8")
    if len(data) > MAX_RESULT_BYTES:
        data = json.dumps({"ok": False, "error": f"{name} holds too much to report"}).encode("utf-8")
    view = memoryview(data)
    while view:
        view = view[os.write(write_end, view):]


def read_result(read_end, pid, timeout, max_bytes):
    """Read a forked child's result pipe until it closes or ``timeout`` seconds pass (the child is
    then killed); keeps at most ``max_bytes`` (plus a little, so an oversized result is detectable)
    and closes ``read_end``. Returns ``(chunks, timed_out)``; the caller reaps ``pid``."""
    chunks, size, deadline = [], 0, time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                return chunks, True
            ready, _, _ = select.select([read_end], [], [], remaining)
            if ready:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    return chunks, False
                size += len(chunk)
                if size <= max_bytes + 1024:
                    chunks.append(chunk)
    finally:
        os.close(read_end)


def inspect_in_child(task, modules, timeout, prepare=None):
    """Run one task in a forked child with a wall-clock limit; its result dict.

    ``prepare`` runs first in the child: the warm loader (``worker.py``) sets the limits there,
    since it has none itself.
    """
    name = os.path.basename(task["path"])
    read_end, write_end = os.pipe()

    def child():
        code = 0
        try:
            os.close(read_end)
            if prepare is not None:
                prepare()
            _child(task, modules, write_end)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)

    pid = fork_child(child)
    os.close(write_end)
    chunks, timed_out = read_result(read_end, pid, timeout, MAX_RESULT_BYTES)
    status = reap(pid)
    if timed_out:
        what = "unpacking it" if task["kind"] == "zip" else "reading it"
        return {"ok": False, "error": f"{name} is corrupt: {what} did not finish within {timeout:g} s (time limit)"}
    if os.WIFSIGNALED(status):
        signal_number = os.WTERMSIG(status)
        if signal_number in (signal.SIGKILL, signal.SIGXCPU):
            return {"ok": False, "error": f"{name} is corrupt: reading it exceeded the time or memory limit"}
        return {"ok": False, "error": f"{name} is corrupt: reading it crashed the reader (signal {signal_number})"}
    try:
        result = json.loads(b"".join(chunks))
    except ValueError:
        return {"ok": False, "error": f"{name} is corrupt: reading it failed (exit status {os.waitstatus_to_exitcode(status)})"}
    return result if isinstance(result, dict) and "ok" in result else {"ok": False, "error": f"{name} could not be read"}


def main(argv=None):
    request_path, result_path = sys.argv[1:] if argv is None else argv
    with open(request_path) as handle:
        request = json.load(handle)
    import h5py  # noqa: F401  (once, before forking, so each child starts at once)

    signal.signal(signal.SIGTERM, stop_children)

    modules = tuple(_sibling(name) for name in ("inspect_model", "inspect_json", "submissions"))
    with open(result_path, "a") as out:
        for index, task in enumerate(request["tasks"]):
            result = inspect_in_child(task, modules, request["timeout"])
            out.write(json.dumps({"index": index, **result}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
