"""Readers for the canonical image-dataset formats (no ``keras.datasets`` call, no download).

Each reader takes paths to files already located and verified by :mod:`dlcourse.data.files` and
returns NumPy arrays: images with a channel axis, labels vectors (int64 when they are integers), in
the dtypes the file holds; :func:`dlcourse.data.load` checks dtypes, shapes, counts and label ranges
(:mod:`dlcourse.data.validation`).

- ``mnist.npz``: ``x_train, y_train, x_test, y_test`` (as ``keras.datasets.mnist``).
- Fashion-MNIST ``*-idx?-ubyte.gz``: big-endian IDX headers, then raw uint8.
- ``cifar-10-python.tar.gz``: pickled dicts ``data_batch_1..5`` / ``test_batch`` with ``data``
  (N, 3072) in CHW order, transposed here to HWC (as ``keras.datasets.cifar10``).
- ``flower_photos.tgz``: one folder of JPEGs per class, extracted once into the data root.
"""

import gzip
import io
import os
import pathlib
import pickle
import tarfile
import tempfile
import zipfile
import zlib

import numpy as np

from dlcourse.errors import UserError

# Pickles in the canonical files only ever rebuild NumPy arrays; refuse anything else so a
# tampered file cannot run code (the same policy as keras/src/datasets/npz_utils.py).
_ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds NumPy arrays."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a dataset file")


def restricted_load(handle, **kwargs):
    return RestrictedUnpickler(handle, **kwargs).load()


def corrupt_file_error(path, error):
    """The :class:`UserError` for a dataset file that exists but cannot be parsed."""
    return UserError(f"{path} could not be read ({error}); delete it so it is fetched again, "
                     "or run the lab with --dataset sample")


def read_mnist_npz(path):
    """``((x_train, y_train), (x_test, y_test))`` from ``mnist.npz``; x (N, 28, 28, 1) uint8."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        raise corrupt_file_error(path, error) from error
    return ((_images(arrays["x_train"]), _labels(arrays["y_train"])),
            (_images(arrays["x_test"]), _labels(arrays["y_test"])))


def read_idx(path):
    """A NumPy array from an IDX file (optionally gzipped): magic ``0x0000 08 <ndim>`` for uint8,
    then one big-endian int32 per dimension."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise corrupt_file_error(path, error) from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise corrupt_file_error(path, "not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(data) - header != int(np.prod(shape)):
        raise corrupt_file_error(
            path, f"IDX header says {shape} but the file has {len(data) - header} bytes")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_fashion_mnist(paths):
    """Fashion-MNIST from the four idx ``.gz`` files, given as ``{canonical name: path}``."""
    def split(prefix):
        x = read_idx(paths[f"{prefix}-images-idx3-ubyte.gz"])
        y = read_idx(paths[f"{prefix}-labels-idx1-ubyte.gz"])
        return _images(x), _labels(y)
    return split("train"), split("t10k")


def read_cifar10(path):
    """CIFAR-10 from ``cifar-10-python.tar.gz``; x (N, 32, 32, 3) uint8, y int64."""
    batches = {}
    wanted = {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch"}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                name = os.path.basename(member.name)
                if member.isfile() and name in wanted:
                    batch = restricted_load(archive.extractfile(member), encoding="bytes")
                    batches[name] = {key.decode() if isinstance(key, bytes) else key: value
                                     for key, value in batch.items()}
    except (OSError, EOFError, zlib.error, tarfile.TarError, pickle.UnpicklingError) as error:
        raise corrupt_file_error(path, error) from error
    missing = sorted(wanted - set(batches))
    if missing:
        raise corrupt_file_error(path, f"missing {', '.join(missing)}")

    def join(names):
        try:
            x = np.concatenate([np.asarray(batches[name]["data"]) for name in names])
            y = np.concatenate([np.asarray(batches[name]["labels"]).reshape(-1) for name in names])
        except (KeyError, ValueError) as error:  # a batch without data/labels, or rows of other sizes
            raise corrupt_file_error(path, f"{', '.join(names)}: {error!r}") from error
        if x.ndim == 2 and x.shape[1] == 3 * 32 * 32:  # other shapes are reported by the load's checks
            x = x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()  # CHW -> HWC
        return x, _labels(y)
    return join([f"data_batch_{i}" for i in range(1, 6)]), join(["test_batch"])


FLOWERS_FOLDER = "flower_photos"
FLOWERS_SPLIT_SEED = 123  # the seed the TF transfer-learning tutorial splits with
FLOWERS_TEST_FRACTION = 0.2
FLOWERS_STAMP = ".dlcourse_archive_sha256"  # inside flower_photos/: the archive it came from


def extract_flowers(archive_path, root, archive_sha256):
    """Extract ``flower_photos.tgz`` once into ``root/flower_photos`` and return that folder.

    The folder carries a stamp with the archive's SHA-256, so a different archive is re-extracted.
    A stamped copy beside the archive itself is reused too (a shared, read-only data folder can
    hold the archive and its extracted copy). Extraction goes to a temporary folder that is
    renamed into place, and uses tarfile's "data" filter (no absolute paths, links or files
    outside the folder).
    """
    root = pathlib.Path(root)
    folder = root / FLOWERS_FOLDER
    for existing in (pathlib.Path(archive_path).parent / FLOWERS_FOLDER, folder):
        stamp = existing / FLOWERS_STAMP
        if stamp.is_file() and stamp.read_text().strip() == archive_sha256:
            return existing
    try:
        root.mkdir(parents=True, exist_ok=True)
        temporary = pathlib.Path(tempfile.mkdtemp(prefix=".flower_photos.", dir=root))
    except OSError as error:
        raise UserError(f"cannot extract {archive_path} into {root} ({error}); point --data-dir "
                        "or DLCOURSE_DATA at a folder you can write to") from error
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            archive.extractall(temporary, filter="data")
        extracted = temporary / FLOWERS_FOLDER
        if not extracted.is_dir():
            raise corrupt_file_error(archive_path, f"no {FLOWERS_FOLDER}/ folder inside")
        (extracted / FLOWERS_STAMP).write_text(archive_sha256)
        if folder.exists():
            _remove_tree(folder)
        os.replace(extracted, folder)
    except (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError) as error:
        raise corrupt_file_error(archive_path, error) from error
    except OSError as error:  # disk full, permissions: the archive itself may be fine
        raise UserError(f"extracting {archive_path} into {root} failed ({error}); free some "
                        "space or point --data-dir at another folder") from error
    finally:
        _remove_tree(temporary)
    return folder


def _remove_tree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def read_flowers(folder, class_names, image_size=(224, 224)):
    """Flowers from an extracted folder: ``((x_train, y_train), (x_test, y_test))``.

    Every JPEG is decoded with Pillow, converted to RGB and resized to ``image_size`` (height,
    width). The split is deterministic and stratified: within each class (files sorted by name)
    a fixed permutation puts 20% in test; each split is then shuffled with the same seed, so
    ``validation_split`` in ``fit`` does not take a single class.
    """
    from PIL import Image

    height, width = image_size
    rng = np.random.RandomState(FLOWERS_SPLIT_SEED)
    splits = {"train": ([], []), "test": ([], [])}
    for label, class_name in enumerate(class_names):
        files = sorted(path for path in (pathlib.Path(folder) / class_name).iterdir()
                       if path.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not files:
            raise UserError(f"{folder}/{class_name} has no images; delete {folder} so it is "
                            "extracted again")
        order = rng.permutation(len(files))
        test_count = int(round(FLOWERS_TEST_FRACTION * len(files)))
        for position, index in enumerate(order):
            with Image.open(files[index]) as image:
                image.draft("RGB", (width, height))  # let libjpeg decode at a reduced scale
                pixels = np.asarray(image.convert("RGB").resize((width, height), Image.BILINEAR))
            split = "test" if position < test_count else "train"
            splits[split][0].append(pixels)
            splits[split][1].append(label)
    result = []
    for split in ("train", "test"):
        x = np.stack(splits[split][0]).astype(np.uint8)
        y = _labels(splits[split][1])
        order = rng.permutation(len(y))
        result.append((x[order], y[order]))
    return tuple(result)


def _images(x):
    x = np.asarray(x)  # not cast: float or int images are refused by the load's checks, not truncated
    return x[..., None] if x.ndim == 3 else x


def _labels(y):
    y = np.asarray(y).reshape(-1)
    return y.astype(np.int64) if y.dtype.kind in "iu" else y  # float labels are checked, not truncated


def npz_member_arrays(path):
    """All arrays of an ``.npz`` file, object arrays unpickled with :class:`RestrictedUnpickler`."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    arrays[member[:-4]] = _read_npy(io.BytesIO(archive.read(member)))
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error,
            pickle.UnpicklingError) as error:
        raise corrupt_file_error(path, error) from error
    return arrays


def _read_npy(handle):
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    if dtype.hasobject:
        return restricted_load(handle)
    handle.seek(0)
    return np.lib.format.read_array(handle, allow_pickle=False)
