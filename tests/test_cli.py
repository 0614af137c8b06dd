"""The `dlcourse` console command (dlcourse/cli.py)."""

import shutil
import subprocess

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
    assert all(lab.available for lab in catalog.LABS)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "06", "--epochs", "-3"])
    assert stopped.value.code == 2
    assert "--epochs: must be > 0" in capsys.readouterr().err


def test_info_reports_versions_and_data_root(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("tensorflow", "keras", "devices", "data_root", "onednn", "strategy_auto"):
        assert key in out


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
