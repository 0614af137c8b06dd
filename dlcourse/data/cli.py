"""``dlcourse data list | verify NAME | fetch NAME``: see, check and download the dataset files.

- ``list``: every dataset, its files, where each was found (and its size) or "missing", and the
  pinned hash; the embedded datasets.
- ``verify [NAME]``: hash the files found (all datasets when NAME is omitted) against their pins,
  even with ``DLCOURSE_VERIFY=0``; exit 2 when a file is wrong, or when a file of the dataset
  named is missing (without NAME, missing files are listed but are not an error).
- ``fetch NAME``: download whatever is missing into the data root and verify it (``all`` for
  every dataset; refuses when ``DLCOURSE_OFFLINE=1``); the flowers archive is also extracted.
"""

from dlcourse.data import files, loading, specs
from dlcourse.errors import UserError


def configure_parser(parser):
    """Add the ``list``/``verify``/``fetch`` subcommands to the ``dlcourse data`` parser."""
    subcommands = parser.add_subparsers(dest="data_command", metavar="{list,verify,fetch}")
    subcommands.required = True
    listing = subcommands.add_parser("list", help="datasets, their files and where they are")
    verify = subcommands.add_parser("verify", help="check the files' SHA-256 against the pins")
    verify.add_argument("name", nargs="?", help="dataset name (default: every downloadable one)")
    fetch = subcommands.add_parser("fetch", help="download a dataset's missing files")
    fetch.add_argument("name", help="dataset name, or 'all'")
    for subparser in (listing, verify, fetch):
        subparser.add_argument("--data-dir", default=None,
                               help="folder searched first and used for downloads")
    return parser


def command(args):
    """Run ``dlcourse data <subcommand>``; returns the exit code."""
    return {"list": _list, "verify": _verify, "fetch": _fetch}[args.data_command](args)


def _size(path):
    size = path.stat().st_size
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024.0


def _pin(remote):
    algorithm, _, digest = remote.pinned.partition(":")
    if not digest:
        return "UNPINNED (not verified)"
    note = " (Keras's pin; no SHA-256 published)" if algorithm == "md5" else ""
    return f"{algorithm} {digest[:16]}...{note}"


def _list(args):
    print(f"data root (downloads go here): {files.data_root(args.data_dir)}")
    print("searched, in order: " + ", ".join(str(p) for p in files.search_paths(args.data_dir)))
    flags = []
    if files.offline():
        flags.append("DLCOURSE_OFFLINE=1: downloads are off")
    if not files.verification_enabled():
        flags.append("DLCOURSE_VERIFY=0: checksums are not checked")
    for flag in flags:
        print(flag)
    print()
    for name in _downloadable():
        dataset = specs.DATASETS[name]
        print(f"{name}: {dataset.description}")
        for remote in dataset.files:
            path = files.find_file(remote, args.data_dir)
            where = f"{path} ({_size(path)})" if path else f"missing ({remote.url})"
            print(f"  {remote.name:28} {where}\n  {'':28} pinned: {_pin(remote)}")
    for name, dataset in specs.DATASETS.items():
        if dataset.embedded:  # a text corpus's "classes" are its characters: described, not listed
            classes = ("" if dataset.kind == "characters"
                       else f", classes: {', '.join(dataset.class_names)}")
            print(f"{name}: embedded (no download): {dataset.description}{classes}")
    return 0


def _downloadable():
    return tuple(name for name, dataset in specs.DATASETS.items() if not dataset.embedded)


def _names(name):
    if name in (None, "all"):
        return _downloadable()
    specs.spec(name)  # raises UserError for an unknown name
    return (name,)


def _verify(args):
    failures = 0
    for name in _names(args.name):
        dataset = specs.DATASETS[name]
        if dataset.embedded:
            print(f"{name}: embedded, nothing to verify")
            continue
        for remote in dataset.files:
            path = files.find_file(remote, args.data_dir)
            if path is None:
                if args.name:  # asked for this dataset explicitly
                    failures += 1
                print(f"{name}/{remote.name}: missing (`dlcourse data fetch {name}`)")
                continue
            ok, algorithm, expected, actual = files.check_file(remote, path)
            if ok is None:
                print(f"{name}/{remote.name}: {path} UNPINNED, sha256 {files.file_digest(path)}")
            elif ok:
                print(f"{name}/{remote.name}: {path} OK ({algorithm})")
            else:
                failures += 1
                print(f"{name}/{remote.name}: {path} MISMATCH {algorithm} {actual} != expected "
                      f"{expected}; delete it and run `dlcourse data fetch {name}`")
    return 2 if failures else 0


def _fetch(args):
    for name in _names(args.name):
        dataset = specs.DATASETS[name]
        if dataset.embedded:
            print(f"{name}: embedded, nothing to fetch")
            continue
        for remote in dataset.files:
            try:
                path, verified = files.locate(remote, args.data_dir, verify=True)
            except UserError as error:
                raise UserError(f"{name}: {error}") from error
            print(f"{name}/{remote.name}: {path} ({'verified' if verified else 'unverified'})")
        if dataset.kind == "photos":  # extract once now, so labs can use a shared read-only folder
            print(f"{name}: extracted in {loading.photos_folder(dataset, args.data_dir)[0]}")
    return 0
