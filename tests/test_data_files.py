"""Lookup order, checksum verification, offline errors and downloads (dlcourse.data.files, cli).

Downloads use ``file://`` URLs to local files; nothing touches the network.
"""

import argparse
import dataclasses
import hashlib
import os
import pathlib
import stat

import numpy as np
import pytest

from dlcourse import data
from dlcourse.data import cli, files
from dlcourse.data.specs import DATASETS
from dlcourse.errors import UserError


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Repo and Keras folders under tmp_path, no environment overrides, offline by default."""
    repo, keras_cache = tmp_path / "repo_datasets", tmp_path / "keras_datasets"
    monkeypatch.setattr(files, "REPO_DATASETS", repo)
    monkeypatch.setattr(files, "KERAS_DATASETS", keras_cache)
    for variable in ("DLCOURSE_DATA", "DLCOURSE_VERIFY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    return tmp_path


def write_mnist(path, label=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=np.full((2, 28, 28), label, np.uint8), y_train=np.array([label, label]),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.array([label]))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_remote(monkeypatch, name="mnist", **changes):
    entry = DATASETS[name]
    remote = dataclasses.replace(entry.files[0], **changes)
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(entry, files=(remote,)))
    return remote


def test_search_paths_and_data_root_order(env, monkeypatch):
    assert files.search_paths() == [env / "repo_datasets", env / "keras_datasets"]
    assert files.data_root() == env / "keras_datasets"  # downloads go to the per-user cache
    monkeypatch.setenv("DLCOURSE_DATA", str(env / "shared"))
    assert files.search_paths(env / "mine") == [env / "mine", env / "shared",
                                                env / "repo_datasets", env / "keras_datasets"]
    assert files.data_root() == env / "shared" and files.data_root(env / "mine") == env / "mine"
    # the same folder twice is searched once
    assert files.search_paths(env / "shared")[:2] == [env / "shared", env / "repo_datasets"]


def test_an_installed_package_never_searches_or_writes_its_install_tree(env, monkeypatch):
    import sysconfig

    site_packages = pathlib.Path(sysconfig.get_paths()["purelib"])
    monkeypatch.setattr(files, "REPO_DATASETS", site_packages / "datasets")  # what a wheel install gives
    assert files.search_paths() == [env / "keras_datasets"]
    assert files.data_root() == env / "keras_datasets"


def test_lookup_takes_the_first_folder_that_has_the_file(env, monkeypatch):
    sha = write_mnist(env / "keras_datasets" / "mnist.npz", label=4)
    remote = set_remote(monkeypatch, sha256=sha)
    assert files.locate(remote)[0] == env / "keras_datasets" / "mnist.npz"
    for folder in ("repo_datasets", "shared", "mine"):
        write_mnist(env / folder / "mnist.npz", label=4)
    assert files.locate(remote)[0] == env / "repo_datasets" / "mnist.npz"
    monkeypatch.setenv("DLCOURSE_DATA", str(env / "shared"))
    assert files.locate(remote)[0] == env / "shared" / "mnist.npz"
    assert files.locate(remote, env / "mine") == (env / "mine" / "mnist.npz", True)


def test_keras_cache_names_are_found_only_in_the_keras_folder(env):
    remote = DATASETS["fashion_mnist"].files[0]
    for folder in ("repo_datasets", "keras_datasets"):
        (env / folder / "fashion-mnist").mkdir(parents=True)
        (env / folder / "fashion-mnist" / remote.name).write_bytes(b"x")
    assert files.find_file(remote) == env / "keras_datasets" / "fashion-mnist" / remote.name


def test_checksum_mismatch_raises_and_the_file_is_not_used(env, monkeypatch):
    good = write_mnist(env / "keras_datasets" / "mnist.npz", label=1)
    write_mnist(env / "repo_datasets" / "mnist.npz", label=9)  # wrong bytes, found first
    set_remote(monkeypatch, sha256=good)
    with pytest.raises(UserError) as error:
        data.load("mnist")
    message = str(error.value)
    actual = hashlib.sha256((env / "repo_datasets" / "mnist.npz").read_bytes()).hexdigest()
    for part in ("mnist.npz", str(env / "repo_datasets"), good, actual, "DLCOURSE_VERIFY=0",
                 "Delete it"):
        assert part in message
    record = data.dataset_record("mnist")
    assert record["verified"] is False and record["files"][0]["sha256"] == actual


def test_verify_opt_out_uses_the_file_and_records_unverified(env, monkeypatch, capsys):
    write_mnist(env / "repo_datasets" / "mnist.npz", label=7)
    set_remote(monkeypatch, sha256="0" * 64)
    monkeypatch.setenv("DLCOURSE_VERIFY", "0")
    x, y = data.load("mnist")
    assert y.tolist() == [7, 7] and x.shape == (2, 28, 28, 1)
    note = f"note: DLCOURSE_VERIFY=0: using {env / 'repo_datasets' / 'mnist.npz'} without checking"
    assert note in capsys.readouterr().err
    record = data.dataset_record("mnist")
    assert record["verified"] is False and record["files"][0]["path"].endswith("mnist.npz")


def test_each_file_is_hashed_once_per_process(env, monkeypatch):
    path = env / "repo_datasets" / "mnist.npz"
    sha = write_mnist(path)
    remote = set_remote(monkeypatch, sha256=sha)
    calls = []
    real_new = files.hashlib.new
    monkeypatch.setattr(files.hashlib, "new", lambda *a, **k: calls.append(a) or real_new(*a, **k))
    for _ in range(3):
        assert files.locate(remote) == (path, True)
    assert len(calls) == 1
    write_mnist(path, label=3)  # a changed file (new size/mtime) is hashed again, and rejected
    with pytest.raises(UserError, match="not the canonical file"):
        files.locate(remote)
    assert len(calls) == 2


def test_an_unreadable_file_is_one_clear_error(env, monkeypatch):
    path = env / "repo_datasets" / "mnist.npz"
    remote = set_remote(monkeypatch, sha256=write_mnist(path))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(files, "open", denied, raising=False)  # chmod 000 does not stop root
    with pytest.raises(UserError, match="cannot read .*mnist.npz .Permission denied.; fix its"):
        files.locate(remote)


def test_missing_file_offline_error_names_everything(env):
    with pytest.raises(UserError) as error:
        data.load("cifar10", data_dir=env / "mine")
    message = str(error.value)
    remote = DATASETS["cifar10"].files[0]
    for part in ("cifar-10-python.tar.gz", str(env / "mine"), str(env / "repo_datasets"),
                 str(env / "keras_datasets"), remote.url, "--dataset sample", "DLCOURSE_OFFLINE"):
        assert part in message


def test_download_from_a_file_url_is_verified_and_moved_into_place(env, monkeypatch):
    source = env / "server" / "mnist.npz"
    sha = write_mnist(source, label=5)
    set_remote(monkeypatch, url=source.as_uri(), sha256=sha)
    monkeypatch.delenv("DLCOURSE_OFFLINE")
    old_umask = os.umask(0o022)
    try:
        x, y = data.load("mnist", data_dir=env / "mine")
    finally:
        os.umask(old_umask)
    assert y.tolist() == [5, 5]
    assert (env / "mine" / "mnist.npz").read_bytes() == source.read_bytes()
    # readable by others (a shared DLCOURSE_DATA folder), not mkstemp's 0600
    assert stat.S_IMODE((env / "mine" / "mnist.npz").stat().st_mode) == 0o644
    assert sorted(p.name for p in (env / "mine").iterdir()) == ["mnist.npz"]
    assert data.dataset_record("mnist", data_dir=env / "mine")["verified"] is True


def test_download_shows_a_progress_bar_with_the_size(env, monkeypatch, capsys):
    source = env / "server" / "mnist.npz"
    source.parent.mkdir(parents=True)
    source.write_bytes(np.random.default_rng(0).bytes(5 * (1 << 20) // 2))  # 2.5 MiB: three reads
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    remote = set_remote(monkeypatch, url=source.as_uri(), sha256=sha)
    monkeypatch.delenv("DLCOURSE_OFFLINE")
    path = files.download_file(remote, env / "mine")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    err = capsys.readouterr().err
    final = err.rstrip("\n").split("\r")[-1]  # the bar's last state
    assert final.startswith("mnist.npz: 100%") and "2.50M/2.50M [" in final and "B/s]" in final
    assert "us/byte" not in err  # not the old byte-count bar
    assert err.count("\r") <= 3  # stderr is not a terminal here: a few redraws, readable in a log


@pytest.mark.parametrize("problem", ["missing", "wrong_bytes", "interrupted"])
def test_failed_download_leaves_no_partial_file(env, monkeypatch, problem):
    source = env / "server" / "mnist.npz"
    sha = write_mnist(source)
    url = source.as_uri() + ("-gone" if problem == "missing" else "")
    set_remote(monkeypatch, url=url, sha256="f" * 64 if problem == "wrong_bytes" else sha)
    monkeypatch.delenv("DLCOURSE_OFFLINE")
    if problem == "interrupted":
        real_urlopen = files.urllib.request.urlopen

        def broken(*args, **kwargs):
            response = real_urlopen(*args, **kwargs)
            reads = []

            def read(size=-1):
                reads.append(size)
                if len(reads) > 1:
                    raise ConnectionResetError("connection reset by peer")
                return response.fp.read(100)
            response.read = read
            return response
        monkeypatch.setattr(files.urllib.request, "urlopen", broken)
    with pytest.raises(UserError) as error:
        data.load("mnist", data_dir=env / "mine")
    message = str(error.value)
    assert "mnist.npz" in message and "--dataset sample" in message
    if problem != "wrong_bytes":
        assert url in message and str(env / "keras_datasets") in message
    else:
        assert "discarded" in message and "f" * 64 in message
    assert list((env / "mine").iterdir()) == []


def run_cli(*argv):
    parser = cli.configure_parser(argparse.ArgumentParser(prog="dlcourse data"))
    return cli.command(parser.parse_args(list(argv)))


def test_cli_list_verify_fetch(env, monkeypatch, capsys):
    source = env / "server" / "mnist.npz"
    sha = write_mnist(source)
    set_remote(monkeypatch, url=source.as_uri(), sha256=sha)
    assert run_cli("list") == 0
    listing = capsys.readouterr().out
    assert "mnist.npz" in listing and "missing" in listing and "shapes: embedded" in listing
    assert "md5 bfafd718b763782e" in listing  # the word index is pinned by Keras's MD5
    assert run_cli("verify", "mnist") == 2  # missing
    with pytest.raises(UserError, match="--dataset sample"):
        run_cli("fetch", "mnist")  # offline
    monkeypatch.delenv("DLCOURSE_OFFLINE")
    assert run_cli("fetch", "mnist", "--data-dir", str(env / "mine")) == 0
    assert "verified" in capsys.readouterr().out
    assert run_cli("verify", "mnist", "--data-dir", str(env / "mine")) == 0
    assert "OK (sha256)" in capsys.readouterr().out
    write_mnist(env / "mine" / "mnist.npz", label=8)
    assert run_cli("verify", "mnist", "--data-dir", str(env / "mine")) == 2
    assert "MISMATCH" in capsys.readouterr().out
    with pytest.raises(UserError, match="unknown dataset"):
        run_cli("verify", "nope")
