"""Execute the notebooks in notebooks/ headlessly in a Jupyter kernel, in their smoke setting.

    python tools/run_notebooks.py            # every notebook
    python tools/run_notebooks.py 06 14      # some: lab numbers or notebook names

Each notebook runs with nbclient (kernel ``python3``, 600 s per cell) in its own temporary working
directory, with ``DLCOURSE_NOTEBOOK_SMOKE=1`` (its settings cell then picks ``--smoke``) and
``DLCOURSE_OFFLINE=1``: nothing is written into the repository or downloaded, and the install cell
finds dlcourse installed (``pip install -e ".[test]"``) and skips. Exits 1 naming each notebook
that failed and its failing cell. Not part of the default test suite: it takes minutes.
"""

import argparse
import os
import pathlib
import re
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, CellExecutionError, DeadKernelError

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(path, *, timeout, executed_dir=None):
    """Execute one notebook; None when every cell ran, else a message naming the failing cell."""
    notebook = nbformat.read(path, as_version=4)
    current = {"index": None}
    with tempfile.TemporaryDirectory(prefix=f"notebook_{path.stem}_") as folder:
        client = NotebookClient(notebook, timeout=timeout, startup_timeout=180, kernel_name="python3",
                                resources={"metadata": {"path": folder}},
                                on_cell_start=lambda cell, cell_index: current.update(index=cell_index))
        try:
            client.execute()
            failure = None
        except (CellExecutionError, CellControlSignal, DeadKernelError, RuntimeError) as error:
            index = current["index"]
            first_line = notebook.cells[index].source.splitlines()[0] if index is not None else ""
            details = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the kernel's traceback colours
            failure = f"{path.name}: cell {index} ({first_line!r}) failed: {type(error).__name__}\n{details}"
    if executed_dir:
        nbformat.write(notebook, pathlib.Path(executed_dir) / path.name)
    return failure


def select(keys):
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not keys:
        return notebooks
    chosen = [path for path in notebooks if any(path.name.startswith(key) or path.stem == key for key in keys)]
    if not chosen:
        raise SystemExit(f"no notebook in {NOTEBOOKS} matches {' '.join(keys)}")
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="lab numbers or notebook names (default: all)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default %(default)s)")
    parser.add_argument("--executed", type=pathlib.Path, default=None,
                        help="also write the executed notebooks (with outputs) into this folder")
    args = parser.parse_args(argv)
    if args.executed:
        args.executed.mkdir(parents=True, exist_ok=True)
    # The kernels inherit this environment.
    os.environ.update(DLCOURSE_NOTEBOOK_SMOKE="1", DLCOURSE_OFFLINE="1")
    os.environ.pop("DLCOURSE_OUT", None)
    failures, started = [], time.perf_counter()
    for path in select(args.notebooks):
        begun = time.perf_counter()
        failure = run_notebook(path, timeout=args.timeout, executed_dir=args.executed)
        print(f"{path.name}: {'FAILED' if failure else 'ok'} in {time.perf_counter() - begun:.1f}s", flush=True)
        if failure:
            print(failure, file=sys.stderr, flush=True)
            failures.append(path.name)
    print(f"ran {len(select(args.notebooks))} notebooks in {time.perf_counter() - started:.0f}s: "
          f"{len(failures)} failed" + (f" ({', '.join(failures)})" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
