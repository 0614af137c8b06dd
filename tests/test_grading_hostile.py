"""Grading that no submission can stop (issue 13): hostile files, names, run.json and faults.

Each kind of input is built here (h5py and JSON edits of good files, a FIFO, a global-heap
corruption that makes h5py spin forever) and the assertions are those of the issue: the class
finishes, every other student's grade is right, the bad one gets a clear verdict naming its file,
and nothing is written outside the report. Most students hand in labs 01 and 04 (JSON only) so that
no TensorFlow process is needed; the hostile models are refused before loading.
"""

import csv
import errno
import json
import os
import pathlib
import random

import h5py
import pytest

from dlcourse import artifacts, cli
from dlcourse.grading import engine, inspect_json, report, sandbox, submissions, verdicts
from test_grading import hand_set_mlp

LAB01_RUN = {"lab": "01_perceptron", "smoke": False, "dataset": {"name": "none"}, "weights": [0.2, 0.1],
             "bias": -0.2, "metrics": {"updates": 2}, "decision_line": {"coefficients": [2.0, 1.0, -2.0]},
             "xor": {"converged": False}}
LAB01_POINTS = 9


def write_lab01(root, run=None, raw=None):
    lab = root / "01_perceptron"
    lab.mkdir(parents=True)
    (lab / "decision_line.png").write_bytes(b"\x89PNG not really")
    (lab / "run.json").write_text(raw if raw is not None else json.dumps(LAB01_RUN if run is None else run))
    return lab


def write_lab04(root, *, smoke, test_accuracy):
    lab = root / "04_backprop"
    lab.mkdir(parents=True)
    (lab / "loss_curve.png").write_bytes(b"png")
    (lab / "gradient_check.json").write_text(json.dumps({"max_relative_error": 1e-9, "passed": True}))
    dataset = {"name": "digits", "embedded": True}
    (lab / "run.json").write_text(json.dumps({"lab": "04_backprop", "smoke": smoke, "dataset": dataset,
                                              "metrics": {"test_accuracy": test_accuracy}}))
    return lab


def good_model(path):
    return artifacts.save_model(hand_set_mlp("xor"), path)


def edit_config(path, edit):
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        edit(config["config"]["layers"])
        handle.attrs["model_config"] = json.dumps(config)


def hanging_model(path):
    """A good model whose global-heap object holding model_config claims 512 bytes more than it has:
    h5py then spins forever reading the attribute (found with a seeded bit-flip fuzzer)."""
    good_model(path)
    with h5py.File(path, "r") as handle:
        length = len(handle.attrs["model_config"].encode("utf-8"))
    data = bytearray(path.read_bytes())
    position = data.find(b"GCOL") + 16  # heap objects: index, refcount, reserved, size (8 bytes), data
    while int.from_bytes(data[position + 8:position + 16], "little") != length:
        position += 16 + (int.from_bytes(data[position + 8:position + 16], "little") + 7) // 8 * 8
    data[position + 8:position + 16] = (length + 512).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    return path


def hostile_models(folder):
    """``{file name: expected words of its refusal}``, each file made from a good model."""
    folder.mkdir(parents=True, exist_ok=True)
    fifo = folder / "pipe.fifo"
    os.mkfifo(fifo)
    expected = {}

    def make(name, words, edit=None, config=None):
        path = good_model(folder / name)
        if edit:
            with h5py.File(path, "r+") as handle:
                edit(handle)
        if config:
            edit_config(path, config)
        expected[name] = words

    make("external_link.h5", "external link", lambda f: f.__setitem__("model_weights/x", h5py.ExternalLink(str(fifo), "/d")))
    make("soft_link.h5", "soft link", lambda f: f.__setitem__("model_weights/s", h5py.SoftLink("/nowhere")))
    (folder / "raw.bin").write_bytes(bytes(16))
    make("external_storage.h5", "external files", lambda f: f.create_dataset(
        "model_weights/e", shape=(4,), dtype="f4", external=[(str(folder / "raw.bin"), 0, 16)]))

    def virtual(handle):
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(folder / "other.h5"), "data", shape=(4,))
        handle.create_virtual_dataset("model_weights/v", layout)

    make("virtual.h5", "virtual dataset", virtual)

    def layer(update):
        return lambda layers: layers[1].update(update)

    make("module.h5", "kerasevil", config=layer({"module": "kerasevil.layers"}))
    make("registered.h5", "neither Keras' nor dlcourse's", config=layer({"registered_name": "evil>Dense"}))
    make("tfsm.h5", "TFSMLayer", config=layer({"class_name": "TFSMLayer", "module": "keras.layers"}))
    make("lookup.h5", "vocabulary from a file", config=layer({"class_name": "StringLookup", "module": "keras.layers",
                                                               "config": {"vocabulary": "/etc/passwd"}}))
    make("lambda.h5", "Lambda", config=layer({"class_name": "Lambda"}))
    make("weird_class.h5", "not a plain class name", config=layer({"class_name": "os.system"}))
    hanging_model(folder / "hang.h5")
    expected["hang.h5"] = "did not finish"
    os.mkfifo(folder / "fifo.h5")
    expected["fifo.h5"] = "named pipe"
    (folder / "link.h5").symlink_to(folder / "module.h5")
    expected["link.h5"] = "symbolic link"
    (folder / "truncated.h5").write_bytes(good_model(folder / "full.h5").read_bytes()[:3000])
    expected["truncated.h5"] = "corrupt"
    return expected


def test_static_check_refuses_by_itself_in_one_limited_process(tmp_path):
    expected = hostile_models(tmp_path / "models")
    good = good_model(tmp_path / "models" / "good.h5")
    names = [*expected, good.name]
    results = sandbox.inspect_files([{"kind": "h5", "path": str(tmp_path / "models" / name)} for name in names],
                                    timeout=3)
    by_name = dict(zip(names, results))
    assert by_name["good.h5"]["ok"] and by_name["good.h5"]["parameters"] == 9
    for name, words in expected.items():
        assert not by_name[name]["ok"], name
        error = by_name[name]["error"]
        assert error.startswith(name) and words in error, (name, error)
        assert "grader failed" not in error
    assert "corrupt" in by_name["hang.h5"]["error"] and "time limit" in by_name["hang.h5"]["error"]
    assert sandbox.running_children() == []


def test_strict_json_reader(tmp_path):
    def load(text):
        path = tmp_path / "run.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return inspect_json.load(path)

    assert load('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    for text, words in [("[1, 2]", "list"), ('"text"', "string"), ("3", "int"), ("[" * 100_000 + "]" * 100_000, "deeper"),
                        ('{"a": ' + "9" * 4000 + "}", "4000 digits"), ('{"a": NaN}', "NaN"), ('{"a": 1e999}', "finite"),
                        (b'{"a": "\xff"}', "UTF-8"), ("{", "not valid JSON"), ('{"a": "' + "x" * (5 << 20) + '"}', "larger")]:
        with pytest.raises(inspect_json.MalformedJSON, match=words):
            load(text)
    assert inspect_json.extract({"a": {"b": 1, "c": 2}, "big": list(range(100_000))}, ["a.b", ["big"], "none"]) == \
        {"a": {"b": 1}, "big": "<a value of 672 kB, too large to grade>"}  # only what is asked, size-limited
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(inspect_json.MalformedJSON, match="not a regular file"):
        inspect_json.load(tmp_path / "fifo.json")
    # types: numbers are never strings or booleans; flags are never numbers
    assert not verdicts.compare("0.2", {"equals": 0.2}, sample=False)[0]
    assert not verdicts.compare(True, {"equals": 1}, sample=False)[0]
    assert not verdicts.compare([True, 0.1], {"equals": [1, 0.1]}, sample=False)[0]
    assert not verdicts.compare("0.9", {"min": 0.5}, sample=False)[0]
    assert not verdicts.compare(1, {"equals": True}, sample=False)[0]
    assert verdicts.compare(True, {"equals": True}, sample=False)[0]


@pytest.mark.parametrize("raw, words, points", [
    ("[1, 2]", "it holds a list", 1), ('"0.2"', "it holds a string", 1),
    ("[" * 100_000 + "]" * 100_000, "nests deeper", 1), ('{"weights": ' + "9" * 4000 + "}", "4000 digits", 1),
    (json.dumps({**LAB01_RUN, "weights": ["0.2", "0.1"], "bias": True, "smoke": "yes"}), "not true or false", 5),
], ids=["list", "string", "deep", "huge-int", "wrong-types"])
def test_check_reports_a_malformed_run_json_without_a_traceback(tmp_path, capsys, raw, words, points):
    write_lab01(tmp_path / "saved_models", raw=raw)
    assert cli.main(["check", str(tmp_path / "saved_models"), "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert words in out and "Traceback" not in out
    assert f"lab 01_perceptron: {points} / 9 points" in out  # a malformed run.json: only decision_line.png


def test_a_claimed_metric_counts_only_with_its_model_evaluated(tmp_path):
    lab = tmp_path / "14_dcgan"
    lab.mkdir()
    artifacts.write_json({"lab": "14_dcgan", "smoke": False, "metrics": {"classifier_score": 9.5}}, lab / "run.json")
    verdict = engine.grade_lab(tmp_path, "14_dcgan")
    item = next(item for item in verdict.items if item.name == "run.json: metrics.classifier_score")
    assert item.points == 0 and "not counted" in item.message and "dcgan_generator.h5" in item.message


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_fuzzed_models_end_in_a_clean_verdict(tmp_path):
    """300 seeded bit-flipped copies of a good model through the inspector: each is accepted or
    refused with its file named ("corrupt", "not an HDF5 file", ...), none "the grader failed"."""
    data = good_model(tmp_path / "good.h5").read_bytes()
    rng = random.Random(13)
    paths = []
    for index in range(300):
        mutated = bytearray(data)
        for _ in range(rng.choice([1, 2, 4])):
            offset = rng.randrange(len(mutated))
            mutated[offset] ^= 1 << rng.randrange(8)
        paths.append(tmp_path / f"fuzz{index:03d}.h5")
        paths[-1].write_bytes(bytes(mutated))
    results = sandbox.inspect_files([{"kind": "h5", "path": str(path)} for path in paths], timeout=3)
    accepted = [path for path, result in zip(paths, results) if result["ok"]]
    for path, result in zip(paths, results):
        if not result["ok"]:
            assert result["error"].startswith(path.name) and "grader failed" not in result["error"], result
            assert any(words in result["error"] for words in ("corrupt", "not an HDF5", "weights only", "refused"))
    assert 0 < len(accepted) < len(paths)
    # one accepted copy goes all the way: it is loaded and graded (or refused by the loader), cleanly
    lab = tmp_path / "root" / "02_xor_mlp"
    lab.mkdir(parents=True)
    accepted[0].rename(lab / "xor_mlp.h5")
    verdict = engine.grade_lab(tmp_path / "root", "02_xor_mlp", limits=engine.Limits(timeout=60))
    assert verdict.max_points == 11 and not any("grader failed" in item.message for item in verdict.items)


@pytest.fixture
def hostile_class(tmp_path):
    root = tmp_path / "submissions"
    write_lab01(root / "alice")                                          # good
    write_lab01(root / "a b")                                            # names that sanitise alike
    write_lab01(root / "a_b", run={**LAB01_RUN, "bias": 0.5})            # ... with another grade
    write_lab01(root / ("x" * 240))                                      # a 240-character name
    write_lab01(root / "张伟")                                           # non-Latin names
    write_lab01(root / "Zoë Ünal")
    write_lab01(root / ".hidden")                                        # hidden: skipped, reported
    write_lab01(root / "listy", raw="[1, 2]")                           # malformed run.json
    write_lab01(root / "deep", raw="[" * 100_000 + "]" * 100_000)
    write_lab01(root / "bigint", raw='{"weights": ' + "9" * 4000 + "}")
    write_lab01(root / "strings", run={**LAB01_RUN, "weights": ["0.2", "0.1"], "bias": True})
    write_lab04(root / "smoky", smoke=True, test_accuracy=0.1)           # a self-declared smoke run
    write_lab04(root / "honest", smoke=False, test_accuracy=0.9)
    hostile = hostile_models(tmp_path / "models")                        # every hostile model, as lab 02
    for name in ("hang.h5", "fifo.h5", "external_link.h5", "tfsm.h5"):
        lab = root / f"m_{name[:-3]}" / "02_xor_mlp"
        lab.mkdir(parents=True)
        source = tmp_path / "models" / name
        if name == "fifo.h5":
            os.mkfifo(lab / "xor_mlp.h5")
        else:
            os.replace(source, lab / "xor_mlp.h5")
        (lab / "xnor_mlp.h5").mkdir()                                   # a folder where a model belongs
    return tmp_path, hostile


def snapshot(folder, report):
    return sorted((str(path), path.lstat().st_size) for path in folder.rglob("*") if not path.is_relative_to(report))


def test_a_hostile_class_is_graded_to_the_end(hostile_class, capsys):
    tmp_path, _ = hostile_class
    report_dir = tmp_path / "report"
    before = snapshot(tmp_path, report_dir)
    assert cli.main(["grade", str(tmp_path / "submissions"), "--out", str(report_dir), "--labs", "01", "02", "04",
                     "--timeout", "4", "--jobs", "2"]) == 0
    assert snapshot(tmp_path, report_dir) == before
    err = capsys.readouterr().err
    assert "skipped .hidden: a hidden folder" in err
    rows = list(csv.DictReader(open(report_dir / "grades.csv", encoding="utf-8")))
    graded = {row["source"]: row for row in rows if row["student"]}
    assert len({row["student"] for row in graded.values()}) == len(graded) == 16
    assert [row["source"] for row in rows if not row["student"]] == [".hidden"]
    lab01 = {source: float(row["01_perceptron"]) for source, row in graded.items()}
    for source in ("alice", "a b", "x" * 240, "张伟", "Zoë Ünal"):
        assert lab01[source] == LAB01_POINTS, source
    assert lab01["a_b"] == LAB01_POINTS - 2
    assert graded["a_b"]["student"] == "a_b" and graded["a b"]["student"].startswith("a_b-")
    assert graded["张伟"]["student"] == "张伟" and graded["Zoë Ünal"]["student"] == "Zoë_Ünal"
    long_name = graded["x" * 240]["student"]
    assert long_name.startswith("x" * 100) and len(long_name.encode()) <= 160
    assert (report_dir / "feedback" / f"{long_name}.md").is_file()
    for source, points in (("listy", 1), ("deep", 1), ("bigint", 1), ("strings", 5)):
        assert graded[source]["status"] == "graded" and lab01[source] == points, source
    details = {s["source"]: s for s in json.load(open(report_dir / "grades.json", encoding="utf-8"))["students"]}

    def messages(source, lab):
        return " ".join(item["message"] for verdict in details[source]["labs"] if verdict["lab"] == lab
                        for item in verdict["items"])

    assert "run.json is malformed: it holds a list" in messages("listy", "01_perceptron")
    assert "nests deeper" in messages("deep", "01_perceptron")
    assert "4000 digits" in messages("bigint", "01_perceptron")
    assert "is not a number" in messages("strings", "01_perceptron")
    # the forged smoke run passes the sample threshold, and the report says so
    assert graded["smoky"]["sample_thresholds"] == "04" and graded["honest"]["sample_thresholds"] == "none"
    assert float(graded["smoky"]["04_backprop"]) == float(graded["honest"]["04_backprop"]) == 8
    for source, words in (("m_hang", "xor_mlp.h5 is corrupt: reading it did not finish within 4 s"),
                          ("m_fifo", "xor_mlp.h5 is a named pipe"),
                          ("m_external_link", "external link"), ("m_tfsm", "TFSMLayer")):
        text = messages(source, "02_xor_mlp")
        assert words in text and "xnor_mlp.h5 is a folder" in text and "grader failed" not in text, (source, text)
        assert graded[source]["status"] == "graded"
    assert not list(report_dir.rglob("*.partial*"))


def test_require_full_holds_smoke_runs_to_the_full_thresholds(tmp_path):
    root = tmp_path / "submissions"
    write_lab04(root / "smoky", smoke=True, test_accuracy=0.1)
    write_lab04(root / "honest", smoke=False, test_accuracy=0.9)
    assert cli.main(["grade", str(root), "--out", str(tmp_path / "report"), "--labs", "04", "--require", "full"]) == 0
    rows = {row["student"]: row for row in csv.DictReader(open(tmp_path / "report" / "grades.csv"))}
    assert float(rows["smoky"]["04_backprop"]) == 7 and float(rows["honest"]["04_backprop"]) == 8
    assert rows["smoky"]["sample_thresholds"] == "none"
    feedback = (tmp_path / "report" / "feedback" / "smoky.md").read_text()
    assert "held to the full-data thresholds" in feedback


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_a_rerun_skips_students_already_graded(tmp_path, capsys):
    root = tmp_path / "submissions"
    for name in ("ann", "ben"):
        write_lab01(root / name)
    command = ["grade", str(root), "--out", str(tmp_path / "report"), "--labs", "01"]
    assert cli.main(command) == 0
    write_lab01(root / "cid")
    capsys.readouterr()
    assert cli.main(command) == 0
    assert "2 of 3 students were graded by an earlier run" in capsys.readouterr().err
    assert len(list(csv.DictReader(open(tmp_path / "report" / "grades.csv")))) == 3
    assert cli.main([*command, "--regrade"]) == 0
    assert "earlier run" not in capsys.readouterr().err


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_a_full_disk_is_one_line_and_keeps_what_was_written(tmp_path, capsys, monkeypatch):
    root = tmp_path / "submissions"
    for name in ("ann", "ben", "cid", "dot"):
        write_lab01(root / name)
    report_dir = tmp_path / "report"
    real_write_bytes = pathlib.Path.write_bytes
    written = []

    def full_disk(path, data):
        if path.is_relative_to(report_dir):
            if len(written) >= 4:  # two students' feedback and record, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            written.append(path)
        return real_write_bytes(path, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", full_disk)
    command = ["grade", str(root), "--out", str(report_dir), "--labs", "01", "--jobs", "1"]
    assert cli.main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot write the report (") and "no space left on device" in err[-1].lower()
    assert "the 2 students graded so far are kept" in err[-1] and "Traceback" not in "\n".join(err)
    assert sorted(path.name for path in (report_dir / report.RECORDS).iterdir()) == ["ann.json", "ben.json"]
    assert not list(report_dir.rglob("*.partial*"))
    monkeypatch.setattr(pathlib.Path, "write_bytes", real_write_bytes)
    assert cli.main(command) == 0
    assert "2 of 4 students were graded by an earlier run" in capsys.readouterr().err
    assert len(list(csv.DictReader(open(report_dir / "grades.csv")))) == 4


@pytest.mark.parametrize("flag, value", [("--timeout", "-1"), ("--timeout", "nan"), ("--timeout", "inf"),
                                         ("--memory-mb", "0"), ("--max-model-mb", "-5"), ("--jobs", "0")])
def test_grade_and_check_flags_are_validated(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "r"), f"{flag}={value}"])
    assert exit_info.value.code == 2 and flag in capsys.readouterr().err
    if flag != "--jobs":
        with pytest.raises(SystemExit):
            cli.main(["check", str(tmp_path), f"{flag}={value}"])


def test_report_names_are_unique_stable_and_short():
    names = submissions.report_names(["a b", "a_b", "!!!", "???", "Alice", "alice.zip", "é" * 200, "é" * 201])
    assert len(set(name.casefold() for name in names.values())) == len(names)
    assert names["a_b"] == "a_b" and names["Alice"] == "Alice"
    assert names == submissions.report_names(list(reversed(list(names))))  # independent of the order
    assert all(len(name.encode()) <= submissions.MAX_NAME_BYTES + 7 for name in names.values())


def _descendants(pid):
    """PIDs of every live process below ``pid`` (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(pathlib.Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


@pytest.mark.long
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process trees from /proc")
def test_sigint_and_sigterm_leave_a_partial_report_and_a_rerun_completes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from test_grading import write_lab02

    root = tmp_path / "submissions"
    for name in ("ann", "ben", "cid"):
        lab = write_lab02(root / name)
        (lab / "xnor_mlp.h5").unlink()  # one model each: one sandboxed load per student
    report_dir, scratch = tmp_path / "report", tmp_path / "tmp"
    scratch.mkdir()
    command = [sys.executable, "-c", "import sys; from dlcourse.cli import main; sys.exit(main())", "grade", str(root),
               "--out", str(report_dir), "--labs", "02", "--jobs", "1", "--memory-mb", "4096"]
    environment = {**os.environ, "TMPDIR": str(scratch)}

    def records():
        folder = report_dir / report.RECORDS
        return len(list(folder.glob("*.json"))) if folder.is_dir() else 0

    def interrupt(number, graded_before):
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 240
        while not (records() > graded_before and _descendants(process.pid)):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
        started = _descendants(process.pid)  # the next student's inspector or loader, running now
        process.send_signal(number)
        _, err = process.communicate(timeout=60)
        assert process.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[number], err.decode()
        assert b"interrupted:" in err and b"Traceback" not in err
        time.sleep(0.2)
        assert [pid for pid in started if os.path.exists(f"/proc/{pid}")] == []  # no orphan
        assert list(scratch.iterdir()) == [] and not list(report_dir.rglob("*.partial*"))  # no temp files
        summary = json.load(open(report_dir / "grades.json"))
        assert not summary["complete"] and summary["graded"] == records() < 3
        assert len(list(csv.DictReader(open(report_dir / "grades.csv")))) == records()
        return records()

    graded = interrupt(signal.SIGINT, 0)
    graded = interrupt(signal.SIGTERM, graded)
    assert graded == 2
    completed = subprocess.run(command, env=environment, capture_output=True, timeout=240)
    assert completed.returncode == 0, completed.stderr.decode()
    rows = {row["student"]: float(row["total"]) for row in csv.DictReader(open(report_dir / "grades.csv"))}
    assert rows == {"ann": 5 + 1, "ben": 6, "cid": 6}  # xor_mlp.h5 and run.json; xnor_mlp.h5 missing
    assert json.load(open(report_dir / "grades.json"))["complete"] and list(scratch.iterdir()) == []
