"""Grade generated submissions and print models/s, seconds per model and the time for a whole class.

    python benchmarks/grading_benchmark.py                  # 20 students, --jobs 1, then --jobs 2
    python benchmarks/grading_benchmark.py --students 10 --jobs 2 4
    python benchmarks/grading_benchmark.py --students 4 --spawn     # a fresh process per model

Each generated student hands in lab 02 (two hand-set XOR/XNOR models, as in tests/test_grading.py),
half of them as zips, and the class is graded with ``dlcourse grade`` as an instructor would. Each
student's files are first read by one inspector process (no TensorFlow); then every model is loaded
and evaluated in its own limited child forked from a warm loader that imported TensorFlow once
(``--spawn``: a fresh Python and TensorFlow per model, the fallback where ``fork`` is unavailable).

The projection is for 300 students who each hand in all 19 labs: as many model files as the lab
manifests name (lab 08's two glob keys match two files each). The lab 02 models are tiny, so it is
the grader's own cost per model; evaluating the real models on held-out data (lab 10's ResNet50 on
500 images above all) comes on top. The load average is printed: other work on the machine slows
everything down.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from test_grading import write_lab02  # noqa: E402  (the same generated submission the tests use)

from dlcourse import cli  # noqa: E402
from dlcourse.grading import manifest  # noqa: E402

CLASS_STUDENTS = 300
MODELS_PER_STUDENT = 2  # lab 02
GLOB_MATCHES = 2  # lab 08 leaves each of plain*_cifar.h5 and resnet*_cifar.h5 at two depths


def models_in_all_labs():
    """Model files one student hands in for all 19 labs, counted from the manifests."""
    return sum(GLOB_MATCHES if any(character in key for character in "*?[") else 1
               for name in manifest.available_manifests() for key in manifest.load_manifest(name).get("models", {}))


def make_class(submissions, students):
    for index in range(students):
        student = submissions / f"student{index:03d}"
        write_lab02(student / "saved_models")
        if index % 2:
            with zipfile.ZipFile(f"{student}.zip", "w") as archive:
                for path in sorted(student.rglob("*")):
                    archive.write(path, path.relative_to(student).as_posix())
            for path in sorted(student.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            student.rmdir()


def grade(submissions, report, jobs):
    """Seconds to grade the class with ``--jobs jobs``."""
    started = time.perf_counter()
    code = cli.main(["grade", str(submissions), "--out", str(report), "--labs", "02", "--jobs", str(jobs)])
    if code != 0:
        raise SystemExit(f"dlcourse grade failed with exit status {code}")
    return time.perf_counter() - started


def load_average():
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="students graded at the same time")
    parser.add_argument("--spawn", action="store_true", help="a fresh process per model (DLCOURSE_GRADING_SPAWN=1)")
    args = parser.parse_args(argv)
    if args.spawn:
        os.environ["DLCOURSE_GRADING_SPAWN"] = "1"
    per_student = models_in_all_labs()
    models = MODELS_PER_STUDENT * args.students
    print(f"{args.students} students x {MODELS_PER_STUDENT} models (lab 02), {os.cpu_count()} CPUs, "
          f"{'a fresh process' if args.spawn else 'a forked child of a warm loader'} per model; "
          f"a full class: {CLASS_STUDENTS} students x 19 labs = {CLASS_STUDENTS * per_student:,} model files "
          f"({per_student} per student)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        make_class(folder / "submissions", args.students)
        for jobs in args.jobs:
            before = load_average()
            seconds = grade(folder / "submissions", folder / f"report-jobs{jobs}", jobs)
            rows.append((jobs, seconds, before, load_average()))
    print(f"\n{'jobs':>4} {'seconds':>8} {'models/s':>9} {'s/model':>8} {'300 x 19 labs':>14}  load average before -> after")
    for jobs, seconds, before, after in rows:
        rate = models / seconds
        projected = CLASS_STUDENTS * per_student / rate
        print(f"{jobs:>4} {seconds:>8.1f} {rate:>9.2f} {seconds / models:>8.2f} {projected / 3600:>12.1f} h  "
              f"{before} -> {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
