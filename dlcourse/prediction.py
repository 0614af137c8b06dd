"""Predicting the class of local image files with a saved classifier; the ``dlcourse predict`` command.

Unit II, "Practical Work: Image classification", step 5 ("load [the .h5 model] to test on images
independently") and the prediction half of step 6 (the GUI, :mod:`dlcourse.gui`, uses the same
:class:`Predictor`). An image is read with Pillow, converted to the model's colour mode (grey <->
RGB), resized to its input size and scaled the way the model expects; the output is turned into
probabilities (softmax applied when the model outputs logits) and the top-k classes are reported
with the class names found in the ``run.json`` beside the model (indices otherwise).

Usage: ``dlcourse predict saved_models/11_image_classifier/classifier.h5 cat.png dog.jpg --top-k 3``
"""

import json
import math
import pathlib
import sys

import numpy as np

from dlcourse.errors import UserError, report_user_errors

__all__ = ["Predictor", "load_image", "to_probabilities", "top_k", "check_answer",
           "read_run_record", "configure_parser", "command"]

_SCALING_LAYERS = ("Rescaling", "Normalization")


def read_run_record(model_path):
    """The ``run.json`` written beside ``model_path`` by the lab, or ``{}``."""
    path = pathlib.Path(model_path).with_name("run.json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def load_image(path, height, width, channels):
    """Read an image file as a float32 ``(height, width, channels)`` array of pixels in [0, 255].

    Grey images are converted to RGB and colour images to grey (ITU-R 601 luma, Pillow's "L") as
    ``channels`` (1 or 3) requires; transparency is dropped. Raises :class:`UserError` for a
    missing file or one that is not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"image file {path} does not exist")
    try:
        with Image.open(path) as image:
            image.load()
            image = image.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserError(f"{path} is not an image that can be read ({type(error).__name__}); "
                        "give a PNG, JPEG, BMP or GIF file") from None
    image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32)
    return pixels.reshape(height, width, channels)


def to_probabilities(outputs):
    """Rows of class probabilities: ``outputs`` as is when they already are, else their softmax."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if (outputs >= 0).all() and np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3):
        return outputs
    shifted = outputs - outputs.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def top_k(probabilities, class_names, k=3):
    """The ``k`` most probable classes of one probability vector: ``[(name, probability), ...]``."""
    probabilities = np.asarray(probabilities).ravel()
    order = np.argsort(-probabilities, kind="stable")[:max(1, k)]
    return [(str(class_names[index]), float(probabilities[index])) for index in order]


def check_answer(predictions, true_class, class_names):
    """Whether the top prediction is ``true_class`` (a class name, case-insensitive, or an index).

    Returns ``(correct, message)``; raises :class:`UserError` for a class the model does not know.
    """
    names = [str(name) for name in class_names]
    given = str(true_class).strip()
    matches = [name for name in names if name.lower() == given.lower()]
    if not matches and given.isdigit() and int(given) < len(names):
        matches = [names[int(given)]]
    if not matches:
        raise UserError(f"unknown class {given!r}; the model knows: {', '.join(names)}")
    predicted, probability = predictions[0]
    correct = predicted == matches[0]
    if correct:
        return True, f"correct: the model says {predicted} ({probability:.1%})"
    return False, f"wrong: the model says {predicted} ({probability:.1%}), the image is {matches[0]}"


def _image_input(model):
    """``(height, width, channels, flatten)`` the model's single input needs, or ``None``."""
    if len(model.inputs) != 1 or "int" in str(model.inputs[0].dtype):  # integer input: word indices
        return None
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) == 3 and shape[-1] in (1, 3) and None not in shape:
        return shape[0], shape[1], shape[2], False
    if len(shape) == 2 and None not in shape:  # (height, width) grey
        return shape[0], shape[1], 1, "grey2d"
    if len(shape) == 1 and shape[0]:  # flattened images, e.g. an MLP on 784 = 28*28 pixels
        for channels in (1, 3):
            side = math.isqrt(shape[0] // channels)
            if side * side * channels == shape[0]:
                return side, side, channels, True
    return None


def _dataset_class_names(record):
    """Class names of the dataset a run record names (labs that did not save ``class_names``)."""
    dataset = record.get("dataset")
    name = dataset.get("name") if isinstance(dataset, dict) else dataset
    if not name:
        return None
    from dlcourse import data

    try:
        return list(data.class_names(name))
    except Exception:  # an unknown or text dataset: fall back to class indices
        return None


class Predictor:
    """A loaded image classifier with its class names; the logic behind ``predict`` and the GUI.

    Args:
        model: a ``keras.Model`` with one image input and one ``(batch, classes)`` output.
        class_names: one name per class, or ``None`` for ``"0"``, ``"1"``, ...
        pixel_scale: the model's input is pixels / ``pixel_scale`` -- 1 when the model rescales
            itself (a ``Rescaling``/``Normalization`` layer or a ``*_preprocess`` layer), else 255.
    """

    def __init__(self, model, class_names=None, pixel_scale=None):
        image_input = _image_input(model)
        outputs = model.outputs
        if image_input is not None and len(outputs) == 1 \
                and outputs[0].shape[-1] == math.prod(model.inputs[0].shape[1:]):
            image_input = None  # one output per input value: a reconstruction (autoencoder), not classes
        if image_input is None or len(outputs) != 1 or len(outputs[0].shape) != 2 \
                or not outputs[0].shape[-1] or outputs[0].shape[-1] < 2:
            raise UserError(
                f"model {model.name!r} is not an image classifier (inputs "
                f"{[tuple(t.shape) for t in model.inputs]}, outputs {[tuple(t.shape) for t in outputs]}); "
                "`predict` needs one image input and one (batch, classes) output, e.g. "
                "saved_models/11_image_classifier/classifier.h5")
        self.model = model
        self.height, self.width, self.channels, self._flatten = image_input
        num_classes = outputs[0].shape[-1]
        if class_names is None or len(class_names) != num_classes:
            class_names = [str(index) for index in range(num_classes)]
        self.class_names = [str(name) for name in class_names]
        self.pixel_scale = float(pixel_scale) if pixel_scale else self._guess_pixel_scale(model)

    @staticmethod
    def _guess_pixel_scale(model):
        for layer in model.layers[:4]:
            if type(layer).__name__ in _SCALING_LAYERS or layer.name.endswith("_preprocess"):
                return 1.0
        return 255.0

    @classmethod
    def from_file(cls, model_path):
        """Load ``model_path`` safely; class names and pixel scale from the ``run.json`` beside it."""
        from dlcourse import artifacts

        model = artifacts.load_model(model_path)
        record = read_run_record(model_path)
        return cls(model, record.get("class_names") or _dataset_class_names(record), record.get("pixel_scale"))

    def prepare(self, image_paths):
        """A batch ready for the model from image files."""
        batch = np.stack([load_image(path, self.height, self.width, self.channels)
                          for path in image_paths]) / self.pixel_scale
        if self._flatten == "grey2d":
            return batch[..., 0]
        if self._flatten:
            return batch.reshape(len(batch), -1)
        return batch

    def probabilities(self, image_paths):
        """``(len(image_paths), classes)`` probabilities."""
        outputs = self.model.predict(self.prepare(image_paths), verbose=0)
        return to_probabilities(outputs)

    def predict(self, image_path, k=3):
        """Top-``k`` ``[(class name, probability), ...]`` for one image file."""
        return top_k(self.probabilities([image_path])[0], self.class_names, k)


def configure_parser(parser):
    parser.description = "Print the top-k classes a saved image classifier gives each image."
    parser.add_argument("model", help="a saved classifier, e.g. saved_models/11_image_classifier/classifier.h5")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    parser.add_argument("--top-k", type=int, default=3, help="how many classes to print (default 3)")
    return parser


def _predict(args):
    if args.top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {args.top_k}")
    predictor = Predictor.from_file(args.model)
    status = 0
    for image_path in args.images:
        try:
            predictions = predictor.predict(image_path, k=args.top_k)
        except UserError as error:  # one bad image does not stop the others
            print(f"error: {error}", file=sys.stderr)
            status = UserError.exit_code
            continue
        ranked = "  ".join(f"{rank}. {name} {probability:.4f}"
                           for rank, (name, probability) in enumerate(predictions, start=1))
        print(f"{image_path}: {ranked}")
    return status


def command(args):
    """``dlcourse predict``: returns the exit code (2 when a file could not be used)."""
    return report_user_errors(_predict, args)
