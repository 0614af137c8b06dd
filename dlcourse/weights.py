"""ImageNet weights for the transfer-learning bases: find them locally, download them when allowed.

The handbook's listing (003 §2.9.5 "Transfer Learning Implementation in Keras") writes
``ResNet50(weights='imagenet', ...)``, which makes Keras download the weights on first use. The labs
look for the same file, under its canonical Keras name (e.g.
``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``), in this order:

1. the data folders of :func:`dlcourse.data.files.search_paths` (``--data-dir``, ``$DLCOURSE_DATA``,
   ``<repo>/datasets/``, ``~/.keras/datasets/``), each directly and in its ``models/`` subfolder;
2. the Keras cache ``~/.keras/models/`` (where ``keras.applications`` keeps what it downloaded).

A missing file is downloaded into ``<data root>/models/`` (atomically, checked against the MD5 that
Keras pins) unless ``DLCOURSE_OFFLINE=1``. When that is not possible the error says which file,
where it looked, the URL, and that ``--weights none`` trains from random weights instead.
"""

import pathlib

from dlcourse.data import files
from dlcourse.data.registry import RemoteFile
from dlcourse.errors import UserError

KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
# Module attribute so tests can point it elsewhere.
KERAS_MODELS = pathlib.Path("~/.keras/models").expanduser()

# MD5s pinned by Keras 3 (keras/src/applications/resnet.py WEIGHTS_HASHES, vgg16.py);
# Keras pins none for MobileNetV2.
_NOTOP_MD5 = {
    "resnet50": "4d473c1dd8becc155b73f8504c6f6626",
    "vgg16": "6d6bbae143d832006294945121d1f1fc",
}
MOBILENETV2_ROWS = (96, 128, 160, 192, 224)
MOBILENETV2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
BASES = ("resnet50", "vgg16", "mobilenetv2")


def weights_file(base, *, alpha=1.0, rows=224):
    """The canonical no-top ImageNet weights file of ``base`` as a :class:`RemoteFile`.

    ``alpha`` and ``rows`` only matter for MobileNetV2, whose weights exist per width multiplier
    and input size (rows not in ``MOBILENETV2_ROWS`` use the 224 weights, as Keras does).
    """
    if base == "resnet50":
        name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        return RemoteFile(name, f"{KERAS_BASE_URL}resnet/{name}", md5=_NOTOP_MD5[base])
    if base == "vgg16":
        name = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
        return RemoteFile(name, f"{KERAS_BASE_URL}vgg16/{name}", md5=_NOTOP_MD5[base])
    if base == "mobilenetv2":
        if float(alpha) not in MOBILENETV2_ALPHAS:
            raise UserError(f"MobileNetV2 ImageNet weights exist only for alpha in {MOBILENETV2_ALPHAS}, "
                            f"not {alpha}; pick one of those or run with --weights none")
        rows = rows if rows in MOBILENETV2_ROWS else 224
        name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"
        return RemoteFile(name, f"{KERAS_BASE_URL}mobilenet_v2/{name}")
    raise ValueError(f"unknown base {base!r}; choose one of {BASES}")


def search_folders(data_dir=None):
    """Folders searched for weights files, in order (duplicates removed)."""
    folders = []
    for folder in files.search_paths(data_dir):
        folders += [folder, folder / "models"]
    folders.append(pathlib.Path(KERAS_MODELS))
    unique = []
    for folder in folders:
        if folder.expanduser().resolve() not in [known.expanduser().resolve() for known in unique]:
            unique.append(folder)
    return unique


def find_weights(base, *, alpha=1.0, rows=224, data_dir=None):
    """The path of ``base``'s ImageNet weights if a verified copy exists locally, else ``None``.

    A file whose MD5 differs from the pinned one raises :class:`UserError` (it is never used).
    """
    remote = weights_file(base, alpha=alpha, rows=rows)
    for folder in search_folders(data_dir):
        path = folder / remote.name
        if path.is_file():
            _verify(remote, path)
            return path
    return None


def _verify(remote, path):
    if not remote.md5 or not files.verification_enabled():
        return
    actual = files.file_digest(path, "md5")
    if actual != remote.md5:
        raise UserError(
            f"{path} is not the canonical {remote.name} (md5 {actual} != {remote.md5}); it was not "
            f"used. Delete it and run again to download {remote.url}, or run with --weights none")


def _unavailable(remote, data_dir, reason):
    folders = ", ".join(str(folder) for folder in search_folders(data_dir))
    return UserError(
        f"ImageNet weights {remote.name} not available ({reason}); searched: {folders}. Download "
        f"{remote.url} into one of those folders, or run with --weights none to train the same "
        f"model from random weights (much lower accuracy)")


def resolve_weights(base, *, alpha=1.0, rows=224, data_dir=None, download=True):
    """A local path to ``base``'s ImageNet weights, downloading them when allowed.

    Raises :class:`UserError` when they are missing and cannot be downloaded (offline, or the
    download failed); the message tells the user about ``--weights none``.
    """
    remote = weights_file(base, alpha=alpha, rows=rows)
    path = find_weights(base, alpha=alpha, rows=rows, data_dir=data_dir)
    if path is not None:
        return path
    if files.offline() or not download:
        reason = "downloads are off (DLCOURSE_OFFLINE=1)" if files.offline() else "not downloaded"
        raise _unavailable(remote, data_dir, reason)
    target_dir = files.data_root(data_dir) / "models"
    try:
        return files.download_file(remote, target_dir)
    except UserError as error:
        raise _unavailable(remote, data_dir, f"the download failed: {str(error)[:200]}") from None


def weights_available(base, *, alpha=1.0, rows=224, data_dir=None):
    """True when a verified local copy exists (no download); used by ``--smoke`` runs."""
    try:
        return find_weights(base, alpha=alpha, rows=rows, data_dir=data_dir) is not None
    except UserError:
        return False

