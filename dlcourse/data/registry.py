"""The canonical dataset files: names, download URLs and pinned hashes.

``<NAME>_FILES`` lists, for each downloadable dataset of :data:`dlcourse.data.specs.DATASETS`,
the files that ``keras.datasets`` (or, for the flowers, the TensorFlow transfer-learning
tutorial) downloads, under their canonical names, with the URL those APIs use and the SHA-256
the file must have. Where the hashes come from:

- ``mnist.npz``, ``imdb.npz``, ``cifar-10-python.tar.gz``: the ``file_hash`` pinned in Keras 3's
  ``keras/src/datasets/{mnist,imdb,cifar10}.py``.
- Fashion-MNIST's four ``.gz`` files: Keras does not pin them; the SHA-256s are the ones
  TensorFlow Datasets publishes (``url_checksums/fashion_mnist.txt``) for Zalando's originals,
  which the tf-keras-datasets mirror serves byte for byte (same sizes).
- ``imdb_word_index.json``: no SHA-256 is published anywhere we could find; Keras pins its MD5
  (``bfafd718...``, ``keras/src/datasets/imdb.py``), so that is what is checked.
- ``flower_photos.tgz``: TensorFlow Datasets' ``url_checksums/tf_flowers.txt``.

The embedded datasets (``digits``, ``shapes``, ``reviews``) need no files; they are generated on
the fly by :mod:`dlcourse.data.embedded` and :mod:`dlcourse.data.reviews`. The rest of what the
package knows about each dataset is its entry in :mod:`dlcourse.data.specs`.
"""

import dataclasses

KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One canonical file of a dataset.

    ``keras_names`` are the paths (relative to ``~/.keras/datasets``) where ``keras.datasets`` or
    ``keras.utils.get_file`` caches the same bytes under another name, so an existing Keras cache
    is reused without a second download.
    """

    name: str
    url: str
    sha256: str = None
    size: int = None
    md5: str = None
    keras_names: tuple = ()

    @property
    def pinned(self):
        """``"sha256:<hex>"``, ``"md5:<hex>"`` or ``"unpinned"``."""
        if self.sha256:
            return f"sha256:{self.sha256}"
        if self.md5:
            return f"md5:{self.md5}"
        return "unpinned"


MNIST_FILES = (RemoteFile(
    "mnist.npz", KERAS_BASE_URL + "mnist.npz",
    sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    size=11490434, keras_names=("mnist.npz",)),)

# keras.datasets.fashion_mnist downloads from the tf-keras-datasets root (not a subfolder) and
# caches under ~/.keras/datasets/fashion-mnist/.
FASHION_MNIST_FILES = tuple(RemoteFile(name, KERAS_BASE_URL + name, sha256=sha256, size=size,
                                       keras_names=(f"fashion-mnist/{name}",))
                            for name, size, sha256 in (
    ("train-labels-idx1-ubyte.gz", 29515,
     "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    ("train-images-idx3-ubyte.gz", 26421880,
     "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    ("t10k-labels-idx1-ubyte.gz", 5148,
     "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    ("t10k-images-idx3-ubyte.gz", 4422102,
     "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
))

# Keras 3 caches the archive as "cifar-10-batches-py-target_archive"; tf.keras 2 as
# "cifar-10-batches-py.tar.gz".
CIFAR10_FILES = (RemoteFile(
    "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    size=170498071,
    keras_names=("cifar-10-batches-py-target_archive", "cifar-10-batches-py.tar.gz")),)

IMDB_FILES = (
    RemoteFile(
        "imdb.npz", KERAS_BASE_URL + "imdb.npz",
        sha256="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
        size=17464789, keras_names=("imdb.npz",)),
    RemoteFile(
        "imdb_word_index.json", KERAS_BASE_URL + "imdb_word_index.json",
        md5="bfafd718b763782e994055a2d397834f", size=1641221,
        keras_names=("imdb_word_index.json",)),
)

# The TF tutorial calls get_file("flower_photos", origin=..., untar=True): Keras 3 caches the
# archive as "flower_photos_archive", tf.keras 2 as "flower_photos.tar.gz".
FLOWERS_FILES = (RemoteFile(
    "flower_photos.tgz",
    "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",
    sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
    size=228813984,
    keras_names=("flower_photos_archive", "flower_photos.tar.gz", "flower_photos.tgz")),)
