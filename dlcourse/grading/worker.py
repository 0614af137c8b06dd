"""The loading side of the grading sandbox: load one model safely, describe it, run its checks.

Two ways to run it, both started by ``sandbox.py`` (which sets no limit itself on the warm loader):

- ``python -m dlcourse.grading.worker --serve``: the warm loader. It imports TensorFlow, Keras and
  dlcourse once, then reads one request per line on stdin and, for each, forks a child that sets
  its own limits (``RLIMIT_AS``, ``RLIMIT_CPU``, an alarm), loads and evaluates that one model and
  writes its result into a pipe; the loader kills a child that passes the time limit and writes one
  result line on stdout. It also runs the inspector's static checks of a student's files
  (``inspector.py``), one limited child per file, sparing a process start per student. The loader itself never opens a student's file, and it never runs a
  TensorFlow op: forking a process whose TensorFlow runtime has started (thread pools) can deadlock
  the child, so it refuses to fork once the runtime is up (and exits; the sandbox starts another).
- ``python -m dlcourse.grading.worker REQUEST.json RESULT.json``: one model in a fresh process
  (the fallback where ``fork`` is not available or ``DLCOURSE_GRADING_SPAWN=1``).

The request names the model file and the manifest's model checks; the result holds the model's
shapes, parameter count and layer classes and one entry per check.
"""

import json
import math
import os
import resource
import signal
import sys

MEMORY_MESSAGE = "loading the model needed more than the {} MB memory limit"
TIME_MESSAGE = "loading or evaluating the model took longer than {:g} s (time limit)"
MAX_RESULT_BYTES = 64 * 1024 * 1024
STDERR_TAIL_BYTES = 16 * 1024


def describe(model):
    def shapes(tensors):
        return [list(tensor.shape) for tensor in tensors]

    return {
        "input_shapes": shapes(model.inputs),
        "output_shapes": shapes(model.outputs),
        "parameters": int(model.count_params()),
        "layer_classes": sorted({type(layer).__name__ for layer in model._flatten_layers(include_self=False)}),
    }


def evaluate(request):
    """The result dict for one request (in the limited process: this opens the student's file)."""
    import keras

    import dlcourse  # noqa: F401  (registers the package's custom layers)
    from dlcourse.grading import metrics

    unknown = [name for name in request.get("registered_names", []) if keras.saving.get_registered_object(name) is None]
    if unknown:  # the static check saw these dlcourse names; this dlcourse must define them
        return {"ok": False, "error": f"the model uses {unknown[0]!r}, which this version of dlcourse does not define"}
    try:
        model = keras.saving.load_model(request["model_path"], compile=False, safe_mode=True)
    except MemoryError:
        return {"ok": False, "error": MEMORY_MESSAGE.format(request.get("memory_mb", "?"))}
    except Exception as error:  # any failure to load is a verdict on the file
        text = str(error)
        if "OOM when allocating" in text or "ResourceExhausted" in type(error).__name__:
            return {"ok": False, "error": MEMORY_MESSAGE.format(request.get("memory_mb", "?"))}
        return {"ok": False, "error": f"the model could not be loaded: {text.splitlines()[0][:300] if text else type(error).__name__}"}
    result = {"ok": True, **describe(model)}
    result["checks"] = [metrics.run_check(model, check, request) for check in request.get("checks", [])]
    return result


def failure(returncode, stderr, memory_mb):
    """The verdict on a loading process that wrote no result: how it ended, in a student's words."""
    memory = "MemoryError" in stderr or "bad_alloc" in stderr or "ResourceExhausted" in stderr
    if memory or returncode in (-signal.SIGABRT, -signal.SIGKILL):
        return {"ok": False, "error": MEMORY_MESSAGE.format(memory_mb)}
    if returncode == -signal.SIGXCPU:
        return {"ok": False, "error": "loading or evaluating the model used more than its CPU-time limit"}
    if returncode < 0:
        return {"ok": False, "error": f"the model crashed the loader (signal {-returncode})"}
    last_line = next((line for line in reversed(stderr.strip().splitlines()) if line.strip()), "no output")
    return {"ok": False, "error": f"the model could not be loaded ({last_line[:300]})"}


def cpu_seconds(timeout):
    """The CPU-time limit of one load: a few cores' worth of the wall-clock limit."""
    return int(timeout * 4) + 10


# --- the warm loader -------------------------------------------------------------------------------

def _runtime_started():
    """Whether this process has started TensorFlow's runtime (then forking it is unsafe)."""
    try:
        from tensorflow.python.eager import context
    except ImportError:
        return False
    return bool(getattr(context.context(), "_initialized", False))


def _warm_up():
    """Import everything a load needs, without running a TensorFlow op."""
    import importlib

    import keras  # noqa: F401

    import dlcourse  # noqa: F401
    from dlcourse import data  # noqa: F401
    from dlcourse.grading import inspect_json, inspect_model, inspector, metrics, submissions  # noqa: F401

    try:  # what keras.saving.load_model imports for an .h5 file
        importlib.import_module("keras.src.legacy.saving.legacy_h5_format")
    except ImportError:
        pass


def _die_with_parent():
    """Ask Linux to kill this process when its parent (the loader) dies; best effort."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def limit_child(timeout, memory_mb, output_path=os.devnull):
    """In a forked child, before it reads a student's file: its limits, and stdout/stderr away
    from the loader's result stream (to ``output_path``)."""
    _die_with_parent()
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds(timeout), cpu_seconds(timeout) + 5))
    signal.alarm(math.ceil(timeout) + 5)  # in case the loader cannot kill it in time
    output = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output, 1)  # nothing a model or h5py prints may reach the loader's result stream
    os.dup2(output, 2)


def _child(request, timeout, memory_mb, write_end, stderr_path):
    """In the forked child: limits first, then the one load. Never returns."""
    code = 0
    try:
        limit_child(timeout, memory_mb, stderr_path)
        try:
            result = evaluate({**request, "memory_mb": memory_mb})
        except MemoryError:
            result = {"ok": False, "error": MEMORY_MESSAGE.format(memory_mb)}
        data = json.dumps(result).encode("utf-8")
        if len(data) > MAX_RESULT_BYTES:
            data = json.dumps({"ok": False, "error": "the model's checks returned too much to report"}).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view):]
    except BaseException:  # noqa: BLE001 — the exit status and stderr say what happened
        code = 1
    os._exit(code)


def _tail(path):
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - STDERR_TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def load_in_child(request, timeout, memory_mb, stderr_path):
    """Fork one limited child for ``request``; its result dict (or the verdict on how it ended)."""
    from dlcourse.grading import inspector

    read_end, write_end = os.pipe()

    def child():
        os.close(read_end)
        _child(request, timeout, memory_mb, write_end, stderr_path)

    pid = inspector.fork_child(child)
    os.close(write_end)
    chunks, timed_out = inspector.read_result(read_end, pid, timeout, MAX_RESULT_BYTES)
    status = inspector.reap(pid)
    stderr = _tail(stderr_path)
    if timed_out:
        return {"ok": False, "error": TIME_MESSAGE.format(timeout)}
    try:
        result = json.loads(b"".join(chunks))
        if isinstance(result, dict) and "ok" in result:
            return result
    except Exception:  # noqa: BLE001 — a cut or malformed result is judged by how the child ended
        pass
    return failure(os.waitstatus_to_exitcode(status), stderr, memory_mb)


def inspect_in_children(tasks, timeout, memory_mb):
    """The inspector's tasks (``inspector.py``), each in a forked child under the limits."""
    import functools

    from dlcourse.grading import inspect_json, inspect_model, inspector, submissions

    prepare = functools.partial(limit_child, timeout, memory_mb)
    return {"results": [inspector.inspect_in_child(task, (inspect_model, inspect_json, submissions), timeout, prepare)
                        for task in tasks]}


def serve(requests=None, results=None):
    """The warm loader's loop: one JSON message per line in, one JSON result per line out.

    A message is ``{"kind": "load", "request", "timeout", "memory_mb"}`` (one model) or
    ``{"kind": "inspect", "tasks", "timeout", "memory_mb"}`` (a student's files, statically).
    """
    from dlcourse.grading import inspector

    requests = requests or sys.stdin
    results = results or sys.stdout
    signal.signal(signal.SIGTERM, inspector.stop_children)  # a stop reaps the running child first
    _warm_up()
    if _runtime_started():  # never fork a started runtime
        return 3
    results.write(json.dumps({"ready": os.getpid()}) + "\n")
    results.flush()
    for number, line in enumerate(requests):
        message = json.loads(line)
        if _runtime_started():
            return 3
        if message.get("kind") == "inspect":
            result = inspect_in_children(message["tasks"], message["timeout"], message["memory_mb"])
        else:
            result = load_in_child(message["request"], message["timeout"], message["memory_mb"],
                                   os.path.abspath(f"child-{number}.stderr"))
        results.write(json.dumps(result) + "\n")
        results.flush()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--serve"]:
        return serve()
    request_path, result_path = argv
    with open(request_path) as handle:
        request = json.load(handle)
    result = evaluate(request)
    with open(result_path, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
