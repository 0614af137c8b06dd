"""Load and evaluate one untrusted model in a separate process with a time and a memory limit.

The parent never deserialises a student's model: it writes a request, starts
``python -m dlcourse.grading.worker REQUEST RESULT`` with ``RLIMIT_AS`` (address space) and
``RLIMIT_CPU`` set in the child, waits at most ``timeout`` seconds of wall-clock time, and reads the
result JSON. A crash, a hang or a memory blow-up is a verdict about that file, never a grader crash.
"""

import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile

DEFAULT_TIMEOUT_SECONDS = 120
DEFAULT_MEMORY_MB = 6144  # address space; TensorFlow alone reserves ~3 GB of it (2 GB is too little)


def _limits(memory_mb, cpu_seconds):
    def apply():
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.setsid()  # its own process group, so a timeout kills its threads' children too

    return apply


def run_in_sandbox(request, *, timeout=DEFAULT_TIMEOUT_SECONDS, memory_mb=DEFAULT_MEMORY_MB):
    """Run the worker on ``request`` (a JSON-able dict); return its result dict.

    The result always has ``"ok"``; when the worker fails, ``"error"`` says why in words a student
    understands (time limit, memory limit, crash).
    """
    # The worker runs in its own scratch folder: hand it absolute paths.
    request = {**request, "model_path": str(pathlib.Path(request["model_path"]).resolve())}
    if request.get("data_dir"):
        request["data_dir"] = str(pathlib.Path(request["data_dir"]).resolve())
    with tempfile.TemporaryDirectory(prefix="dlcourse-sandbox-") as folder:
        request_path = pathlib.Path(folder) / "request.json"
        result_path = pathlib.Path(folder) / "result.json"
        request_path.write_text(json.dumps({**request, "memory_mb": memory_mb}))
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
                       "DLCOURSE_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        command = [sys.executable, "-m", "dlcourse.grading.worker", str(request_path), str(result_path)]
        try:
            completed = subprocess.run(
                command, cwd=folder, env=environment, stdin=subprocess.DEVNULL, capture_output=True,
                timeout=timeout, preexec_fn=_limits(memory_mb, cpu_seconds=int(timeout * 4) + 10))
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"loading or evaluating the model took longer than {timeout:g} s (time limit)"}
        if result_path.is_file():
            try:
                return json.loads(result_path.read_text())
            except ValueError:
                pass
        stderr = completed.stderr.decode("utf-8", "replace")
        if completed.returncode < 0 or "MemoryError" in stderr or "bad_alloc" in stderr or "ResourceExhausted" in stderr:
            if "MemoryError" in stderr or "bad_alloc" in stderr or "ResourceExhausted" in stderr \
                    or completed.returncode in (-6, -9):
                return {"ok": False, "error": f"loading the model needed more than the {memory_mb} MB memory limit"}
            return {"ok": False, "error": f"the model crashed the loader (signal {-completed.returncode})"}
        last_line = next((line for line in reversed(stderr.strip().splitlines()) if line.strip()), "no output")
        return {"ok": False, "error": f"the model could not be loaded ({last_line[:300]})"}
