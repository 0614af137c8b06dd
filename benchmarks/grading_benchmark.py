"""Grade N generated submissions and print seconds per submission (issue 8's benchmark).

    python benchmarks/grading_benchmark.py --students 5

Each generated student hands in lab 02 (two hand-set XOR/XNOR models, as in tests/test_grading.py),
half of them as zips. Every model is loaded in its own sandboxed process, so the time per submission
is dominated by starting TensorFlow once per model file (a few seconds on a laptop CPU).
"""

import argparse
import pathlib
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from test_grading import write_lab02  # noqa: E402  (the same generated submission the tests use)

from dlcourse import cli  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=1, help="students graded at the same time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        submissions = folder / "submissions"
        for index in range(args.students):
            student = submissions / f"student{index:03d}"
            write_lab02(student / "saved_models")
            if index % 2:
                with zipfile.ZipFile(f"{student}.zip", "w") as archive:
                    for path in sorted(student.rglob("*")):
                        archive.write(path, path.relative_to(student).as_posix())
                for path in sorted(student.rglob("*"), reverse=True):
                    path.unlink() if path.is_file() else path.rmdir()
                student.rmdir()
        started = time.perf_counter()
        code = cli.main(["grade", str(submissions), "--out", str(folder / "report"), "--labs", "02",
                         "--jobs", str(args.jobs)])
        seconds = time.perf_counter() - started
    print(f"graded {args.students} submissions (2 models each, {args.jobs} at a time) in {seconds:.1f} s: "
          f"{seconds / args.students:.2f} s per submission, {seconds / (2 * args.students):.2f} s per model")
    return code


if __name__ == "__main__":
    sys.exit(main())
