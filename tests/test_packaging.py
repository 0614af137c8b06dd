"""The package as a student installs it: a built wheel in a fresh virtual environment, used from an
empty folder (``pip install git+...`` on Colab builds the same wheel).

The virtual environment sees this interpreter's site-packages (``--system-site-packages``) for
TensorFlow and the other dependencies, so nothing is downloaded; the wheel itself is installed into
the new environment and must shadow the editable checkout (asserted).
"""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import venv
import zipfile

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent


def tree_digest(folder):
    """Name, size and content hash of every file under ``folder``."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(folder), str(REPOSITORY)], check=True, capture_output=True, text=True)
    (built,) = folder.glob("dlcourse-*.whl")
    return built


def test_the_wheel_ships_every_lab_and_the_data_files(wheel):
    from dlcourse import catalog

    names = set(zipfile.ZipFile(wheel).namelist())
    for lab in catalog.LABS:
        assert f"dlcourse/labs/{lab.name}.py" in names
        assert f"dlcourse/grading/manifests/{lab.name}.json" in names
    assert "dlcourse/labs/__init__.py" in names and "dlcourse/__main__.py" in names
    assert not any(name.startswith(("labs/", "tests/", "saved_models/", "datasets/")) for name in names)


@pytest.mark.long  # a fresh process tree, tens of seconds: CI runs it after the default suite
def test_installed_wheel_runs_a_lab_and_check_from_an_empty_folder(wheel, tmp_path):
    environment_folder = tmp_path / "venv"
    venv.create(environment_folder, system_site_packages=True, with_pip=False)
    python = environment_folder / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, capture_output=True, text=True)
    site_packages = pathlib.Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    installed = site_packages / "dlcourse"
    before = tree_digest(installed)

    work = tmp_path / "empty"
    work.mkdir()
    home = tmp_path / "home"
    environment = {**os.environ, "HOME": str(home), "DLCOURSE_OFFLINE": "1", "PYTHONPATH": "",
                   "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("DLCOURSE_OUT", None)
    environment.pop("DLCOURSE_DATA", None)
    dlcourse = [str(python), "-m", "dlcourse"]

    def run(*arguments):
        result = subprocess.run([*dlcourse, *arguments], cwd=work, env=environment, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    located = subprocess.run([python, "-c", "import dlcourse, dlcourse.catalog as c; "
                              "print(dlcourse.__file__); print(c.labs_directory())"],
                             cwd=work, env=environment, capture_output=True, text=True, check=True).stdout.split()
    assert located == [str(installed / "__init__.py"), str(installed / "labs")]

    listing = run("list")
    assert listing.count("\n") == 30 and "29_image_translation" in listing  # a header and the 29 labs
    run("run", "02", "--smoke")
    lab_folder = work / "saved_models" / "02_xor_mlp"
    assert json.loads((lab_folder / "run.json").read_text())["lab"] == "02_xor_mlp"
    checked = run("check")
    assert "lab 02_xor_mlp:" in checked and "over 1 lab(s)" in checked
    points, maximum = checked.split("total: ")[1].split(" points")[0].split(" / ")
    assert float(points) == float(maximum) > 0

    # the saved model reloads in a fresh process with safe_mode (after `import dlcourse`)
    loaded = subprocess.run(
        [python, "-c", "import dlcourse, keras, numpy as np; "
         "m = keras.saving.load_model('saved_models/02_xor_mlp/xor_mlp.h5', safe_mode=True); "
         "print(int(m.count_params()), np.round(m.predict(np.array([[0,0],[0,1],[1,0],[1,1]], 'float32'), "
         "verbose=0).ravel()).astype(int).tolist())"],
        cwd=work, env=environment, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    parameters, predictions = loaded.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(parameters) == 9
    assert json.loads(predictions) == [0, 1, 1, 0]

    assert tree_digest(installed) == before  # nothing written into the install tree
    assert not (site_packages / "saved_models").exists() and not (site_packages / "datasets").exists()
