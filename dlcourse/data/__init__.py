"""Datasets for the labs: one spec per dataset, canonical files, readers, embedded samples, tf.data.

``load(name, split="train", data_dir=None, **options) -> (x, y)`` returns NumPy arrays (images
uint8 with a channel axis, labels int64) for ``mnist``, ``fashion_mnist``, ``cifar10``, ``imdb``,
``flowers`` (canonical files found in ``--data-dir``, ``$DLCOURSE_DATA``, ``<repo>/datasets/`` or
``~/.keras/datasets/``, SHA-256 verified, downloaded if missing unless ``DLCOURSE_OFFLINE=1``)
and the embedded ``digits``, ``shapes``, ``reviews`` (generated, no download).
``pipeline(x, y, batch_size=...)`` makes a shuffled, batched, prefetched ``tf.data.Dataset``;
``dataset_record(name)`` is what run.json records. See datasets/README.md and docs/DESIGN.md, "Data".
"""

from dlcourse.data.files import data_root, search_paths
from dlcourse.data.loading import class_names, dataset_record, load, word_index
from dlcourse.data.pipeline import pipeline
from dlcourse.data.reviews import review_texts
from dlcourse.data.specs import DATASETS, EMBEDDED, REGISTRY, dataset_names
from dlcourse.data.text import decode_sequence, encode_text

__all__ = [
    "load", "pipeline", "class_names", "dataset_record", "data_root", "search_paths", "EMBEDDED",
    "REGISTRY", "DATASETS", "dataset_names", "word_index", "encode_text", "decode_sequence",
    "review_texts",
]
