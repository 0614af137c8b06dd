"""Finding, verifying and downloading the canonical dataset files.

Lookup order for a file (docs/DESIGN.md, "Data"): the ``data_dir`` argument (the labs' ``--data-dir``),
``$DLCOURSE_DATA``, the ``datasets/`` folder of the checkout the package runs from (not in an
installed package), then ``~/.keras/datasets/`` (the cache ``keras.datasets`` fills). A
file found there is SHA-256 verified (hashed once per process; the result is cached by path, size and
modification time) and a mismatch is an error: the bad file is never used. A missing file is
downloaded into the data root (``data_dir``, else ``$DLCOURSE_DATA``, else ``~/.keras/datasets``: a
per-user folder, never the install tree) unless ``DLCOURSE_OFFLINE=1``. ``DLCOURSE_VERIFY=0`` skips
the checksum check for an instructor's own subset of a dataset; such files are recorded as
``verified: False``.
"""

import hashlib
import os
import pathlib
import sys
import sysconfig
import tempfile
import urllib.request

from dlcourse.errors import UserError

PACKAGE_PARENT = pathlib.Path(__file__).resolve().parent.parent.parent
# Module attributes (not constants inlined in functions) so tests can point them elsewhere.
# REPO_DATASETS only counts when PACKAGE_PARENT is a checkout (it has setup.cfg): in an installed
# package it would be a folder inside site-packages, which is never searched or written.
REPO_DATASETS = PACKAGE_PARENT / "datasets"
KERAS_DATASETS = pathlib.Path("~/.keras/datasets").expanduser()

_HASH_CACHE = {}  # (path, size, mtime_ns, algorithm) -> hex digest
_UNVERIFIED_NOTED = set()  # paths used unverified (DLCOURSE_VERIFY=0), noted once per process
_CHUNK = 1 << 20


def _env_flag(name, default):
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off")


def offline():
    """True when ``DLCOURSE_OFFLINE`` forbids downloads."""
    return _env_flag("DLCOURSE_OFFLINE", False)


def verification_enabled():
    """False when ``DLCOURSE_VERIFY=0`` opts out of checksum verification."""
    return _env_flag("DLCOURSE_VERIFY", True)


def search_paths(data_dir=None):
    """The folders searched for dataset files, in order (duplicates removed)."""
    candidates = []
    if data_dir:
        candidates.append(pathlib.Path(data_dir).expanduser())
    if os.environ.get("DLCOURSE_DATA"):
        candidates.append(pathlib.Path(os.environ["DLCOURSE_DATA"]).expanduser())
    if not _inside_install_tree(REPO_DATASETS):
        candidates.append(pathlib.Path(REPO_DATASETS))
    candidates.append(pathlib.Path(KERAS_DATASETS))
    folders = []
    for folder in candidates:
        if folder.resolve() not in [known.resolve() for known in folders]:
            folders.append(folder)
    return folders


def _inside_install_tree(folder):
    """True when ``folder`` lies in an installation's site-packages (a wheel install), where
    ``<package parent>/datasets`` is not a checkout's folder and must not be used."""
    folder = pathlib.Path(folder).resolve()
    install_trees = {pathlib.Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    return any(folder.is_relative_to(tree) for tree in install_trees)


def data_root(data_dir=None):
    """The folder downloads (and extracted archives) go to: ``data_dir``, else ``$DLCOURSE_DATA``,
    else ``~/.keras/datasets`` (per user, shared with ``keras.datasets``; never the install tree)."""
    if data_dir:
        return pathlib.Path(data_dir).expanduser()
    if os.environ.get("DLCOURSE_DATA"):
        return pathlib.Path(os.environ["DLCOURSE_DATA"]).expanduser()
    return pathlib.Path(KERAS_DATASETS)


def file_digest(path, algorithm="sha256"):
    """Hex digest of a file, cached per process by (path, size, mtime)."""
    path = pathlib.Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, algorithm)
    if key not in _HASH_CACHE:
        digest = hashlib.new(algorithm)
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(_CHUNK), b""):
                    digest.update(chunk)
        except OSError as error:  # e.g. a shared file without read permission
            raise UserError(f"cannot read {path} ({error.strerror or error}); fix its "
                            "permissions, or delete it so it is downloaded again") from error
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def _compare(remote, sha256=None, md5=None):
    if remote.sha256:
        return sha256 == remote.sha256.lower(), "sha256", remote.sha256, sha256
    if remote.md5:
        return md5 == remote.md5.lower(), "md5", remote.md5, md5
    return None, None, None, None


def check_file(remote, path):
    """Compare a file with its pinned hash: ``(ok, algorithm, expected, actual)``.

    ``ok`` is ``None`` for an unpinned file (nothing to compare with).
    """
    if remote.sha256:
        return _compare(remote, sha256=file_digest(path, "sha256"))
    if remote.md5:
        return _compare(remote, md5=file_digest(path, "md5"))
    return _compare(remote)


def _mismatch_error(remote, path, algorithm, expected, actual):
    return UserError(
        f"{remote.name} at {path} is not the canonical file: {algorithm} {actual} != expected "
        f"{expected}. It was not used. Delete it (or replace it with a fresh download from "
        f"{remote.url}); if it is your own subset on purpose, set DLCOURSE_VERIFY=0")


def candidates(remote, folder):
    """Paths in ``folder`` where ``remote`` may sit: its canonical name, then (only in the Keras
    cache) the names ``keras.datasets`` gives it."""
    folder = pathlib.Path(folder)
    paths = [folder / remote.name]
    if folder.expanduser().resolve() == pathlib.Path(KERAS_DATASETS).expanduser().resolve():
        paths += [folder / name for name in remote.keras_names if name != remote.name]
    return paths


def find_file(remote, data_dir=None):
    """The first existing path for ``remote`` in :func:`search_paths`, or ``None``. No checks."""
    for folder in search_paths(data_dir):
        for path in candidates(remote, folder):
            if path.is_file():
                return path
    return None


def locate(remote, data_dir=None, *, download=True, verify=None):
    """Find (or download) one dataset file and verify it; returns ``(path, verified)``.

    Raises :class:`UserError` on a checksum mismatch, or when the file is missing and cannot be
    downloaded (offline, or the download failed).
    """
    verify = verification_enabled() if verify is None else verify
    path = find_file(remote, data_dir)
    if path is None:
        if not download or offline():
            reason = ("downloads are off: DLCOURSE_OFFLINE=1" if offline()
                      else "it has not been downloaded")
            raise missing_error(remote, data_dir, reason=reason)
        return download_file(remote, data_dir), bool(remote.sha256 or remote.md5)
    if not verify:
        if path not in _UNVERIFIED_NOTED:
            _UNVERIFIED_NOTED.add(path)
            print(f"note: DLCOURSE_VERIFY=0: using {path} without checking its checksum",
                  file=sys.stderr)
        return path, False
    ok, algorithm, expected, actual = check_file(remote, path)
    if ok is False:
        raise _mismatch_error(remote, path, algorithm, expected, actual)
    return path, bool(ok)


def missing_error(remote, data_dir=None, *, reason):
    folders = ", ".join(str(folder) for folder in search_paths(data_dir))
    return UserError(
        f"{remote.name} not found ({reason}); searched: {folders}. Download it from {remote.url} "
        f"into one of those folders (or point --data-dir / DLCOURSE_DATA at a folder that has "
        f"it), or run the lab with --dataset sample to use the embedded stand-in that needs no download")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _progress_bar(total, name):
    """A tqdm bar on stderr: bytes done of ``total`` in k/M/G (1024-based), rate and time left.

    In a terminal or a notebook it redraws ten times a second; in a log file (stderr redirected)
    only every 10 seconds, so the log gets a few states of the bar and its final line, not thousands.
    """
    import tqdm

    interactive = getattr(sys.stderr, "isatty", lambda: False)() or "ipykernel" in sys.modules
    return tqdm.tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                     file=sys.stderr, mininterval=0.1 if interactive else 10.0)


def download_file(remote, data_dir=None):
    """Download ``remote`` into :func:`data_root`: to a temporary file, verified, then moved into
    place atomically. Nothing is left behind when it fails."""
    root = data_root(data_dir)
    target = root / remote.name
    temporary = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{remote.name}.", suffix=".part", dir=root)
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        print(f"Downloading {remote.url} -> {target}", file=sys.stderr)
        with os.fdopen(handle, "wb") as output, \
                urllib.request.urlopen(remote.url, timeout=60) as response:
            total = response.headers.get("Content-Length")
            with _progress_bar(int(total) if total else remote.size, remote.name) as progress:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    output.write(chunk)
                    sha256.update(chunk)
                    md5.update(chunk)
                    progress.update(len(chunk))
        ok, algorithm, expected, actual = _compare(remote, sha256.hexdigest(), md5.hexdigest())
        if ok is False:
            raise UserError(
                f"the download of {remote.name} from {remote.url} has {algorithm} {actual}, "
                f"expected {expected}; it was discarded. Try again later, or copy a good "
                f"{remote.name} into {root} (or run the lab with --dataset sample)")
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it 0600: others could not read it
        os.replace(temporary, target)
        temporary = None
        resolved = target.resolve()
        stat = resolved.stat()
        for name, digest in (("sha256", sha256), ("md5", md5)):  # so it is not hashed again
            _HASH_CACHE[(str(resolved), stat.st_size, stat.st_mtime_ns, name)] = digest.hexdigest()
    except UserError:
        raise
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        raise missing_error(remote, data_dir, reason=f"the download failed: {error}") from error
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
    return target

