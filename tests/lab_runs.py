"""Running a lab in the tests: in-process, ``--smoke``, into a temporary output root."""

import json
import pathlib

from dlcourse import catalog


def run_smoke(number, out, *flags):
    """Run lab ``number`` with ``--smoke --out out`` plus ``flags``; return its output folder."""
    lab = catalog.get_lab(number)
    code = catalog.load_lab_module(lab).main(["--smoke", "--out", str(out), *flags])
    assert code in (None, 0), f"lab {lab.name} returned {code}"
    return pathlib.Path(out) / lab.name


def run_record(folder):
    """The run.json a lab left in ``folder``."""
    return json.loads((pathlib.Path(folder) / "run.json").read_text())
