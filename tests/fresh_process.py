"""Running a script in a fresh Python (a model file reloaded with nothing but ``import dlcourse``)."""

import json
import os
import subprocess
import sys


def run_json(script, *arguments, timeout=120):
    """Run ``python -c script *arguments`` in a new process; assert it succeeded and return the JSON
    value its last line of output prints."""
    result = subprocess.run([sys.executable, "-c", script, *map(str, arguments)], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
