"""Readers for the canonical formats, on tiny files written here (dlcourse.data.readers / load).

Each test writes a small file in the real format (mnist.npz, idx .gz, cifar-10-python.tar.gz with
pickled batches, imdb.npz + word index, flower_photos.tgz) and, where Keras reads the same format,
uses ``keras.datasets`` (its ``get_file`` pointed at the tiny file) as the oracle.
"""

import argparse
import dataclasses
import gzip
import hashlib
import io
import json
import pickle
import tarfile

import numpy as np
import pytest

import keras
from dlcourse import data
from dlcourse.data import cli, files, readers
from dlcourse.data.specs import DATASETS
from dlcourse.errors import UserError

RNG = np.random.RandomState(0)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data folders, no environment overrides, and never the network."""
    monkeypatch.setattr(files, "REPO_DATASETS", tmp_path / "repo_datasets")
    monkeypatch.setattr(files, "KERAS_DATASETS", tmp_path / "keras_datasets")
    for variable in ("DLCOURSE_DATA", "DLCOURSE_VERIFY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def pin(monkeypatch, name, folder):
    """Point the registry's hashes for ``name`` at the tiny files in ``folder``."""
    entry = DATASETS[name]
    pinned = tuple(dataclasses.replace(
        remote, md5=None, sha256=hashlib.sha256((folder / remote.name).read_bytes()).hexdigest())
        for remote in entry.files)
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(entry, files=pinned))


def write_mnist(folder, train=6, test=4):
    arrays = dict(x_train=RNG.randint(0, 256, (train, 28, 28)).astype(np.uint8),
                  y_train=RNG.randint(0, 10, train).astype(np.uint8),
                  x_test=RNG.randint(0, 256, (test, 28, 28)).astype(np.uint8),
                  y_test=RNG.randint(0, 10, test).astype(np.uint8))
    np.savez(folder / "mnist.npz", **arrays)
    return arrays


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def write_fashion(folder, train=5, test=3):
    arrays = {}
    for prefix, count in (("train", train), ("t10k", test)):
        arrays[prefix] = (RNG.randint(0, 256, (count, 28, 28)).astype(np.uint8),
                          RNG.randint(0, 10, count).astype(np.uint8))
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", arrays[prefix][0])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", arrays[prefix][1])
    return arrays


def write_cifar(folder, per_batch=2):
    batches = {}
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as archive:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"batch_label": name.encode(),
                     b"data": RNG.randint(0, 256, (per_batch, 3072)).astype(np.uint8),
                     b"labels": [int(v) for v in RNG.randint(0, 10, per_batch)],
                     b"filenames": [b"x.png"] * per_batch}
            batches[name] = batch
            payload = pickle.dumps(batch, protocol=4)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return batches


FLOWER_COLOURS = {"daisy": (250, 250, 250), "dandelion": (250, 220, 0), "roses": (220, 0, 30),
                  "sunflowers": (250, 150, 0), "tulips": (150, 0, 200)}


def write_flowers(folder, per_class=5, extra=()):
    from PIL import Image
    with tarfile.open(folder / "flower_photos.tgz", "w:gz") as archive:
        def add(name, payload):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
        add("flower_photos/LICENSE.txt", b"CC-BY")
        for class_name, colour in FLOWER_COLOURS.items():
            for index in range(per_class):
                buffer = io.BytesIO()
                Image.new("RGB", (20 + index, 14), colour).save(buffer, format="JPEG")
                add(f"flower_photos/{class_name}/{index:03d}.jpg", buffer.getvalue())
        for name, payload in extra:
            add(name, payload)


def test_mnist_npz_matches_keras_and_adds_channel_axis(isolated, monkeypatch):
    arrays = write_mnist(isolated)
    (x_train, y_train), (x_test, y_test) = readers.read_mnist_npz(isolated / "mnist.npz")
    assert x_train.shape == (6, 28, 28, 1) and x_train.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.shape == (4,)
    import keras.src.datasets.mnist as keras_mnist
    monkeypatch.setattr(keras_mnist, "get_file", lambda *a, **k: str(isolated / "mnist.npz"))
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.mnist.load_data()
    np.testing.assert_array_equal(x_train[..., 0], kx_train)
    np.testing.assert_array_equal(x_test[..., 0], arrays["x_test"])
    np.testing.assert_array_equal(y_train, ky_train)


def test_load_mnist_through_the_registry(isolated, monkeypatch):
    arrays = write_mnist(isolated)
    pin(monkeypatch, "mnist", isolated)
    x, y = data.load("mnist", "test", data_dir=isolated)
    np.testing.assert_array_equal(x[..., 0], arrays["x_test"])
    np.testing.assert_array_equal(y, arrays["y_test"].astype(np.int64))
    record = data.dataset_record("mnist", data_dir=isolated)
    assert record["verified"] is True and record["embedded"] is False
    assert record["files"][0]["sha256"] == DATASETS["mnist"].files[0].sha256


def test_fashion_mnist_idx_matches_keras(isolated, monkeypatch):
    arrays = write_fashion(isolated)
    pin(monkeypatch, "fashion_mnist", isolated)
    x, y = data.load("fashion_mnist", "train", data_dir=isolated)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x[..., 0], arrays["train"][0])
    import keras.src.datasets.fashion_mnist as keras_fashion
    monkeypatch.setattr(keras_fashion, "get_file", lambda name, **k: str(isolated / name))
    (_, _), (kx_test, ky_test) = keras.datasets.fashion_mnist.load_data()
    x_test, y_test = data.load("fashion_mnist", "test", data_dir=isolated)
    np.testing.assert_array_equal(x_test[..., 0], kx_test)
    np.testing.assert_array_equal(y_test, ky_test)
    assert data.class_names("fashion_mnist")[9] == "Ankle boot"


def test_idx_reader_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "bad-idx3-ubyte.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
                     + b"\0" * 100)
    with pytest.raises(UserError, match="IDX header"):
        readers.read_idx(path)


def test_cifar10_batches_are_joined_and_transposed_chw_to_hwc(isolated, monkeypatch):
    batches = write_cifar(isolated)
    pin(monkeypatch, "cifar10", isolated)
    x, y = data.load("cifar10", "train", data_dir=isolated)
    assert x.shape == (10, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    first = batches["data_batch_1"][b"data"][0]
    # The row holds 1024 red, then 1024 green, then 1024 blue values, row-major.
    assert x[0, 0, 0, 0] == first[0] and x[0, 0, 0, 1] == first[1024]
    assert x[0, 0, 0, 2] == first[2048] and x[0, 0, 1, 0] == first[1] and x[0, 1, 0, 0] == first[32]
    last = batches["data_batch_5"]
    np.testing.assert_array_equal(x[-1], last[b"data"][-1].reshape(3, 32, 32).transpose(1, 2, 0))
    assert y.tolist() == sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    x_test, y_test = data.load("cifar10", "test", data_dir=isolated)
    assert x_test.shape == (2, 32, 32, 3) and y_test.tolist() == batches["test_batch"][b"labels"]
    assert data.class_names("cifar10")[:2] == ["airplane", "automobile"]


def test_imdb_through_the_registry_with_word_index(isolated, monkeypatch):
    sequences = np.empty(3, dtype=object)
    for index, sequence in enumerate([[1, 2], [3, 1, 2, 2], [4]]):
        sequences[index] = sequence
    np.savez(isolated / "imdb.npz", x_train=sequences, y_train=np.array([0, 1, 1]),
             x_test=sequences[:2], y_test=np.array([1, 0]))
    (isolated / "imdb_word_index.json").write_text(json.dumps(
        {"the": 1, "film": 2, "good": 3, "bad": 4}))
    pin(monkeypatch, "imdb", isolated)
    x, y = data.load("imdb", "train", data_dir=isolated, sequence_length=5)
    assert x.shape == (3, 5) and x.dtype == np.int32 and y.dtype == np.int64
    index = data.word_index("imdb", data_dir=isolated)
    decoded = sorted(data.decode_sequence(row, index) for row in x)
    # "bad" has the largest index, and Keras keeps w < num_words (= that largest index): OOV.
    assert decoded == ["[START] [OOV]", "[START] good the film film", "[START] the film"]
    x, _ = data.load("imdb", "train", data_dir=isolated, num_words=100)
    assert sorted(data.decode_sequence(row, index) for row in x)[0] == "[START] bad"


def test_flowers_are_extracted_once_split_and_resized(isolated, monkeypatch):
    write_flowers(isolated)
    pin(monkeypatch, "flowers", isolated)
    x, y = data.load("flowers", "train", data_dir=isolated, image_size=(16, 12))
    x_test, y_test = data.load("flowers", "test", data_dir=isolated, image_size=(16, 12))
    assert x.shape == (20, 16, 12, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    assert x_test.shape == (5, 16, 12, 3) and sorted(y_test.tolist()) == [0, 1, 2, 3, 4]
    assert sorted(np.bincount(y).tolist()) == [4] * 5
    assert len(set(y[:5].tolist())) > 1  # shuffled, not in class order
    names = data.class_names("flowers")
    for image, label in zip(np.concatenate([x, x_test]), np.concatenate([y, y_test])):
        np.testing.assert_allclose(image.reshape(-1, 3).mean(0), FLOWER_COLOURS[names[label]],
                                   atol=6)
    folder = isolated / "flower_photos"
    assert (folder / "daisy").is_dir() and (folder / ".dlcourse_archive_sha256").is_file()
    stamp_time = (folder / ".dlcourse_archive_sha256").stat().st_mtime_ns
    again, _ = data.load("flowers", "train", data_dir=isolated, image_size=(8, 8))
    assert again.shape == (20, 8, 8, 3)
    assert (folder / ".dlcourse_archive_sha256").stat().st_mtime_ns == stamp_time
    assert not [p for p in isolated.iterdir() if p.name.startswith(".flower_photos.")]


def test_flowers_archive_escaping_its_folder_is_refused(isolated, monkeypatch):
    write_flowers(isolated, per_class=1, extra=[("../escaped.txt", b"x")])
    pin(monkeypatch, "flowers", isolated)
    with pytest.raises(UserError, match="could not be read"):
        data.load("flowers", "train", data_dir=isolated)
    assert not (isolated.parent / "escaped.txt").exists()
    assert not (isolated / "flower_photos").exists()


def test_unknown_names_options_and_splits(isolated):
    with pytest.raises(UserError, match="unknown dataset 'mnsit'"):
        data.load("mnsit")
    with pytest.raises(ValueError, match="split"):
        data.load("digits", split="validation")
    with pytest.raises(ValueError, match="image_size"):
        data.load("mnist", image_size=(8, 8))


def test_flowers_copy_beside_a_shared_archive_is_reused(isolated, tmp_path, monkeypatch,
                                                          capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    write_flowers(shared, per_class=5)
    pin(monkeypatch, "flowers", shared)
    monkeypatch.setenv("DLCOURSE_DATA", str(shared))
    parser = cli.configure_parser(argparse.ArgumentParser(prog="dlcourse data"))
    assert cli.command(parser.parse_args(["fetch", "flowers"])) == 0  # verifies and extracts
    assert f"flowers: extracted in {shared / 'flower_photos'}" in capsys.readouterr().out
    assert (shared / "flower_photos" / readers.FLOWERS_STAMP).is_file()
    x, _ = data.load("flowers", image_size=(8, 8))

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(readers.tempfile, "mkdtemp", read_only)
    # a student's own --data-dir: the stamped copy beside the archive is used, nothing extracted
    again, _ = data.load("flowers", data_dir=isolated, image_size=(8, 8))
    np.testing.assert_array_equal(again, x)
    assert list(isolated.iterdir()) == []
    (shared / "flower_photos" / readers.FLOWERS_STAMP).write_text("other archive")
    with pytest.raises(UserError, match="cannot extract .* point --data-dir or DLCOURSE_DATA"):
        data.load("flowers", data_dir=isolated, image_size=(4, 4))


# mtime=0: the payloads are in the test ids, which must not change from one collection to the next
# (pytest-xdist workers each collect, and refuse to run when their ids differ)
TRUNCATED_GZIP = gzip.compress(b"\0\0\x08\x03" + b"\0" * 8, mtime=0)[:-6]


@pytest.mark.parametrize("name, filename, payload", [
    ("mnist", "mnist.npz", b"PK\x03\x04 truncated"),
    ("mnist", "mnist.npz", b"not a zip at all"),
    ("fashion_mnist", "train-images-idx3-ubyte.gz", TRUNCATED_GZIP),
    ("imdb", "imdb.npz", b"PK\x03\x04 truncated"),
    ("cifar10", "cifar-10-python.tar.gz", gzip.compress(b"not a tar", mtime=0))])
def test_unreadable_files_used_unverified_are_one_clear_error(isolated, monkeypatch, capsys, name,
                                                              filename, payload):
    if name == "fashion_mnist":
        write_fashion(isolated)  # three good files; the one below is truncated
    (isolated / filename).write_bytes(payload)
    monkeypatch.setenv("DLCOURSE_VERIFY", "0")  # an instructor's subset: readers see bad bytes
    with pytest.raises(UserError, match=f"{filename} could not be read"):
        data.load(name, data_dir=isolated)
    assert f"DLCOURSE_VERIFY=0: using {isolated / filename}" in capsys.readouterr().err


@pytest.mark.parametrize("payload", [b"{bad json", b"[1, 2]", b"\xff\xfe"])
def test_bad_word_index_is_one_clear_error(isolated, monkeypatch, payload):
    (isolated / "imdb_word_index.json").write_bytes(payload)
    monkeypatch.setenv("DLCOURSE_VERIFY", "0")
    with pytest.raises(UserError, match="imdb_word_index.json could not be read"):
        data.word_index("imdb", data_dir=isolated)


def test_imdb_sequences_load_without_the_word_index(isolated, monkeypatch):
    sequences = np.empty(2, dtype=object)
    sequences[0], sequences[1] = [1, 2], [2]
    np.savez(isolated / "imdb.npz", x_train=sequences, y_train=np.array([0, 1]),
             x_test=sequences, y_test=np.array([1, 0]))
    entry = DATASETS["imdb"]
    pinned = dataclasses.replace(
        entry.files[0], sha256=hashlib.sha256((isolated / "imdb.npz").read_bytes()).hexdigest())
    monkeypatch.setitem(DATASETS, "imdb",
                        dataclasses.replace(entry, files=(pinned,) + entry.files[1:]))
    x, y = data.load("imdb", "test", data_dir=isolated)  # offline, no imdb_word_index.json
    # start 1, ranks + 3; the largest index (5) is num_words, so it becomes oov 2 (as Keras)
    assert sorted(map(list, x)) == [[1, 2], [1, 4, 2]] and sorted(y.tolist()) == [0, 1]
    with pytest.raises(UserError, match="imdb_word_index.json not found"):
        data.word_index("imdb", data_dir=isolated)
