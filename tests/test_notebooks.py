"""The Colab notebooks: generated from the lab scripts and up to date, one per lab, each with its
install, run and check cells. Executing them is ``tools/run_notebooks.py`` (minutes; not run here)."""

import importlib.util
import json
import pathlib

import pytest

from dlcourse import __version__, catalog

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "tools" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_cells(lab):
    notebook = json.loads((ROOT / "notebooks" / f"{lab.name}.ipynb").read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_notebooks_are_up_to_date_with_the_labs():
    stale = load_generator().stale_files()
    assert stale == [], f"stale: {stale}; regenerate with `python tools/make_notebooks.py`"


def test_one_notebook_per_lab():
    names = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert names == sorted(lab.name for lab in catalog.LABS)


@pytest.mark.parametrize("lab", catalog.LABS, ids=lambda lab: lab.number)
def test_notebook_installs_runs_and_checks_its_lab(lab):
    cells = code_cells(lab)
    install = cells[0]
    assert f'git+https://github.com/dlcourse/dlcourse@v{__version__}"' in install
    assert f'!= "{__version__}"' in install  # skipped when that version is installed
    assert "git clone" not in "".join(cells)
    assert any('os.environ.get("DLCOURSE_NOTEBOOK_SMOKE", "0") == "1"' in cell for cell in cells)
    assert any("drive.mount(" in cell and "DLCOURSE_DATA" in cell for cell in cells)
    run = [cell for cell in cells if ".main(ARGV)" in cell or "main, ARGV" in cell]
    assert len(run) == 1 and f'catalog.get_lab("{lab.number}")' in run[0] and '"--out", OUT' in run[0]
    assert any('"check", "--out", OUT, "--labs", LAB.number' in cell for cell in cells[cells.index(run[0]):])
