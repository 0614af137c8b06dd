"""Grading: static model checks, safe zip extraction, the sandbox, and a generated class of submissions.

The class: good students (one made by running lab 02 with --smoke), one missing files, one with a truncated .h5, one with a Lambda layer, one
with the wrong architecture, a zip with '../' and absolute entries, and one whose model exhausts
memory when loaded. Each gets the right verdict, the run completes, nothing is written outside REPORT.
"""

import csv
import json
import os
import pathlib
import signal
import zipfile

import h5py
import keras
import numpy as np
import pytest

from dlcourse import artifacts, cli
from dlcourse.grading import engine, inspect_model, manifest, sandbox, submissions, verdicts, warm_loader
from lab_runs import run_smoke

XOR_WEIGHTS = {"xor": 1.0, "xnor": -1.0}


def hand_set_mlp(table, hidden=2):
    """A 2-2-1 tanh/sigmoid MLP with weights set by hand so it computes XOR (or XNOR) exactly."""
    inputs = keras.Input((2,))
    hidden_layer = keras.layers.Dense(hidden, activation="tanh", name="hidden")
    output_layer = keras.layers.Dense(1, activation="sigmoid", name="output")
    model = keras.Model(inputs, output_layer(hidden_layer(inputs)), name=f"{table}_mlp")
    sign = XOR_WEIGHTS[table]
    kernel, bias, out = np.zeros((2, hidden), "float32"), np.zeros(hidden, "float32"), np.zeros((hidden, 1), "float32")
    kernel[:, :2], bias[:2], out[:2, 0] = 10.0, [-5.0, -15.0], [10.0 * sign, -10.0 * sign]
    hidden_layer.set_weights([kernel, bias])  # extra hidden units (if any) are switched off
    output_layer.set_weights([out, np.array([-10.0 * sign], "float32")])
    return model


def write_lab02(folder, *, xor=None, xnor=None, run_json=True):
    lab = folder / "02_xor_mlp"
    lab.mkdir(parents=True)
    for table, model in (("xor", xor), ("xnor", xnor)):
        artifacts.save_model(model if model is not None else hand_set_mlp(table), lab / f"{table}_mlp.h5")
    if run_json:
        artifacts.write_json({"lab": "02_xor_mlp", "dataset": {"name": "none"}}, lab / "run.json")
    return lab


def lambda_model():
    inputs = keras.Input((2,))
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Lambda(lambda x: x * 2)(inputs)))


def memory_bomb(path):
    """Rewrite a valid model's config so building it allocates 2 x 2**30 floats (8 GB)."""
    artifacts.save_model(hand_set_mlp("xor"), path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Dense" and layer["config"]["name"] == "hidden":
                layer["config"]["units"] = 2**30
        handle.attrs["model_config"] = json.dumps(config)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    good = root / "submissions"
    write_lab02(good / "alice" / "saved_models")                                   # good, by hand
    run_smoke("02", good / "ivan" / "saved_models")                                 # good, by the lab
    (good / "bob" / "saved_models").mkdir(parents=True)                              # missing files
    lab = write_lab02(good / "carol")                                               # truncated .h5
    data = (lab / "xor_mlp.h5").read_bytes()
    (lab / "xor_mlp.h5").write_bytes(data[: len(data) // 3])
    write_lab02(good / "dave", xnor=lambda_model())                                  # Lambda layer
    write_lab02(good / "erin", xor=hand_set_mlp("xor", hidden=8))                    # wrong architecture
    with zipfile.ZipFile(good / "frank.zip", "w") as archive:                        # escaping zip
        archive.writestr("saved_models/02_xor_mlp/run.json", "{}")
        archive.writestr("../../escaped.txt", "owned")
        archive.writestr("/tmp/absolute.txt", "owned")
    lab = write_lab02(good / "grace")                                               # memory bomb
    memory_bomb(lab / "xnor_mlp.h5")
    zipped = root / "zipped"                                                         # a good zip
    write_lab02(zipped / "saved_models")
    with zipfile.ZipFile(good / "heidi.zip", "w") as archive:
        for path in sorted(zipped.rglob("*")):
            archive.write(path, path.relative_to(zipped).as_posix())
    return root


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_class_is_graded_with_the_right_verdicts(classroom, capsys):
    report = classroom / "report"
    before = sorted(p for p in classroom.parent.rglob("*") if not p.is_relative_to(report))
    assert cli.main(["grade", str(classroom / "submissions"), "--out", str(report), "--labs", "02",
                     "--gradescope", "--memory-mb", "4096", "--jobs", "2"]) == 0
    rows = {row["student"]: row for row in csv.DictReader(open(report / "grades.csv"))}
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"}
    maximum = manifest.max_points(manifest.load_manifest("02_xor_mlp"))
    assert maximum == 11
    points = {student: float(row["total"]) for student, row in rows.items()}
    assert points["alice"] == points["heidi"] == points["ivan"] == 11
    assert points["bob"] == 0
    assert points["carol"] == 6      # the truncated xor_mlp.h5 is refused: its 5 points lost
    assert points["dave"] == 6       # the Lambda model is never loaded
    assert points["erin"] == pytest.approx(11 - 2 / 5)  # wrong parameter count (33 vs 9), still computes XOR
    assert points["frank"] == 0 and rows["frank"]["status"].startswith("refused: zip entry")
    assert points["grace"] == 6 and "memory" in json.dumps(json.load(open(report / "grades.json")))

    details = json.load(open(report / "grades.json"))
    dave = next(s for s in details["students"] if s["student"] == "dave")
    reasons = [item["message"] for item in dave["labs"][0]["items"] if not item["passed"]]
    assert any("Lambda" in reason for reason in reasons)
    feedback = (report / "feedback" / "carol.md").read_text()
    assert "truncated or corrupt" in feedback and "**Total: 6 / 11 points**" in feedback
    gradescope = json.load(open(report / "gradescope" / "alice" / "results.json"))
    assert gradescope["score"] == 11 and len(gradescope["tests"]) == 13
    # nothing was written outside REPORT: no escaped files, no extraction leftovers
    after = sorted(p for p in classroom.parent.rglob("*") if not p.is_relative_to(report))
    assert after == before
    assert "[" in capsys.readouterr().err  # the progress bar


def test_check_prints_what_loses_points(tmp_path, capsys, monkeypatch):
    write_lab02(tmp_path / "saved_models", xnor=hand_set_mlp("xor"))
    monkeypatch.chdir(tmp_path)  # a student runs `dlcourse check` with a relative folder
    assert cli.main(["check", "saved_models"]) == 0
    out = capsys.readouterr().out
    assert "lab 02_xor_mlp: 8 / 11 points" in out
    assert "[-3 pts] xnor_mlp.h5: truth_table" in out


def test_check_of_a_missing_folder_is_a_user_error(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_static_inspection_refusals(tmp_path):
    path = artifacts.save_model(hand_set_mlp("xor"), tmp_path / "ok.h5")
    summary = inspect_model.inspect_h5(path)
    assert summary.parameters == 9 and summary.input_shapes == [(None, 2)]
    with pytest.raises(inspect_model.RefusedModel, match="over the"):
        inspect_model.inspect_h5(path, max_bytes=100)
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(inspect_model.RefusedModel, match="not an HDF5"):
        inspect_model.inspect_h5(tmp_path / "text.h5")
    with h5py.File(path, "r+") as handle:  # a custom object from somewhere else
        config = json.loads(handle.attrs["model_config"])
        layer = config["config"]["layers"][1]
        layer.update({"module": "evil.layers", "registered_name": "evil>Backdoor"})
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(inspect_model.RefusedModel, match="evil"):
        inspect_model.inspect_h5(path)
    weights_only = tmp_path / "only.weights.h5"
    hand_set_mlp("xor").save_weights(weights_only)
    with pytest.raises(inspect_model.RefusedModel, match="weights only"):
        inspect_model.inspect_h5(weights_only)


def test_zip_extraction_refuses_escapes_links_and_bombs(tmp_path):
    def make(name, entries, symlink=None):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for entry, data in entries.items():
                archive.writestr(entry, data)
            if symlink:
                info = zipfile.ZipInfo(symlink)
                info.external_attr = (0o120777 << 16)
                archive.writestr(info, "/etc/passwd")
        return path

    for name, entries, symlink, reason in [
        ("dots.zip", {"a/../../x": "1"}, None, "escapes"),
        ("absolute.zip", {"/etc/x": "1"}, None, "absolute"),
        ("windows.zip", {"C:/x": "1"}, None, "absolute"),
        ("link.zip", {"a": "1"}, "link", "symbolic link"),
    ]:
        with pytest.raises(submissions.RefusedSubmission, match=reason):
            submissions.extract_zip(make(name, entries, symlink), tmp_path / "out" / name)
        assert not (tmp_path / "out" / name).exists()
    bomb = make("bomb.zip", {"zeros": b"\0" * (4 << 20)})
    with pytest.raises(submissions.RefusedSubmission, match="more than"):
        submissions.extract_zip(bomb, tmp_path / "out" / "bomb", max_total_bytes=1 << 20)
    fine = submissions.extract_zip(make("fine.zip", {"s/02_xor_mlp/run.json": "{}"}), tmp_path / "out" / "fine")
    assert submissions.find_output_root(fine) == fine / "s"


def slow_request(path):
    """A request whose evaluation takes seconds: 10**6 samples through ``predict``, 128 at a time."""
    return {"model_path": str(path), "checks": [{"kind": "generator_output", "count": 10**6}]}


@pytest.mark.parametrize("spawn", [False, True], ids=["warm-loader", "fresh-process"])
def test_sandbox_time_limit(tmp_path, monkeypatch, spawn):
    if spawn:
        monkeypatch.setenv("DLCOURSE_GRADING_SPAWN", "1")
    path = artifacts.save_model(hand_set_mlp("xor"), tmp_path / "xor.h5")
    result = sandbox.run_in_sandbox(slow_request(path), timeout=0.5)
    assert result == {"ok": False, "error": "loading or evaluating the model took longer than 0.5 s (time limit)"}
    assert sandbox.running_children() == []


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_a_warm_loader_grades_model_after_model_each_under_its_own_limits(tmp_path, monkeypatch):
    """One loader process (TensorFlow imported once) forks a limited child per model: a memory
    bomb, a hang and the loader's own death cost only their model; the loader is replaced."""
    sandbox.shutdown()
    good = artifacts.save_model(hand_set_mlp("xor"), tmp_path / "xor.h5")
    memory_bomb(tmp_path / "bomb.h5")
    request = {"model_path": str(good), "checks": [{"kind": "truth_table", "table": "xor", "points": 3}]}

    def graded(result):
        return result["ok"] and result["parameters"] == 9 and result["checks"][0]["value"] == 1.0

    assert graded(sandbox.run_in_sandbox(request))
    [loader] = sandbox.warm_loaders()
    bombed = sandbox.run_in_sandbox({"model_path": str(tmp_path / "bomb.h5"), "checks": []}, memory_mb=4096)
    assert bombed == {"ok": False, "error": "loading the model needed more than the 4096 MB memory limit"}
    assert "time limit" in sandbox.run_in_sandbox(slow_request(good), timeout=1)["error"]
    assert graded(sandbox.run_in_sandbox(request)) and sandbox.warm_loaders() == [loader]
    os.kill(loader, signal.SIGKILL)  # the loader dies between two models: the next one gets a new loader
    assert graded(sandbox.run_in_sandbox(request))
    [replacement] = sandbox.warm_loaders()
    assert replacement != loader and sandbox.running_children() == []
    folders = [pathlib.Path(warm.folder) for warm in warm_loader.loaders()]
    sandbox.shutdown()
    assert sandbox.warm_loaders() == [] and not any(folder.exists() for folder in folders)
    monkeypatch.setenv("DLCOURSE_GRADING_SPAWN", "1")  # the fallback: a fresh process per model
    assert graded(sandbox.run_in_sandbox(request)) and sandbox.warm_loaders() == []


def test_generator_and_threshold_verdicts():
    value = {"shape": [28, 28, 1], "min": -1.0, "max": 0.99, "std": 0.4, "finite": True}
    assert verdicts.generator_verdict(value, {"shape": [28, 28, 1], "range": [-1, 1]})[0]
    assert not verdicts.generator_verdict({**value, "max": 3.0}, {"shape": [28, 28, 1], "range": [-1, 1]})[0]
    assert not verdicts.generator_verdict({**value, "std": 0.0}, {"shape": [28, 28, 1], "range": [-1, 1]})[0]
    check = {"min": 0.7, "sample_min": 0.2}
    assert verdicts.compare(0.5, check, sample=False)[0] is False
    assert verdicts.compare(0.5, check, sample=True)[0] is True
    assert verdicts.compare([0.2, 0.1], {"equals": [0.2, 0.1]}, sample=False)[0]
    assert not verdicts.compare(float("nan"), check, sample=True)[0]


def test_every_lab_has_a_valid_manifest():
    from dlcourse import catalog

    assert manifest.available_manifests() == [lab.name for lab in catalog.LABS]
    for lab in catalog.LABS:
        assert manifest.max_points(manifest.load_manifest(lab.name)) > 0


def test_glob_model_keys_grade_every_match_and_keep_the_maximum(tmp_path):
    """Lab 08 names its models by depth; a "resnet" file without residual Add layers loses points."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    lab = tmp_path / "08_classic_architectures"
    artifacts.save_model(keras.Model(inputs, outputs), lab / "resnet8_cifar.h5")
    verdict = engine.grade_lab(tmp_path, "08_classic_architectures")
    assert verdict.max_points == manifest.max_points(manifest.load_manifest("08_classic_architectures")) == 15
    by_name = {item.name: item for item in verdict.items}
    assert by_name["plain*_cifar.h5"].points == 0 and by_name["plain*_cifar.h5"].message == "missing"
    assert by_name["resnet8_cifar.h5: required layers"].points == 0
    assert "Add" in by_name["resnet8_cifar.h5: required layers"].message
    assert by_name["resnet8_cifar.h5: input shape"].passed
