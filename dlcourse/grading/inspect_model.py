"""Static checks of a submitted ``.h5`` model, done before anything is deserialised.

A model file from a student is untrusted input. This module reads it with ``h5py`` only: the HDF5
signature, the file size, the ``model_config`` JSON (every layer's class and module) and the weight
datasets (parameter count). A file is refused when it is not HDF5, is larger than the limit, holds
a ``Lambda``-style layer (arbitrary code), or names a custom object that is neither Keras' own nor
registered by dlcourse. Only files that pass are loaded, in a separate process, with ``safe_mode=True``
(see ``sandbox.py``).
"""

import dataclasses
import json
import pathlib

DEFAULT_MAX_BYTES = 300 * 1024 * 1024  # lab models are far smaller; the ResNet50 transfer model is ~100 MB
CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda", "LambdaLayer"}
TRUSTED_MODULE_PREFIXES = ("keras", "dlcourse")


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


def _walk_objects(node):
    """Every dict in a Keras config tree that describes a serialised object (has a ``class_name``)."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield node
        for value in node.values():
            yield from _walk_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_objects(value)


def _untrusted_reason(obj):
    class_name = obj.get("class_name")
    if class_name in CODE_LAYERS or obj.get("class_name") == "function" or "function_type" in obj.get("config", {}):
        return f"it contains a {class_name} layer (arbitrary Python code), which is never loaded"
    module = obj.get("module")
    registered = obj.get("registered_name")
    if registered and "dlcourse>" not in str(registered) and not str(module or "").startswith("keras"):
        return f"it uses the custom object {registered!r}, which is neither Keras' nor dlcourse's"
    if module and not str(module).startswith(TRUSTED_MODULE_PREFIXES):
        return f"it uses {class_name} from module {module!r}, which is neither Keras nor dlcourse"
    if registered and "dlcourse>" in str(registered):
        import keras

        import dlcourse  # noqa: F401  (registers the package's layers)

        if keras.saving.get_registered_object(registered) is None:
            return f"it uses {registered!r}, which this version of dlcourse does not define"
    return None


def read_model_config(path):
    """The ``model_config`` JSON stored in an ``.h5`` file (``None`` if it holds weights only)."""
    import h5py

    with h5py.File(path, "r") as handle:
        raw = handle.attrs.get("model_config")
        if raw is None:
            return None, handle.attrs.get("keras_version", b"")
        version = handle.attrs.get("keras_version", b"")
    raw = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    version = version.decode("utf-8") if isinstance(version, bytes) else str(version)
    return json.loads(raw), version


def _count_weights(path):
    import h5py

    total = 0
    with h5py.File(path, "r") as handle:
        group = handle.get("model_weights", handle)

        def visit(_, item):
            nonlocal total
            if isinstance(item, h5py.Dataset):
                total += int(item.size)

        group.visititems(visit)
    return total


def inspect_h5(path, *, max_bytes=DEFAULT_MAX_BYTES):
    """Check a model file statically; return a :class:`StaticSummary` or raise :class:`RefusedModel`."""
    import h5py

    path = pathlib.Path(path)
    if path.is_symlink():
        raise RefusedModel(f"{path.name} is a symbolic link, not a model file")
    if not path.is_file():
        raise RefusedModel(f"{path.name} is missing")
    size = path.stat().st_size
    if size > max_bytes:
        raise RefusedModel(f"{path.name} is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit")
    if not h5py.is_hdf5(path):
        raise RefusedModel(f"{path.name} is not an HDF5 file (truncated, corrupt or another format)")
    try:
        config, version = read_model_config(path)
    except (OSError, ValueError, KeyError) as error:
        raise RefusedModel(f"{path.name} is truncated or corrupt and cannot be read ({error})") from None
    if config is None:
        raise RefusedModel(f"{path.name} holds weights only, not a whole model (save with model.save)")
    layer_classes = []
    input_shapes = []
    for obj in _walk_objects(config):
        reason = _untrusted_reason(obj)
        if reason:
            raise RefusedModel(f"{path.name} is refused: {reason}")
        layer_classes.append(obj["class_name"])
        if obj["class_name"] == "InputLayer":
            shape = obj.get("config", {}).get("batch_shape") or obj.get("config", {}).get("batch_input_shape")
            input_shapes.append(tuple(shape) if shape else None)
    try:
        parameters = _count_weights(path)
    except (OSError, ValueError) as error:
        raise RefusedModel(f"{path.name} has unreadable weights ({error})") from None
    return StaticSummary(path=path, size_bytes=size, model_class=config.get("class_name", "?"),
                         layer_classes=layer_classes, parameters=parameters, input_shapes=input_shapes,
                         keras_version=version)
