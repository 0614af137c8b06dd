"""Everything a lab writes: atomic saving of models, JSON, CSV, text and figures; safe model loading.

Files are written to a temporary name in the destination folder, flushed to disk and moved into place
with ``os.replace``, so an interrupted run never leaves a truncated file at the final path (docs/DESIGN.md,
"Contracts"). Models are loaded only with ``safe_mode=True``.
"""

import contextlib
import csv
import errno
import io
import json
import logging
import os
import pathlib
import re
import tempfile

import numpy as np

from dlcourse.errors import UserError

MODEL_SUFFIXES = (".h5", ".keras")
OUTPUT_ENVIRONMENT_VARIABLE = "DLCOURSE_OUT"


def output_root(out=None):
    """The output root every command uses: ``out`` (a ``--out`` flag) if given, else
    ``$DLCOURSE_OUT``, else ``saved_models/`` of the working directory (never the install tree)."""
    if out:
        return pathlib.Path(out).expanduser()
    if os.environ.get(OUTPUT_ENVIRONMENT_VARIABLE):
        return pathlib.Path(os.environ[OUTPUT_ENVIRONMENT_VARIABLE]).expanduser()
    return pathlib.Path.cwd() / "saved_models"


def find_output(path):
    """``path`` as given when it exists, else the same relative path under :func:`output_root`
    (so ``dlcourse predict 11_image_classifier/classifier.h5`` finds the model wherever --out went)."""
    path = pathlib.Path(path).expanduser()
    if path.exists() or path.is_absolute():
        return path
    under_root = output_root() / path
    return under_root if under_root.exists() else path


# The temporary names atomic_path makes: ".<stem>.<mkstemp's 8 characters>.partial[.<suffix>]".
PARTIAL_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.partial(\.[^.]+)?$")

# What the C library says for these errors, for the OSErrors (h5py's, Keras's) that carry no errno.
_ERRNO_WORDS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                errno.EACCES: "permission denied", errno.EROFS: "read-only file system",
                errno.EFBIG: "file too large"}


def write_error(error, path):
    """The :class:`UserError` for an ``OSError`` met while writing ``path``, or None for other errors.

    Disk full (or over quota), permission denied, a read-only file system and a file too large are
    mistakes of the place written to, so they name the file and what to do; anything else may be a
    bug and is left to raise.
    """
    number = error.errno
    if number not in _ERRNO_WORDS:
        text = str(error).lower()
        number = next((key for key, words in _ERRNO_WORDS.items() if words in text), None)
    if number is None:
        return None
    if number in (errno.ENOSPC, errno.EDQUOT):
        return UserError(f"{_ERRNO_WORDS[number]} writing {path}; free space or choose another --out")
    return UserError(f"cannot write {path} ({os.strerror(number).lower()}); choose another --out folder")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it to ``path`` only if the block succeeds.

    The temporary name keeps the final suffix (Keras picks the format from it) and starts with a
    dot, so a half-written file is never mistaken for an output (and :func:`remove_stale` can find
    one a killed run left). A full disk or a folder that cannot be written, in the block, the flush
    or the move, ends in one :class:`UserError` naming ``path``; the temporary file is removed.
    """
    path = pathlib.Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=f".partial{''.join(path.suffixes[-1:])}", dir=path.parent)
    except OSError as error:
        raise (write_error(error, path)
               or UserError(f"cannot write {path} ({error.strerror or error}); choose another --out folder")) from None
    os.close(descriptor)
    # mkstemp makes the file private (0600); outputs get the permissions any other file would
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(temporary, 0o666 & ~mask)
    temporary = pathlib.Path(temporary)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        # an error about another file (a callback writing elsewhere during fit) names that file
        named = error.filename if error.filename and pathlib.Path(os.fsdecode(error.filename)) != temporary else path
        user_error = write_error(error, named)
        if user_error is None:
            raise
        raise user_error from None
    finally:
        if temporary.exists():
            temporary.unlink()


def remove_stale(folder, *names):
    """Remove ``names`` and the temporary files of :func:`atomic_path` (a killed run's) from ``folder``.

    Only files directly in ``folder`` whose names match :data:`PARTIAL_NAME` are temporaries; sub-folders
    (``.checkpoint/``, ``tensorboard/``) are left alone.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return []
    stale = [folder / name for name in names if (folder / name).is_file()]
    stale += sorted(child for child in folder.iterdir() if PARTIAL_NAME.match(child.name) and child.is_file())
    for path in stale:
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise UserError(f"cannot remove {path}, left by an earlier run ({error.strerror or error}); "
                            "remove it yourself or choose another --out folder") from None
    return stale


def write_bytes(data, path):
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return pathlib.Path(path)


def write_text(text, path):
    return write_bytes(text.encode("utf-8"), path)


def _to_builtin(value):
    """JSON fallback for NumPy scalars/arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _finite_or_null(value):
    """``value`` with every NaN or infinity (a diverged loss) replaced by ``None``, recursively."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, np.ndarray):
        return _finite_or_null(value.tolist())
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def write_json(obj, path):
    """Write standard JSON: it has no NaN or Infinity, so a non-finite number is written as ``null``
    (the grader's strict reader refuses the non-standard tokens Python would otherwise write)."""
    text = json.dumps(_finite_or_null(obj), indent=2, default=_to_builtin, allow_nan=False)
    return write_text(text + "\n", path)


def write_csv(rows, path, fieldnames=None):
    """Write a list of dicts as CSV (columns in first-seen order unless ``fieldnames`` is given)."""
    rows = list(rows)
    if fieldnames is None:
        fieldnames = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_value(row.get(key, "")) for key in fieldnames})
    return write_text(buffer.getvalue(), path)


def _csv_value(value):
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return value


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


class _DropLegacyH5Warning(logging.Filter):
    def filter(self, record):
        return "legacy" not in record.getMessage()


def save_model(model, path, include_optimizer=False):
    """Save ``model`` atomically as ``.h5`` (the notes' format) or ``.keras``; returns the path.

    Keras 3 calls HDF5 "legacy" and logs a warning on every save; the course deliberately uses it
    (the notes and graders expect ``.h5``), so that one warning is filtered. The optimizer state is
    left out by default: a model reloaded from ``.h5`` is for inference and grading (runs resume from
    their checkpoints instead, docs/DESIGN.md, "Runs: resume and scale-out"), and Adam's slots can
    double the file (ResNet50 172 -> 97 MB). Saving leaves the live model's optimizer and compile config
    as they were, so the order of saves in a lab is free.
    """
    path = pathlib.Path(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise ValueError(f"model files end in {' or '.join(MODEL_SUFFIXES)}, got {path.name}")
    absl_logger = logging.getLogger("absl")
    legacy_filter = _DropLegacyH5Warning()
    absl_logger.addFilter(legacy_filter)
    try:
        with atomic_path(path) as temporary:
            model.save(temporary, include_optimizer=include_optimizer)
    finally:
        absl_logger.removeFilter(legacy_filter)
    return path


def load_model(path, compile=False):
    """Load a saved model safely (``safe_mode=True``); user-fixable problems become ``UserError``.

    After ``import dlcourse`` every custom layer of the package is registered, so no
    ``custom_objects`` are needed.
    """
    import h5py
    import keras

    from dlcourse import compat

    path = find_output(path)
    if path.is_dir():
        found = ", ".join(sorted(child.name for child in path.glob("*.h5"))) or "none"
        raise UserError(f"{path} is a folder, not a model file; give one of its .h5 files ({found})")
    if not path.is_file():
        raise UserError(f"model file {path} does not exist; run the lab that saves it first")
    if path.suffix.lower() not in (".h5", ".hdf5", ".keras"):
        raise UserError(f"{path} is not a model file (.h5 or .keras); give the .h5 file the lab saved")
    if path.suffix in (".h5", ".hdf5") and not h5py.is_hdf5(path):
        raise UserError(f"{path} is not an HDF5 model file (truncated or corrupt?); re-run the lab to recreate it")
    try:
        with compat.legacy_h5_safe_mode():  # Keras < 3.11.3 ignores safe_mode for .h5
            return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for bad files; all mean the same to a user
        newer = compat.saved_by_newer_keras(path) if path.suffix in (".h5", ".hdf5") else None
        if newer:
            raise UserError(f"cannot load model {path}: it was saved by Keras {newer}, newer than this "
                            f"Keras {keras.__version__}; upgrade Keras (pip install -U keras) or re-run "
                            "the lab with this one") from None
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot load model {path}: {message}") from None


def new_figure(nrows=1, ncols=1, *, width=None, height=None, **subplot_kwargs):
    """A Matplotlib figure and axes not tied to pyplot's global state (safe in scripts and tests)."""
    from matplotlib.figure import Figure

    width = width or 4.5 * ncols
    height = height or 3.5 * nrows
    figure = Figure(figsize=(width, height), layout="constrained")
    subplot_kwargs.setdefault("squeeze", True)
    axes = figure.subplots(nrows, ncols, **subplot_kwargs)
    return figure, axes


def save_figure(figure, path, dpi=110):
    """Save a figure as PNG atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_bytes(buffer.getvalue(), path)


def plot_learning_curves(history, path, title=None):
    """Loss and each metric per epoch, training vs validation (``learning_curves.png``).

    ``history`` is a ``keras.callbacks.History`` or its ``.history`` dict.
    """
    history = getattr(history, "history", history)
    names = [key for key in history if not key.startswith("val_") and key not in ("learning_rate", "lr")]
    if not names or not history[names[0]]:
        return None
    figure, axes = new_figure(1, len(names), squeeze=False)
    for axis, name in zip(axes[0], names):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", label=f"training {name}")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", label=f"validation {name}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def tile_images(images, *, ncols=8, value_range=(0.0, 1.0), padding=1, pad_value=0.5):
    """Tile ``(n, height, width[, channels])`` images into one array in ``[0, 1]``, row-major
    (what :func:`image_grid` draws with ``tiled=True``).

    Args:
        images: the images; pixel values in ``value_range`` (``(-1, 1)`` for tanh generators,
            ``(0, 1)`` for sigmoid decoders) are mapped linearly to ``[0, 1]`` and clipped.
        ncols: images per row; the last row is filled up with blank tiles.
        value_range: ``(low, high)`` of the input pixels.
        padding: pixels between tiles.
        pad_value: grey level of the gaps and blank tiles (mid-grey shows against black and white).

    Returns:
        ``(rows * (h + p) - p, ncols * (w + p) - p[, channels])`` float array in ``[0, 1]``.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"expected a non-empty batch of images (n, h, w[, c]); got shape {images.shape}")
    images = _to_unit_range(images, value_range)
    count, height, width = images.shape[:3]
    ncols = max(1, min(int(ncols), count))
    nrows = -(-count // ncols)
    grid = np.full((nrows * (height + padding) - padding, ncols * (width + padding) - padding,
                     *images.shape[3:]), pad_value, dtype="float32")
    for index, image in enumerate(images):
        row, col = divmod(index, ncols)
        top, left = row * (height + padding), col * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def _to_unit_range(images, value_range):
    low, high = value_range
    if high <= low:
        raise ValueError(f"value_range must be (low, high) with low < high; got {value_range}")
    return np.clip((np.asarray(images, dtype="float32") - low) / (high - low), 0.0, 1.0)


def image_grid(images, path, *, ncols=10, titles=None, row_titles=None, cmap="gray", title=None,
               value_range=None, tiled=False):
    """Save images ``(N, H, W[, C])`` as one PNG grid, ``ncols`` per row; returns the path.

    Pixels in ``value_range`` (default ``(0, 255)`` for uint8, else ``(0, 1)``; ``(-1, 1)`` for a tanh
    generator) are drawn on one fixed scale, black to white for grey images, so a faint
    reconstruction looks faint instead of being contrast-stretched. Two layouts:

    * one axes per image (the default), each titled by its entry of ``titles``; ``row_titles``, one
      per row, are written over each row's first image;
    * ``tiled=True``: the images tiled into one array (:func:`tile_images`: 1-pixel mid-grey gaps)
      in one axes, ``row_titles`` written on the left. Compact, and quick for the 64-100 samples of
      a generator's grid; per-image ``titles`` need the first layout.
    """
    images = np.asarray(images)
    if value_range is None:
        value_range = (0, 255) if images.dtype == np.uint8 else (0.0, 1.0)
    if tiled:
        return _tiled_grid(images, path, ncols=ncols, titles=titles, row_titles=row_titles, cmap=cmap,
                           title=title, value_range=value_range)
    images = _to_unit_range(images, value_range)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    count = len(images)
    nrows = int(np.ceil(count / ncols))
    figure, axes = new_figure(nrows, ncols, width=1.2 * ncols + 0.6, height=1.3 * nrows + 0.4, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            if images.ndim == 3:
                axis.imshow(images[index], cmap=cmap, vmin=0.0, vmax=1.0)
            else:
                axis.imshow(images[index])
            if titles is not None:
                axis.set_title(str(titles[index]), fontsize=8)
    if row_titles is not None:
        for row, text in enumerate(row_titles):
            axes[row, 0].set_title(str(text), fontsize=9, loc="left")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def _tiled_grid(images, path, *, ncols, titles, row_titles, cmap, title, value_range):
    if titles is not None:
        raise ValueError("titles label each image's own axes: use image_grid(..., tiled=False)")
    grid = tile_images(images, ncols=ncols, value_range=value_range)
    nrows = -(-len(images) // max(1, min(int(ncols), len(images))))
    height = grid.shape[0] / grid.shape[1] * 5.0
    figure, axis = new_figure(1, 1, width=5.6 if row_titles is not None else 5.0, height=height + 0.5)
    axis.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    axis.set_xticks([])
    if row_titles is not None:
        tile = (grid.shape[0] + 1) / nrows
        axis.set_yticks([tile * (row + 0.5) for row in range(len(row_titles))])
        axis.set_yticklabels([str(label) for label in row_titles])
        axis.tick_params(length=0)
    else:
        axis.set_yticks([])
    if title:
        axis.set_title(title)
    return save_figure(figure, path)
