"""``dlcourse check [FOLDER]``: a student's own outputs, checked as the grader will.

The folder defaults to the output root the labs write to (``--out``, else ``$DLCOURSE_OUT``, else
``./saved_models``; :func:`dlcourse.artifacts.output_root`).

Runs the same manifests, static checks and sandbox as ``dlcourse grade`` on the lab folders present
(``--labs`` picks others, ``--all`` every lab) and prints what passes and what will lose points, and
why. Exit status 0 when the check ran, whatever the points; 2 when the folder does not exist.
"""

import argparse
import math
import pathlib

from dlcourse import artifacts, catalog
from dlcourse.errors import UserError
from dlcourse.grading import engine, manifest, sandbox, submissions
from dlcourse.arguments import positive_float, positive_int


def positive_finite(text):
    """A number > 0 that is not infinite or NaN (``--timeout``, ``--max-model-mb``)."""
    value = positive_float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


positive_finite.__name__ = "float"


def add_limit_arguments(parser):
    parser.add_argument("--data-dir", type=pathlib.Path, default=None,
                        help="folder with the held-out dataset files (canonical names)")
    parser.add_argument("--timeout", type=positive_finite, default=engine.sandbox.DEFAULT_TIMEOUT_SECONDS,
                        help="seconds allowed to read one file, and to load and evaluate one model "
                             "(default %(default)s)")
    parser.add_argument("--memory-mb", type=positive_int, default=engine.sandbox.DEFAULT_MEMORY_MB,
                        help="address-space limit of the reading and loading processes in MB (default %(default)s)")
    parser.add_argument("--max-model-mb", type=positive_finite, default=engine.inspect_model.DEFAULT_MAX_BYTES / 2**20,
                        help="largest model file accepted, MB (default %(default)s)")
    parser.add_argument("--require", choices=["any", "full"], default="any",
                        help="full: ignore run.json's --smoke/sample claims; every model is evaluated on the "
                             "real held-out data against the full-data thresholds (default %(default)s)")


def limits_from(args):
    return engine.Limits(timeout=args.timeout, memory_mb=args.memory_mb,
                         max_model_bytes=int(args.max_model_mb * 2**20))


def selected_labs(keys):
    """Lab names for ``--labs`` keys (numbers or names); every lab with a manifest by default."""
    if not keys:
        return manifest.available_manifests()
    return [catalog.get_lab(key).name for key in keys]


def configure_parser(parser):
    parser.add_argument("folder", nargs="?", type=pathlib.Path, default=None,
                        help="your outputs folder, as given to the labs' --out (default $DLCOURSE_OUT, "
                             "else ./saved_models)")
    parser.add_argument("--out", dest="out_folder", type=pathlib.Path, default=None,
                        help="the same as FOLDER, spelled as the labs spell it")
    parser.add_argument("--labs", nargs="+", default=None, help="labs to check (default: those present)")
    parser.add_argument("--all", action="store_true", help="check every lab, including missing ones")
    add_limit_arguments(parser)


def print_verdict(verdict):
    print(f"\nlab {verdict.lab}: {verdict.points:g} / {verdict.max_points:g} points")
    if verdict.note:
        print(f"  note: {verdict.note}")
    for item in verdict.items:
        if item.passed:
            print(f"  [ok]      {item.name}: {item.message}")
        else:
            print(f"  [-{item.max_points - item.points:g} pts] {item.name}: {item.message}")


def command(args):
    if args.folder and args.out_folder and args.folder != args.out_folder:
        raise UserError(f"two output folders given ({args.folder} and --out {args.out_folder}); give one")
    args.folder = artifacts.output_root(args.folder or args.out_folder)
    if not args.folder.is_dir():
        raise UserError(f"{args.folder} is not a folder; run a lab first (e.g. `dlcourse run 02`) or name your outputs folder")
    root = submissions.find_output_root(args.folder)
    if args.labs or args.all:
        labs = selected_labs(args.labs)
    else:
        labs = [name for name in manifest.available_manifests() if (root / name).is_dir() and not (root / name).is_symlink()]
        if not labs:
            raise UserError(f"no lab folders (like 02_xor_mlp/) in {root}; run a lab first or pass --all")
    total = maximum = 0
    try:
        verdicts = engine.grade_labs(root, labs, data_dir=args.data_dir, limits=limits_from(args),
                                     require_full=args.require == "full")
    finally:
        sandbox.shutdown()
    for verdict in verdicts:
        print_verdict(verdict)
        total += verdict.points
        maximum += verdict.max_points
    print(f"\ntotal: {total:g} / {maximum:g} points over {len(labs)} lab(s)")
    if total < maximum:
        print("to recover points: fix what is listed, re-run those labs (`dlcourse run NN`), then check again")
    return 0
