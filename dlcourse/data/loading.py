"""``load``, ``class_names``, ``word_index`` and ``dataset_record``: the data API the labs use.

``load(name, split)`` returns NumPy arrays: images uint8 with a channel axis, labels int64
vectors. Everything about a dataset comes from its entry in :data:`dlcourse.data.specs.DATASETS`;
this module has one loader per kind of data (images, sequences, photos, characters) and no
per-dataset branch. Downloadable datasets are located, verified (and downloaded if needed) by
:mod:`dlcourse.data.files`, then parsed by the entry's reader; the embedded ones are generated
by theirs. Every split is checked by :func:`check` before it is returned (dtype, image shape,
counts, label range). Parsed files are memoised per process, so loading "train" and then
"test" reads a file once.
"""

import functools

from dlcourse.data import files, readers, specs, text, validation

SPLITS = ("train", "test")


def class_names(name):
    """The class names of a dataset, index = label."""
    return list(specs.spec(name).class_names)


def _paths(spec, data_dir, wanted=None):
    """``{canonical name: verified path}`` of the files named in ``wanted`` (default: the ones
    ``load`` reads, ``spec.reads``; ``None`` there means all)."""
    wanted = spec.reads if wanted is None else wanted
    return {remote.name: files.locate(remote, data_dir)[0] for remote in spec.files
            if wanted is None or remote.name in wanted}


@functools.lru_cache(maxsize=4)
def _read(spec, key):
    return spec.reader({canonical: path for canonical, path, _size, _mtime in key})


def _cache_key(paths):
    # Path, size and mtime: a replaced file is read again.
    return tuple(sorted((canonical, str(path), path.stat().st_size, path.stat().st_mtime_ns)
                        for canonical, path in paths.items()))


def _read_files(spec, data_dir):
    """``(parsed arrays, {canonical name: path})``."""
    paths = _paths(spec, data_dir)
    return _read(spec, _cache_key(paths)), paths


def _sources(spec, split, paths):
    """``(images, labels)``: the file (and the array inside) each comes from, for error messages."""
    if spec.sources is None:
        where = paths if spec.files else f"the embedded {spec.name!r} dataset"
        return str(where), str(where)
    fields = {"split": split, "idx": "train" if split == "train" else "t10k",
              "batches": "data_batch_1..5" if split == "train" else "test_batch"}
    images_file, images_array, labels_file, labels_array = spec.sources

    def source(filename, array):
        path = paths[filename.format(**fields)]
        return f"{path} ({array.format(**fields)})" if array else str(path)
    return source(images_file, images_array), source(labels_file, labels_array)


def check(spec, split, x, y, paths=None, image_shape=None):
    """The split ``(x, y)`` of the dataset ``spec`` after :func:`validation.check_split` against
    its image shape and classes; ``paths`` name the files in the messages."""
    images, labels = _sources(spec, split, paths)
    return validation.check_split(x, y, image_shape=image_shape or spec.image_shape,
                                  num_classes=len(spec.class_names), images=images, labels=labels)


def load(name, split="train", data_dir=None, **options):
    """Load one split of a dataset as NumPy arrays ``(x, y)``.

    Args:
        name: ``mnist``, ``fashion_mnist``, ``cifar10``, ``imdb``, ``flowers`` (files, downloaded
            if missing) or ``digits``, ``shapes``, ``reviews``, ``corpus`` (embedded).
        split: ``"train"`` or ``"test"``.
        data_dir: a folder searched first (the labs' ``--data-dir``) and used for downloads.
        **options: ``imdb``/``reviews``: ``num_words``, ``skip_top``, ``maxlen``, ``seed``,
            ``start_char``, ``oov_char``, ``index_from`` (as ``keras.datasets.imdb.load_data``),
            ``sequence_length``, ``padding``, ``truncating`` (as ``keras.utils.pad_sequences``);
            ``reviews`` also ``return_text=True`` for the raw strings (same order as the
            sequences; ``maxlen`` filtering not applied). ``flowers``: ``image_size=(224, 224)``.
            ``corpus``: ``sequence_length=100`` and ``stride`` (default: ``sequence_length``).

    Returns:
        Images: x (N, H, W, C) uint8. Text: x an object array of int lists, or int32
        (N, sequence_length) when ``sequence_length`` is given. y int64 (N,). ``corpus``: x int32
        (N, sequence_length) character ids, y int64 (N, sequence_length) the next ids.
    """
    spec = specs.spec(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    unknown = set(options) - set(spec.options)
    if unknown:
        raise ValueError(f"{name} takes no option(s) {', '.join(sorted(unknown))}; "
                         f"valid: {', '.join(spec.options) or 'none'}")
    return LOADERS[spec.kind](spec, split, data_dir, **options)


def _load_images(spec, split, data_dir):
    if spec.embedded:
        return check(spec, split, *spec.reader(split))
    raw, paths = _read_files(spec, data_dir)
    x, y = raw[SPLITS.index(split)]
    return check(spec, split, x.copy(), y, paths)


def _load_sequences(spec, split, data_dir, return_text=False, **options):
    if return_text:
        return spec.texts(split, seed=options.get("seed", text.IMDB_OPTIONS["seed"]))
    raw, paths = (spec.reader(), None) if spec.embedded else _read_files(spec, data_dir)
    for each, (x, y) in zip(SPLITS, (raw[:2], raw[2:])):  # both are transformed together
        check(spec, each, x, y, paths)
    return text.prepare(raw, **options)[SPLITS.index(split)]


def photos_folder(spec, data_dir=None):
    """``(folder, archive_sha256)``: the extracted photo folders (extracted once if needed)."""
    path, _ = files.locate(spec.files[0], data_dir)
    archive_sha256 = files.file_digest(path)  # names the extracted copy (cached per process)
    return readers.extract_flowers(path, files.data_root(data_dir), archive_sha256), archive_sha256


def _load_photos(spec, split, data_dir, image_size=(224, 224)):
    folder, archive_sha256 = photos_folder(spec, data_dir)
    height, width = (int(size) for size in image_size)
    x, y = _read_photos(spec, str(folder), archive_sha256, (height, width))[SPLITS.index(split)]
    return check(spec, split, x.copy(), y, folder, image_shape=(height, width, 3))


@functools.lru_cache(maxsize=1)  # 3670 images of 224x224x3 are 550 MB: keep one size only
def _read_photos(spec, folder, archive_sha256, image_size):
    return spec.reader(folder, spec.class_names, image_size)


def _load_characters(spec, split, data_dir, **options):
    x, y = spec.reader(split, **options)
    return check(spec, split, x, y)


LOADERS = {"images": _load_images, "sequences": _load_sequences, "photos": _load_photos,
           "characters": _load_characters}


def word_index(name="imdb", data_dir=None):
    """``{word: rank}`` for ``imdb`` (``imdb_word_index.json``) or ``reviews``."""
    spec = specs.DATASETS.get(name)
    if spec is None or spec.word_index is None:
        having = " or ".join(repr(each) for each, entry in specs.DATASETS.items() if entry.word_index)
        raise ValueError(f"word_index is for {having}, not {name!r}")
    return spec.word_index(_paths(spec, data_dir, spec.word_index_files))


def dataset_record(name, data_dir=None):
    """What run.json records about a dataset: name, files with their SHA-256, verified, embedded.

    Never downloads: a missing file is listed with ``path: None`` (and ``verified: False``).
    ``verified`` is True only when every file was found and matches its pinned hash, with
    verification on (``DLCOURSE_VERIFY=0`` records False).
    """
    spec = specs.spec(name)
    if spec.embedded:
        return {"name": name, "embedded": True, "verified": True, "files": [],
                "source": f"embedded in dlcourse.data ({name}): {spec.description}"}
    entries, all_verified = [], files.verification_enabled()
    for remote in spec.files:
        path = files.find_file(remote, data_dir)
        entry = {"name": remote.name, "path": None, "sha256": None, "pinned": remote.pinned,
                 "url": remote.url}
        if path is None:
            all_verified = False
        else:
            ok = files.check_file(remote, path)[0] if files.verification_enabled() else False
            all_verified = all_verified and bool(ok)
            entry.update(path=str(path), sha256=files.file_digest(path),
                         size=path.stat().st_size)
        entries.append(entry)
    return {"name": name, "embedded": False, "verified": all_verified, "files": entries,
            "source": spec.homepage}
