"""Static checks of a submitted ``.h5`` model, done before anything is deserialised.

A model file from a student is untrusted input. This module reads it with ``h5py`` only, and only
inside the inspector process (``inspector.py``, under the sandbox's time and memory limits; the
grading parent never opens a student's file). It checks, without relying on the Keras version:

- the file: a regular file (no link, FIFO, device), HDF5, under the size limit;
- the HDF5 structure: only ordinary hard links (no external or soft links), no dataset with external
  storage, no virtual dataset;
- the ``model_config`` JSON: every serialised object's module is Keras' or dlcourse's, its
  ``registered_name`` is its own class or a dlcourse one, no ``Lambda``-style layer (arbitrary
  code), no layer that reads files (``TFSMLayer``; a lookup or text-vectorisation layer whose
  vocabulary is a path).

Only files that pass are loaded, in a separate process, with ``safe_mode=True`` (``sandbox.py``).
Standalone on purpose: the standard library and h5py only, so the inspector starts without Keras.
"""

import dataclasses
import json
import os
import pathlib
import re
import stat

DEFAULT_MAX_BYTES = 300 * 1024 * 1024  # lab models are far smaller; the ResNet50 transfer model is ~100 MB
MAX_CONFIG_BYTES = 16 * 1024 * 1024  # the largest lab model's config (ResNet50) is ~0.2 MB
MAX_HDF5_OBJECTS = 100_000
MAX_HDF5_DEPTH = 64  # group nesting; a Keras .h5 is a few levels deep (ResNet50's about 6)
CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda", "LambdaLayer"}
FILE_READING_LAYERS = {"TFSMLayer"}
VOCABULARY_LAYERS = {"StringLookup", "IntegerLookup", "TextVectorization"}
TRUSTED_PACKAGES = ("keras", "dlcourse")
# A plain identifier, or dlcourse's registered form "dlcourse>Name" (how Keras writes a custom layer
# registered with package="dlcourse" into an .h5 config); any other "package>" prefix is refused.
CLASS_NAME = re.compile(r"^(dlcourse>)?[A-Za-z_][A-Za-z0-9_]{0,127}$")


class RefusedModel(Exception):
    """The file is not loaded; the message is the reason given to the student."""


@dataclasses.dataclass
class StaticSummary:
    """What can be read from an ``.h5`` model without deserialising it."""

    path: pathlib.Path
    size_bytes: int
    model_class: str
    layer_classes: list
    parameters: int
    input_shapes: list
    keras_version: str
    registered_names: list = dataclasses.field(default_factory=list)


def regular_file_size(path):
    """The size of ``path`` if it is a regular file (``lstat``: links are not followed), else refuse."""
    path = pathlib.Path(path)
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        raise RefusedModel(f"{path.name} is missing") from None
    if stat.S_ISLNK(status.st_mode):
        raise RefusedModel(f"{path.name} is a symbolic link, not a file")
    if not stat.S_ISREG(status.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(status.st_mode) else "a socket" if stat.S_ISSOCK(status.st_mode)
                else "a device" if stat.S_ISCHR(status.st_mode) or stat.S_ISBLK(status.st_mode)
                else "a folder" if stat.S_ISDIR(status.st_mode) else "not a regular file")
        raise RefusedModel(f"{path.name} is {kind}, not a regular file")
    return status.st_size


def _walk_objects(node):
    """Every dict in a Keras config tree that describes a serialised object (has a ``class_name``)."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node:
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _trusted_module(module):
    return any(module == package or module.startswith(package + ".") for package in TRUSTED_PACKAGES)


def untrusted_reason(obj):
    """Why the serialised object ``obj`` (a config dict with a ``class_name``) is refused, or None."""
    class_name, module, registered = obj.get("class_name"), obj.get("module"), obj.get("registered_name")
    config = obj.get("config") if isinstance(obj.get("config"), dict) else {}
    if not isinstance(class_name, str) or not CLASS_NAME.match(class_name):
        return f"it names an object of class {str(class_name)[:80]!r}, which is not a plain class name"
    if class_name in CODE_LAYERS or class_name == "function" or "function_type" in config:
        return f"it contains a {class_name} layer (arbitrary Python code), which is never loaded"
    if module is not None and (not isinstance(module, str) or not _trusted_module(module)):
        return f"it uses {class_name} from module {str(module)[:80]!r}, which is neither Keras nor dlcourse"
    if registered is not None:
        if not isinstance(registered, str) or (registered != class_name and not registered.startswith("dlcourse>")):
            return (f"it uses the custom object {str(registered)[:80]!r} (registered_name of {class_name}), "
                    "which is neither Keras' nor dlcourse's")
    if class_name in FILE_READING_LAYERS:
        return f"it contains a {class_name} layer, which loads another model from disk"
    if class_name in VOCABULARY_LAYERS and isinstance(config.get("vocabulary"), str):
        return f"its {class_name} layer reads its vocabulary from a file ({config['vocabulary'][:80]!r})"
    return None


def _check_structure(handle):
    """Refuse links other than hard links, external storage and virtual datasets; return the datasets."""
    import h5py

    datasets, seen, stack = [], 0, [("", handle, 0)]
    while stack:
        prefix, group, depth = stack.pop()
        for name in group:
            seen += 1
            if seen > MAX_HDF5_OBJECTS:
                raise RefusedModel(f"it holds more than {MAX_HDF5_OBJECTS:,} HDF5 objects")
            where = f"{prefix}/{name}"[:200]
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise RefusedModel(f"{where} is an HDF5 external link to {str(link.filename)[:80]!r} (another file)")
            if isinstance(link, h5py.SoftLink):
                raise RefusedModel(f"{where} is an HDF5 soft link (to {str(link.path)[:80]!r}); model files have none")
            item = group.get(name)
            if isinstance(item, h5py.Group):
                if depth >= MAX_HDF5_DEPTH:
                    raise RefusedModel(f"its HDF5 groups are nested more than {MAX_HDF5_DEPTH} deep")
                stack.append((where, item, depth + 1))
            elif isinstance(item, h5py.Dataset):
                if item.is_virtual:
                    raise RefusedModel(f"{where} is a virtual dataset (its data lives in other files)")
                if item.id.get_create_plist().get_external_count() > 0:
                    raise RefusedModel(f"{where} keeps its data in external files")
                datasets.append((where, item))
    return datasets


def _read_config(handle, name):
    raw = handle.attrs.get("model_config")
    version = handle.attrs.get("keras_version", b"")
    version = version.decode("utf-8", "replace") if isinstance(version, bytes) else str(version)
    if raw is None:
        return None, version[:40]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not isinstance(raw, str):
        raise RefusedModel(f"{name} is corrupt: its model_config is not text")
    if len(raw) > MAX_CONFIG_BYTES:
        raise RefusedModel(f"{name} has a model config of {len(raw) / 2**20:.0f} MB, over the "
                           f"{MAX_CONFIG_BYTES / 2**20:.0f} MB limit")
    return json.loads(raw), version[:40]


def inspect_h5(path, *, max_bytes=DEFAULT_MAX_BYTES):
    """Check a model file statically; return a :class:`StaticSummary` or raise :class:`RefusedModel`.

    Other exceptions (h5py on a corrupt file raises OSError, RuntimeError, KeyError, TypeError, ...)
    are the caller's to turn into "corrupt" (the inspector does).
    """
    import h5py

    path = pathlib.Path(path)
    size = regular_file_size(path)
    if size > max_bytes:
        raise RefusedModel(f"{path.name} is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit")
    if not h5py.is_hdf5(path):
        raise RefusedModel(f"{path.name} is not an HDF5 file (truncated, corrupt or another format)")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise RefusedModel(f"{path.name} is truncated or corrupt and cannot be read ({error})") from None
    with handle:
        try:
            datasets = _check_structure(handle)
        except RefusedModel as reason:
            raise RefusedModel(f"{path.name} is refused: {reason}") from None
        try:
            config, version = _read_config(handle, path.name)
        except (OSError, ValueError, KeyError) as error:
            raise RefusedModel(f"{path.name} is truncated or corrupt and cannot be read ({error})") from None
        if config is None:
            raise RefusedModel(f"{path.name} holds weights only, not a whole model (save with model.save)")
        if not isinstance(config, dict):
            raise RefusedModel(f"{path.name} is corrupt: its model_config is not a Keras model config")
        parameters = sum(int(item.size) for where, item in datasets
                         if where.startswith("/model_weights/") or "model_weights" not in handle)
    layer_classes, input_shapes, registered_names = [], [], set()
    for obj in _walk_objects(config):
        reason = untrusted_reason(obj)
        if reason:
            raise RefusedModel(f"{path.name} is refused: {reason}")
        layer_classes.append(obj["class_name"])
        if str(obj.get("registered_name") or "").startswith("dlcourse>"):
            registered_names.add(obj["registered_name"])
        if obj["class_name"] == "InputLayer" and isinstance(obj.get("config"), dict):
            shape = obj["config"].get("batch_shape") or obj["config"].get("batch_input_shape")
            input_shapes.append(tuple(shape) if isinstance(shape, list) else None)
    layer_classes.reverse()  # _walk_objects visits depth-first from the end
    return StaticSummary(path=path, size_bytes=size, model_class=str(config.get("class_name", "?"))[:80],
                         layer_classes=layer_classes, parameters=parameters, input_shapes=input_shapes[::-1],
                         keras_version=version, registered_names=sorted(registered_names))
