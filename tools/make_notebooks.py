"""Generate the Colab notebooks ``notebooks/NN_slug.ipynb``, one per lab, from the lab scripts.

    python tools/make_notebooks.py           # rewrite notebooks/ and README.md's "Open in Colab" table
    python tools/make_notebooks.py --check   # exit 1 naming the stale files when that would change anything

The lab scripts are the one source: each notebook's text is its lab's module docstring (the
paragraphs before "What to observe" teach, then "What to observe", then "Outputs"), and its run cell
calls the lab's ``main()`` in the kernel, so Keras' progress bars show and an error stops the cell.
Output is deterministic (no outputs, execution counts or timestamps; cell ids from lab number and
cell index), so regenerating gives no diff. ``tools/run_notebooks.py`` executes the notebooks.
"""

import argparse
import ast
import pathlib
import re
import sys

import nbformat
from nbformat import v4

import dlcourse
from dlcourse import catalog

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/dlcourse/dlcourse"  # the one place naming the repository
BRANCH = "main"  # the branch Colab opens the notebooks from
TAG = f"v{dlcourse.__version__}"  # the release the notebooks install
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
TABLE_START, TABLE_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
CPU_LABS = ("01", "02", "04", "05", "13")  # small enough that Colab's CPU runtime is fine
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# docstring paragraph labels -> notebook section; unlabelled paragraphs stay in the current section
SECTIONS = {"What to observe": "observe", "Reference": "observe", "Outputs": "outputs"}
LABEL = re.compile(r"^([A-Z][A-Za-z ]{1,40}?)( \([^)\n]*\))?:\s*")


def colab_url(lab):
    return (f"https://colab.research.google.com/github/{REPOSITORY.removeprefix('https://github.com/')}"
            f"/blob/{BRANCH}/notebooks/{lab.name}.ipynb")


def inline(text):
    """``code`` -> `code`; outside code, < and > escaped so ``<out>`` is not read as an HTML tag."""
    parts = re.split(r"(``.+?``)", text)
    return "".join(f"`{part[2:-2]}`" if part.startswith("``") else part.replace("<", "&lt;").replace(">", "&gt;")
                   for part in parts)


def markdown(text):
    """The docstring's plain-text layout as Markdown: bullets and numbered items stay lists, other
    indented lines (the labs' little tables) become code blocks."""
    lines, code, in_item = [], [], False

    def flush_code():
        if code:
            indent = min(len(line) - len(line.lstrip()) for line in code)
            lines.extend(["```", *(line[indent:] for line in code), "```"])
            code.clear()

    for line in text.splitlines():
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        item = re.match(r"([-*]|\d+\.) ", stripped)
        if not stripped:
            flush_code()
            lines.append("")
            in_item = False
        elif item and indent <= 2:
            flush_code()
            if lines and lines[-1] and not in_item:
                lines.append("")  # a list needs a blank line after a paragraph
            marker = "-" if item.group(1) in "-*" else item.group(1)
            lines.append(f"{marker} {inline(stripped[item.end():])}")
            in_item = True
        elif indent >= 2 and not in_item:
            code.append(line)
        else:
            flush_code()
            lines.append(("   " if in_item else "") + inline(stripped))
    flush_code()
    return "\n".join(lines).strip()


def lab_text(lab):
    """(one-line description, {section: Markdown}) from the lab script's docstring."""
    source = (ROOT / "labs" / f"{lab.name}.py").read_text(encoding="utf-8")
    paragraphs = re.split(r"\n\s*\n", ast.get_docstring(ast.parse(source)))
    summary = re.sub(r"^Lab \d+ [—-]+ ", "", " ".join(paragraphs[0].split()))
    sections, current = {"teaches": [], "observe": [], "outputs": []}, "teaches"
    for paragraph in paragraphs[1:]:
        label = LABEL.match(paragraph)
        if label and (label.group(1) in SECTIONS or label.group(2) is None):
            current = SECTIONS.get(label.group(1), "teaches")
            rest = paragraph[label.end():]
            if label.group(1) == "Outputs":
                paragraph = f"Files in `OUT/{lab.name}/`: {rest}"
            elif label.group(1) == "What to observe":
                paragraph = rest[:1].upper() + rest[1:]
            else:
                paragraph = f"**{label.group(0).strip()}** {rest}"
        sections[current].append(paragraph)
    if not sections["outputs"]:
        sections["outputs"] = [f"Files in `OUT/{lab.name}/`: {', '.join(lab.outputs)}, run.json."]
    return summary[:1].upper() + summary[1:], {key: markdown("\n\n".join(value)) for key, value in sections.items()}


def cells(lab):
    """The notebook's cells, in order: (kind, source)."""
    summary, text = lab_text(lab)
    version = dlcourse.__version__
    if lab.number in CPU_LABS:
        runtime = "CPU is fine for this lab: the default Colab runtime will do."
    else:
        runtime = "This lab trains a network: pick a GPU runtime, Runtime > Change runtime type > T4 GPU."
    script = f"{REPOSITORY}/blob/{BRANCH}/labs/{lab.name}.py"
    return [
        ("markdown", f"# Lab {lab.number} — {lab.title}\n\n{summary}\n\n"
                     f"Unit {lab.unit} of [dlcourse]({REPOSITORY}), the labs of a deep-learning course in "
                     f"TensorFlow/Keras. This notebook is generated from the lab script "
                     f"[`labs/{lab.name}.py`]({script}); every lab is listed in the "
                     f"[README]({REPOSITORY}#the-labs)."),
        ("markdown", f"## Setup\n\nRun the cells from the top. The first installs dlcourse {TAG} from the "
                     f"repository (Colab already has TensorFlow) and skips that when it is already installed.\n\n"
                     f"**Runtime:** {runtime}"),
        ("code", f'# Install dlcourse {TAG}, unless this version is installed already. Do not clone the\n'
                 f'# repository into a folder named dlcourse here: that folder would shadow the package.\n'
                 f'import importlib\nimport importlib.metadata\n\n'
                 f'try:\n    INSTALLED = importlib.metadata.version("dlcourse")\n'
                 f'except importlib.metadata.PackageNotFoundError:\n    INSTALLED = None\n'
                 f'if INSTALLED != "{version}":\n'
                 f'    %pip install -q "dlcourse @ git+{REPOSITORY}@{TAG}"\n'
                 f'    importlib.invalidate_caches()\n'
                 f'import dlcourse\n\n'
                 f'if getattr(dlcourse, "__version__", None) != "{version}":\n'
                 f'    raise RuntimeError(f"imported dlcourse from {{dlcourse.__path__}}, not the installed {version}: "\n'
                 f'                       "remove or rename that folder and restart the runtime")\n'
                 f'print("dlcourse", dlcourse.__version__, "from", dlcourse.__path__[0])'),
        ("code", f'import tensorflow as tf\n\n'
                 f'print("TensorFlow", tf.__version__, "devices:", ", ".join(d.name for d in tf.config.list_physical_devices()))\n'
                 f'if not tf.config.list_physical_devices("GPU"):\n'
                 f'    print("No GPU. {runtime}")'),
        ("markdown", "**Keep your work on Google Drive** (optional): with `USE_DRIVE = True` the outputs and the "
                     "downloaded datasets go to folders on your Drive. With Drive on, outputs survive a "
                     "disconnect: reconnect and run the cells from the top again; nothing is downloaded twice, and "
                     "an interrupted training resumes from its last checkpoint (saved every epoch under "
                     "`OUT`; add `--restart` to `FLAGS` to start over). "
                     "Otherwise they go to `saved_models/` in the working directory and are lost with the runtime."),
        ("code", 'import os\n\n'
                 'USE_DRIVE = False  # True: outputs and downloads on Google Drive\n'
                 'if USE_DRIVE:\n'
                 '    from google.colab import drive\n\n'
                 '    drive.mount("/content/drive")\n'
                 '    OUT = "/content/drive/MyDrive/dlcourse/saved_models"\n'
                 '    os.environ["DLCOURSE_DATA"] = "/content/drive/MyDrive/dlcourse/datasets"\n'
                 'else:\n'
                 '    OUT = "saved_models"\n'
                 'print("outputs go to", os.path.abspath(OUT))'),
        ("code", f'# SMOKE = True runs the lab in seconds on embedded sample data (one epoch): a quick try.\n'
                 f'# The default, False, runs the full lab; CI sets DLCOURSE_NOTEBOOK_SMOKE=1.\n'
                 f'SMOKE = os.environ.get("DLCOURSE_NOTEBOOK_SMOKE", "0") == "1"\n'
                 f'FLAGS = []  # more lab flags, e.g. ["--epochs", "3"]; `dlcourse run {lab.number} --help` lists them'),
        ("markdown", f"## What this lab teaches\n\n{text['teaches']}"),
        ("markdown", f"## What to observe\n\n{text['observe']}\n\n"
                     f"The next cell runs the lab (`dlcourse run {lab.number}` in a terminal); it ends with one "
                     f"result line, `lab{lab.number} ...`."),
        ("code", f'from dlcourse import catalog\nfrom dlcourse.errors import report_user_errors\n\n'
                 f'LAB = catalog.get_lab("{lab.number}")\n'
                 f'ARGV = ["--out", OUT, *(["--smoke"] if SMOKE else []), *FLAGS]\n'
                 f'print("dlcourse run", LAB.number, *ARGV)\n'
                 f'status = report_user_errors(catalog.load_lab_module(LAB).main, ARGV)\n'
                 f'if status:\n'
                 f'    raise RuntimeError(f"lab {{LAB.name}} stopped (exit status {{status}}): see the error line above")'),
        ("markdown", f"## Outputs\n\n{text['outputs']}\n\nThe plots:"),
        ("code", 'import pathlib\n\nfrom IPython.display import Image, Markdown, display\n\n'
                 'for picture in sorted(pathlib.Path(OUT, LAB.name).glob("*.png")):\n'
                 '    display(Markdown(f"**{picture.name}**"), Image(filename=str(picture)))'),
        ("markdown", "## Check your outputs\n\n`dlcourse check` runs the instructors' grading manifest on your "
                     "outputs and says what passes and what would lose points, and why."),
        ("code", f'from dlcourse import cli\n\n'
                 f'print("dlcourse check --out", OUT, "--labs", LAB.number)\n'
                 f'status = cli.main(["check", "--out", OUT, "--labs", LAB.number])\n'
                 f'if status:\n'
                 f'    raise RuntimeError(f"dlcourse check stopped (exit status {{status}}): see the error line above")'),
    ]


def notebook(lab):
    """Lab ``lab``'s notebook as the exact file text."""
    make = {"markdown": v4.new_markdown_cell, "code": v4.new_code_cell}
    book = v4.new_notebook(cells=[make[kind](source, id=f"lab{lab.number}-{index:02d}")
                                  for index, (kind, source) in enumerate(cells(lab))])
    book.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python"},
                     "colab": {"name": f"{lab.name}.ipynb", "provenance": []}}
    if lab.number not in CPU_LABS:  # Colab opens these on a GPU runtime
        book.metadata["accelerator"] = "GPU"
        book.metadata["colab"]["gpuType"] = "T4"
    nbformat.validate(book)
    return nbformat.writes(book) + "\n"


def readme(text):
    """README.md's text with the "Open in Colab" table between the markers refreshed."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md lacks the markers {TABLE_START} ... {TABLE_END}")
    rows = [f"| {lab.number} | {lab.title} | [![Open In Colab]({BADGE})]({colab_url(lab)}) |" for lab in catalog.LABS]
    table = "\n".join([TABLE_START, "| # | lab | notebook |", "|---|---|---|", *rows, ""])
    return text[:start] + table + text[end:]


def expected_files():
    """{path: text} of every generated file."""
    files = {NOTEBOOKS / f"{lab.name}.ipynb": notebook(lab) for lab in catalog.LABS}
    files[README] = readme(README.read_text(encoding="utf-8"))
    return files


def stale_files():
    """Paths that regenerating would write or delete (relative to the repository root)."""
    files = expected_files()
    extra = [path for path in NOTEBOOKS.glob("*.ipynb") if path not in files]
    changed = [path for path, text in files.items()
               if not path.is_file() or path.read_text(encoding="utf-8") != text]
    return [str(path.relative_to(ROOT)) for path in sorted(changed + extra)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 naming the files regenerating would change")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path}")
        if stale:
            print("regenerate with: python tools/make_notebooks.py")
        return 1 if stale else 0
    files = expected_files()
    NOTEBOOKS.mkdir(exist_ok=True)
    for path in NOTEBOOKS.glob("*.ipynb"):
        if path not in files:
            path.unlink()
    for path, text in files.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
