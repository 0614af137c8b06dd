"""The benchmark's data: canonical-format files written into a temporary data folder.

Both sides of a row read the same file from the same folder: the lab through ``--data-dir`` (with
``DLCOURSE_VERIFY=0``, since a cut-down or generated file cannot match the pinned hash), the plain
script through its own loader. Formats (as ``keras.datasets`` and ``dlcourse.data.readers`` read them):

- ``cifar-10-python.tar.gz``: ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``, pickled
  dicts with bytes keys, ``b"data"`` (N, 3072) uint8 in CHW order, ``b"labels"`` a list of ints;
  plus ``batches.meta``.
- ``mnist.npz``: ``x_train`` (N, 28, 28) uint8, ``y_train`` uint8, ``x_test``, ``y_test``.
- ``imdb.npz`` + ``imdb_word_index.json``: object arrays of word-rank lists (1 = most frequent word),
  int64 labels, and ``{word: rank}``.

Run as a script (``python benchmarks/benchdata.py KIND FOLDER [--images N] [--test-images M]
[--source auto|real|embedded]``) it writes the files and prints a JSON description; the benchmark
calls it in a subprocess so that its own process never imports TensorFlow.

Source: the real dataset when its canonical file is found (``dlcourse.data.files.find_file`` over the
usual search path) and matches its pinned hash; otherwise the embedded stand-in (``shapes``, ``digits``,
``reviews``) replicated to the number of images asked for. The test split gets one tenth as many
images as the training split, so the notes' validation on the test set inside ``fit`` costs about
what the labs' 10% validation split costs.
"""

import argparse
import io
import json
import pathlib
import pickle
import sys
import tarfile

import numpy as np

ROOT = str(__import__("pathlib").Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # this checkout's dlcourse, also when run as a script from elsewhere
    sys.path.insert(0, ROOT)

KINDS = {"cifar10": "shapes", "mnist": "digits", "imdb": "reviews"}  # canonical name -> embedded stand-in
FILES = {"cifar10": ("cifar-10-python.tar.gz",), "mnist": ("mnist.npz",),
         "imdb": ("imdb.npz", "imdb_word_index.json")}


def find_real(kind):
    """``{canonical name: path}`` of the real dataset's files when all are found and verified, else None."""
    from dlcourse.data import files
    from dlcourse.data import REGISTRY

    found = {}
    for remote in REGISTRY[kind].files:
        path = files.find_file(remote)
        if path is None or files.check_file(remote, path)[0] is False:
            return None
        found[remote.name] = path
    return found


def _replicate(arrays, count):
    """The first ``count`` items of ``arrays`` repeated end to end (``count`` None: as they are)."""
    if count is None:
        return arrays
    index = np.arange(count) % len(arrays[0])
    return tuple(array[index] if isinstance(array, np.ndarray) else [array[i] for i in index]
                 for array in arrays)


def _source_arrays(kind, real):
    """``(x_train, y_train, x_test, y_test[, word_index])`` from the real files or the embedded set."""
    if kind == "imdb":
        from dlcourse.data import reviews, text
        if real:
            x_train, y_train, x_test, y_test = text.read_imdb_npz(real["imdb.npz"])
            index = text.read_word_index(real["imdb_word_index.json"])
        else:
            x_train, y_train, x_test, y_test = reviews.raw_sequences()
            index = reviews.word_index()
        return list(x_train), np.asarray(y_train), list(x_test), np.asarray(y_test), index
    from dlcourse import data
    name = kind if real else KINDS[kind]
    (x_train, y_train), (x_test, y_test) = data.load(name, "train"), data.load(name, "test")
    return x_train, y_train, x_test, y_test


def prepare(kind, folder, *, images=None, test_images=None, source="auto", whole_real=False):
    """Write ``kind``'s files into ``folder``; returns a description for the report.

    ``images``: training images, ``test_images``: test images (default a tenth of ``images``, at least
    100); None keeps the source's own sizes, and so does ``whole_real`` when the real dataset is used.
    ``source``: ``auto`` (real if found, else embedded), ``real`` or ``embedded``.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    real = find_real(kind) if source in ("auto", "real") else None
    if source == "real" and real is None:
        raise SystemExit(f"--data real: no verified {', '.join(FILES[kind])} found on dlcourse's data path")
    arrays = _source_arrays(kind, real)
    train, test = arrays[:2], arrays[2:4]
    if images is not None and not (real and whole_real):
        train = _replicate(train, images)
        test = _replicate(test, test_images or max(images // 10, 100))
    if kind == "cifar10":
        write_cifar10(folder / "cifar-10-python.tar.gz", *train, *test)
    elif kind == "mnist":
        write_mnist(folder / "mnist.npz", *train, *test)
    else:
        write_imdb(folder, *train, *test, arrays[4])
    origin = "real " + ", ".join(str(path) for path in real.values()) if real else f"embedded {KINDS[kind]!r}"
    return {"kind": kind, "source": origin, "real": bool(real), "train": len(train[1]), "test": len(test[1]),
            "folder": str(folder)}


def write_cifar10(path, x_train, y_train, x_test, y_test):
    """The canonical ``cifar-10-python.tar.gz`` (five training batches, one test batch)."""
    def batch(name, x, y):
        rows = np.ascontiguousarray(np.asarray(x, np.uint8).transpose(0, 3, 1, 2)).reshape(len(x), 3072)
        return {b"batch_label": name.encode(), b"labels": [int(label) for label in y], b"data": rows,
                b"filenames": [f"{name}_{i}.png".encode() for i in range(len(x))]}

    from dlcourse.data import REGISTRY
    members = {f"data_batch_{i + 1}": batch(f"data_batch_{i + 1}", x, y)
               for i, (x, y) in enumerate(zip(np.array_split(x_train, 5), np.array_split(y_train, 5)))}
    members["test_batch"] = batch("test_batch", x_test, y_test)
    members["batches.meta"] = {b"label_names": [name.encode() for name in REGISTRY["cifar10"].class_names],
                               b"num_cases_per_batch": len(x_train) // 5, b"num_vis": 3072}
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name, content in members.items():
            # protocol 4: protocol 2 pickles arrays through _codecs.encode, which dlcourse's safe reader refuses
            payload = pickle.dumps(content, protocol=4)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))


def write_mnist(path, x_train, y_train, x_test, y_test):
    """The canonical ``mnist.npz``: images (N, 28, 28) uint8, labels uint8."""
    def images(x):
        x = np.asarray(x, np.uint8)
        return x[..., 0] if x.ndim == 4 else x
    np.savez_compressed(path, x_train=images(x_train), y_train=np.asarray(y_train, np.uint8),
                        x_test=images(x_test), y_test=np.asarray(y_test, np.uint8))


def write_imdb(folder, x_train, y_train, x_test, y_test, word_index):
    """``imdb.npz`` (ragged rank lists in object arrays) and ``imdb_word_index.json``."""
    def ragged(sequences):
        array = np.empty(len(sequences), dtype=object)
        for i, sequence in enumerate(sequences):
            array[i] = [int(w) for w in sequence]
        return array
    np.savez(folder / "imdb.npz", x_train=ragged(x_train), y_train=np.asarray(y_train, np.int64),
             x_test=ragged(x_test), y_test=np.asarray(y_test, np.int64))
    (folder / "imdb_word_index.json").write_text(json.dumps(word_index), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("folder")
    parser.add_argument("--images", type=int, default=None, help="training images (default: the source's own)")
    parser.add_argument("--test-images", type=int, default=None)
    parser.add_argument("--source", choices=["auto", "real", "embedded"], default="auto")
    parser.add_argument("--whole-real", action="store_true", help="the real dataset whole, whatever --images says")
    args = parser.parse_args(argv)
    print(json.dumps(prepare(args.kind, args.folder, images=args.images, test_images=args.test_images,
                             source=args.source, whole_real=args.whole_real)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
