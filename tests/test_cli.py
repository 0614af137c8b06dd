"""The `dlcourse` console command (dlcourse/cli.py)."""

import shutil
import subprocess
import sys

import pytest

from dlcourse import catalog, cli


def test_list_shows_every_lab(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for lab in catalog.LABS:
        assert lab.name in out


@pytest.mark.parametrize("key", ["99", "cnn", "6a"])
def test_unknown_lab_is_one_clear_error(key, capsys):
    assert cli.main(["run", key]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: unknown lab {key!r}")
    assert "01_perceptron" in err and "19_adversarial_autoencoder" in err
    assert "Traceback" not in err


def test_lab_lookup_by_number_or_name():
    assert catalog.get_lab("6").name == catalog.get_lab("06").name == catalog.get_lab("cifar10_cnn").name \
        == catalog.get_lab("06_cifar10_cnn").name == "06_cifar10_cnn"


def test_unknown_command_and_bad_lab_flag_exit_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["launch"])
    assert stopped.value.code == 2
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "06", "--epochs", "-3"])
    assert stopped.value.code == 2
    assert "--epochs: must be > 0" in capsys.readouterr().err


def test_info_reports_versions_and_roots(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_OUT", str(tmp_path / "outputs"))
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path / "cache"))
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("tensorflow", "keras", "devices", "onednn", "strategy_auto"):
        assert key in out
    rows = dict(line.split(None, 1) for line in out.splitlines() if len(line.split(None, 1)) == 2)
    assert rows["output_root"].strip() == str(tmp_path / "outputs")
    assert rows["data_root"].strip() == str(tmp_path / "cache")
    assert rows["labs_folder"].strip() == str(catalog.labs_directory())


def test_version_flag(capsys):
    import dlcourse

    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"dlcourse {dlcourse.__version__}"


def test_outputs_follow_the_working_directory_and_check_finds_them(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DLCOURSE_OUT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "01"]) == 0
    assert (tmp_path / "saved_models" / "01_perceptron" / "run.json").is_file()
    capsys.readouterr()
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "lab 01_perceptron:" in out and "over 1 lab(s)" in out
    # $DLCOURSE_OUT moves both the lab's outputs and what check reads
    monkeypatch.setenv("DLCOURSE_OUT", str(tmp_path / "elsewhere"))
    assert cli.main(["run", "01"]) == 0
    assert (tmp_path / "elsewhere" / "01_perceptron" / "run.json").is_file()
    capsys.readouterr()
    assert cli.main(["check", "--out", str(tmp_path / "elsewhere")]) == 0
    assert "lab 01_perceptron:" in capsys.readouterr().out


def test_run_all_fails_when_a_lab_script_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(catalog, "labs_directory", lambda: tmp_path)
    assert cli.main(["run", "all", "--smoke", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "lacks the scripts of labs 01_perceptron" in err and "ran 0 labs" not in err
    assert cli.main(["run", "06", "--smoke"]) == 2
    assert "lab 06_cifar10_cnn is missing from this installation" in capsys.readouterr().err


def test_python_dash_m_runs_the_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dlcourse", "run", "nope"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown lab 'nope'" in result.stderr


@pytest.mark.skipif(shutil.which("dlcourse") is None, reason="console script not installed (pip install -e .)")
def test_console_script_is_installed():
    result = subprocess.run(["dlcourse", "run", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown lab 'nope'" in result.stderr


def test_lab_help_shows_what_the_lab_teaches(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "01", "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert catalog.get_lab("01").docstring.splitlines()[0] in out
    assert "--smoke" in out and "--strategy" in out
