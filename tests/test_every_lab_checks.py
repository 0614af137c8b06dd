"""Every lab's smoke output earns full points from `dlcourse check` (the promise of docs/DEVELOPING.md).

Runs every lab with ``dlcourse run all --smoke`` (two worker processes on 2 cores) and then the student's check over their outputs, in subprocesses as
a student would; marked ``long`` (about three minutes on 2 cores), so CI runs it after the default suite.
"""

import os
import re
import subprocess
import sys

import pytest

from dlcourse import catalog


@pytest.mark.long
def test_every_smoke_output_gets_full_points_from_check(tmp_path):
    environment = {**os.environ, "DLCOURSE_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("DLCOURSE_OUT", None)
    command = [sys.executable, "-m", "dlcourse"]
    ran = subprocess.run([*command, "run", "all", "--smoke", "--out", str(tmp_path)], capture_output=True,
                         text=True, timeout=900, env=environment)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert f"ran {len(catalog.LABS)} labs: {len(catalog.LABS)} ok, 0 failed" in ran.stdout
    checked = subprocess.run([*command, "check", "--out", str(tmp_path)], capture_output=True, text=True,
                             timeout=1200, env=environment)
    assert checked.returncode == 0, checked.stderr[-3000:]
    lost = [line for line in checked.stdout.splitlines() if "pts]" in line]
    assert not lost, "\n".join(lost)
    points, maximum = map(float, re.search(r"total: (\S+) / (\S+) points over (\d+) lab", checked.stdout).groups()[:2])
    assert points == maximum > 400
    assert f"over {len(catalog.LABS)} lab(s)" in checked.stdout
