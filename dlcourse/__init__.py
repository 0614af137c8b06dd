"""dlcourse: the TensorFlow/Keras labs of a university deep-learning course.

Importing the package registers its custom layers with Keras (package name ``"dlcourse"``), so a
saved ``.h5`` model loads with ``keras.saving.load_model(path)`` and no ``custom_objects``.
"""

__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ info lines (oneDNN, CUDA probing) drown a lab's output; warnings still show.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dlcourse import layers  # noqa: E402,F401  (registers the custom layers)
