"""Checks on loaded data (dlcourse/data/validation.py via dlcourse.data.load), down to a lab's exit status.

Each case writes a tiny file in the canonical format with one defect and runs a lab on it with
``DLCOURSE_VERIFY=0`` (an unchecked copy, so the checksum does not refuse it first): one ``error:``
line naming the file, what was expected and what was found, exit status 2, and no lab folder.
"""

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from dlcourse import cli, data
from dlcourse.data import files, validation
from dlcourse.errors import UserError

RNG = np.random.RandomState(3)


@pytest.fixture
def unverified(tmp_path, monkeypatch):
    """A data folder used without checksums, no other data folder, never the network."""
    monkeypatch.setattr(files, "REPO_DATASETS", tmp_path / "repo_datasets")
    monkeypatch.setattr(files, "KERAS_DATASETS", tmp_path / "keras_datasets")
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    monkeypatch.setenv("DLCOURSE_VERIFY", "0")
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def mnist_arrays(train=6, test=4):
    return dict(x_train=RNG.randint(0, 256, (train, 28, 28)).astype(np.uint8),
                y_train=RNG.randint(0, 10, train).astype(np.uint8),
                x_test=RNG.randint(0, 256, (test, 28, 28)).astype(np.uint8),
                y_test=RNG.randint(0, 10, test).astype(np.uint8))


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def write_cifar(folder, data=None, labels=None, per_batch=2):
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as archive:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": RNG.randint(0, 256, (per_batch, 3072)).astype(np.uint8) if data is None else data,
                     b"labels": [int(v) for v in RNG.randint(0, 10, per_batch)] if labels is None else labels}
            payload = pickle.dumps(batch, protocol=4)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))


def mnist_with(**changes):
    def write(folder):
        np.savez(folder / "mnist.npz", **{**mnist_arrays(), **changes})
        return "mnist.npz"
    return write


def fashion_with(images=None, labels=None):
    def write(folder):
        write_idx(folder / "train-images-idx3-ubyte.gz",
                  RNG.randint(0, 256, (5, 28, 28)) if images is None else images)
        write_idx(folder / "train-labels-idx1-ubyte.gz", RNG.randint(0, 10, 5) if labels is None else labels)
        write_idx(folder / "t10k-images-idx3-ubyte.gz", RNG.randint(0, 256, (3, 28, 28)))
        write_idx(folder / "t10k-labels-idx1-ubyte.gz", RNG.randint(0, 10, 3))
        return "train-labels-idx1-ubyte.gz" if labels is not None else "train-images-idx3-ubyte.gz"
    return write


def cifar_with(**changes):
    def write(folder):
        write_cifar(folder, **changes)
        return "cifar-10-python.tar.gz"
    return write


DEFECTS = {  # name: (lab, dataset, writer, words the message must hold)
    "label 12 of 10 classes": ("07", "mnist", mnist_with(y_train=np.array([0, 1, 12, 3, 4, 5], np.uint8)),
                               ["(y_train)", "expected labels from 0 to 9 (10 classes)", "1 of 6 labels",
                                "from 0 to 12"]),
    "negative label": ("07", "mnist", mnist_with(y_train=np.array([0, 1, -1, 3, 4, 5], np.int8)),
                       ["(y_train)", "labels from 0 to 9", "from -1 to 5"]),
    "fractional label": ("07", "mnist", mnist_with(y_train=np.array([0, 1, 2.5, 3, 4, 5])),
                         ["(y_train)", "expected integer class labels", "float64 with values such as 2.5"]),
    "string labels": ("07", "mnist", mnist_with(y_train=np.array(list("012345"))),
                      ["(y_train)", "expected integer class labels", "dtype <U1"]),
    "count mismatch": ("07", "mnist", mnist_with(y_train=np.arange(5, dtype=np.uint8)),
                       ["mnist.npz (x_train, y_train): expected one label per image", "6 images and 5 labels"]),
    "one-hot labels": ("07", "mnist", mnist_with(y_train=np.eye(10, dtype=np.uint8)[[0, 1, 2, 3, 4, 5]]),
                       ["expected one label per image", "6 images and 60 labels"]),
    "32x32 images": ("07", "mnist", mnist_with(x_train=np.zeros((6, 32, 32), np.uint8)),
                     ["(x_train)", "expected images of 28x28x1", "found images of 32x32x1"]),
    "colour images": ("07", "mnist", mnist_with(x_train=np.zeros((6, 28, 28, 3), np.uint8)),
                      ["expected images of 28x28x1", "found images of 28x28x3"]),
    "flat images": ("07", "mnist", mnist_with(x_train=np.zeros((6, 784), np.uint8)),
                    ["expected images of 28x28x1", "found an array of shape (6, 784)"]),
    "float images in 0..255": ("07", "mnist", mnist_with(x_train=RNG.randint(0, 256, (6, 28, 28)).astype("float32")),
                               ["(x_train)", "expected uint8 images (0 to 255)", "dtype float32 with values from"]),
    "float images in 0..1": ("07", "mnist", mnist_with(x_train=np.full((6, 28, 28), 0.5)),
                             ["expected uint8 images", "dtype float64 with values from 0.5 to 0.5"]),
    "int64 images": ("07", "mnist", mnist_with(x_train=np.zeros((6, 28, 28), np.int64)),
                     ["expected uint8 images", "dtype int64"]),
    "fashion label 10": ("11", "fashion_mnist", fashion_with(labels=np.array([0, 1, 2, 10, 4])),
                         ["train-labels-idx1-ubyte.gz", "labels from 0 to 9", "from 0 to 10"]),
    "fashion count mismatch": ("11", "fashion_mnist", fashion_with(labels=np.arange(4)),
                               ["train-images-idx3-ubyte.gz and", "train-labels-idx1-ubyte.gz",
                                "5 images and 4 labels"]),
    "fashion 14x14 images": ("11", "fashion_mnist", fashion_with(images=np.zeros((5, 14, 14))),
                             ["train-images-idx3-ubyte.gz", "expected images of 28x28x1", "found images of 14x14x1"]),
    "cifar rows of 3000": ("06", "cifar10", cifar_with(data=np.zeros((2, 3000), np.uint8)),
                           ["(data_batch_1..5 data)", "expected images of 32x32x3", "shape (10, 3000)"]),
    "cifar float data": ("06", "cifar10", cifar_with(data=np.zeros((2, 3072), np.float32)),
                         ["expected uint8 images", "dtype float32"]),
    "cifar label 10": ("06", "cifar10", cifar_with(labels=[3, 10]),
                       ["(data_batch_1..5 labels)", "labels from 0 to 9", "5 of 10 labels"]),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_defective_data_file_stops_the_lab_with_one_clear_error(defect, unverified, tmp_path, capsys):
    lab, dataset, write, words = DEFECTS[defect]
    filename = write(unverified)
    out = tmp_path / "out"
    code = cli.main(["run", lab, "--dataset", dataset, "--data-dir", str(unverified), "--out", str(out),
                     "--epochs", "1"])
    error = capsys.readouterr().err
    assert code == 2, error
    assert "Traceback" not in error
    lines = [line for line in error.splitlines() if not line.startswith("note: DLCOURSE_VERIFY=0")]
    assert len(lines) == 1 and lines[0].startswith("error: "), error
    for word in [str(unverified / filename), *words, "--dataset sample"]:
        assert word in lines[0], (word, lines[0])
    assert not out.exists()  # nothing written, not even the lab folder


def test_canonical_files_and_every_embedded_dataset_pass(unverified):
    arrays = mnist_arrays()
    mnist_with(**arrays)(unverified)
    x, y = data.load("mnist", "train", data_dir=unverified)
    assert x.shape == (6, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(y, arrays["y_train"])
    for name in ("digits", "shapes", "reviews"):
        for split in ("train", "test"):
            x, y = data.load(name, split)
            assert y.dtype == np.int64 and len(x) == len(y) and 0 <= y.min() and y.max() < len(data.class_names(name))


def test_integral_float_labels_are_accepted_as_int64(unverified):
    mnist_with(y_train=np.array([0.0, 1.0, 9.0, 3.0, 4.0, 5.0]))(unverified)
    _, y = data.load("mnist", "train", data_dir=unverified)
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 9, 3, 4, 5]


def test_imdb_labels_and_counts_are_checked(unverified):
    sequences = np.empty(3, dtype=object)
    for index, sequence in enumerate([[1, 2], [3, 1], [4]]):
        sequences[index] = sequence
    np.savez(unverified / "imdb.npz", x_train=sequences, y_train=np.array([0, 1, 2]),
             x_test=sequences[:2], y_test=np.array([1, 0]))
    with pytest.raises(UserError, match=r"imdb.npz \(y_train\): expected labels from 0 to 1 \(2 classes\)"):
        data.load("imdb", "test", data_dir=unverified)
    np.savez(unverified / "imdb.npz", x_train=sequences, y_train=np.array([0, 1, 1]),
             x_test=sequences[:2], y_test=np.array([1]))
    with pytest.raises(UserError, match="expected one label per image, found 2 images and 1 labels"):
        data.load("imdb", "train", data_dir=unverified)


def test_check_split_reports_the_first_defect_only():
    x = np.full((2, 4, 4, 1), 0.5)  # wrong dtype and wrong shape: the dtype is named
    with pytest.raises(UserError) as caught:
        validation.check_split(x, [0, 11, 12], image_shape=(28, 28, 1), num_classes=10, images="a.npz (x)",
                               labels="a.npz (y)")
    message = str(caught.value)
    assert message.startswith("a.npz (x): expected uint8 images") and "labels" not in message.split(";")[0]
