"""``dlcourse run all`` / ``dlcourse run 01,04`` (dlcourse/run_many.py): lab lists, ``--jobs``, workers."""

import json
import os
import subprocess
import sys

import pytest

from dlcourse import catalog, cli, run_many
from dlcourse.errors import UserError


def test_jobs_flag_is_taken_out_of_the_lab_flags():
    assert run_many.split_jobs(["--smoke", "--jobs", "3", "--out", "x"]) == (3, ["--smoke", "--out", "x"])
    assert run_many.split_jobs(["--jobs=2", "--smoke"]) == (2, ["--smoke"])
    assert run_many.split_jobs(["--smoke"]) == (None, ["--smoke"])
    for bad in (["--jobs", "0"], ["--jobs", "two"], ["--jobs"]):
        with pytest.raises(UserError, match="--jobs expects a number >= 1"):
            run_many.split_jobs(bad)


def test_smoke_runs_default_to_one_job_per_core_and_real_runs_to_one():
    assert run_many.default_jobs(["--smoke"], cores=2) == 2
    assert run_many.default_jobs(["--smoke"], cores=64) == run_many.MAX_SMOKE_JOBS == 4
    assert run_many.default_jobs(["--epochs", "3"], cores=64) == 1


def test_lab_lists_keep_their_order_and_drop_repeats():
    assert [lab.number for lab in run_many.select_labs("04,1,01,04_backprop")] == ["04", "01"]
    assert run_many.select_labs("all") == list(catalog.LABS)
    with pytest.raises(UserError, match="unknown lab '99'"):
        run_many.select_labs("01,99")


def test_a_lab_list_runs_in_this_process_with_one_job(tmp_path, capsys):
    assert cli.main(["run", "04,01", "--jobs", "1", "--smoke", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("lab 04_backprop ===") < out.index("lab 01_perceptron ===")
    assert "ran 2 labs: 2 ok, 0 failed\n" in out  # one job: no "at a time"
    for name in ("04_backprop", "01_perceptron"):
        assert json.loads((tmp_path / name / "run.json").read_text())["smoke"] is True


def test_workers_still_refuse_several_labs(capsys):
    assert cli.main(["run", "01,04", "--workers", "2"]) == 2
    assert "--workers runs one lab" in capsys.readouterr().err


def _dlcourse(*args, tmp_path):
    environment = {**os.environ, "DLCOURSE_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "dlcourse", *args], capture_output=True, text=True,
                          timeout=300, env=environment, cwd=tmp_path)


@pytest.mark.long
def test_two_worker_processes_print_each_lab_whole_in_order(tmp_path):
    ran = _dlcourse("run", "04,01", "--jobs", "2", "--smoke", "--out", str(tmp_path / "out"), tmp_path=tmp_path)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    out = ran.stdout
    assert "ran 2 labs: 2 ok, 0 failed; 2 at a time" in out
    # each lab's own output sits between its header and its footer, in the order asked for
    first, second = out.index("lab 04_backprop ==="), out.index("lab 01_perceptron ===")
    assert first < out.index("=== lab 04_backprop: ok") < second < out.index("=== lab 01_perceptron: ok")
    assert "smoke run" in out[first:second]
    for name in ("04_backprop", "01_perceptron"):
        assert (tmp_path / "out" / name / "run.json").is_file()
    # a bad lab flag stops the run with argparse's message and status, as a sequential run does
    bad = _dlcourse("run", "04,01", "--jobs", "2", "--smoke", "--no-such-flag", "--out", str(tmp_path / "bad"),
                    tmp_path=tmp_path)
    assert bad.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in bad.stdout + bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").rglob("run.json"))
