"""``dlcourse grade SUBMISSIONS --out REPORT``: grade every student's saved outputs.

Each folder or ``.zip`` directly under SUBMISSIONS is one student. Zips are unpacked safely into a
temporary folder; every model passes static checks and is loaded in a separate process with a time
and a memory limit. One broken or hostile submission never stops the others, and nothing is written
outside REPORT.
"""

import concurrent.futures
import os
import pathlib
import sys
import tempfile
import time

from dlcourse.errors import UserError
from dlcourse.training import positive_int
from dlcourse.grading import check, engine, report, submissions


def configure_parser(parser):
    parser.add_argument("submissions", type=pathlib.Path, help="folder of student folders and/or zips")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="report folder (created)")
    parser.add_argument("--labs", nargs="+", default=None, help="labs to grade (default: every lab)")
    parser.add_argument("--gradescope", action="store_true",
                        help="also write gradescope/<student>/results.json in Gradescope's format")
    parser.add_argument("--jobs", type=positive_int, default=max(1, min(4, (os.cpu_count() or 2) // 2)),
                        help="students graded at the same time, each model still in its own limited "
                             "process (default %(default)s; each needs ~1 GB of memory)")
    check.add_limit_arguments(parser)


def grade_submission(submission, labs, data_dir, limits):
    """``(verdicts, refused_reason)`` for one student; unexpected errors become a reason."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-grade-") as scratch:
        try:
            folder = submission.path
            if submission.is_zip:
                folder = submissions.extract_zip(submission.path, pathlib.Path(scratch) / "unpacked")
            root = submissions.find_output_root(folder)
            return [engine.grade_lab(root, lab, data_dir=data_dir, limits=limits) for lab in labs], None
        except submissions.RefusedSubmission as reason:
            return [engine.grade_lab(pathlib.Path(scratch) / "empty", lab) for lab in labs], str(reason)
        except Exception as error:  # never let one submission stop the class
            reason = f"the grader failed on this submission ({type(error).__name__}: {error})"
            return [engine.grade_lab(pathlib.Path(scratch) / "empty", lab) for lab in labs], reason


def _timed(function, *args):
    began = time.perf_counter()
    return function(*args), time.perf_counter() - began


def unique_names(found):
    seen = {}
    for submission in found:
        count = seen.get(submission.student, 0)
        seen[submission.student] = count + 1
        yield (submission.student if count == 0 else f"{submission.student}_{count + 1}"), submission


def command(args):
    if not args.submissions.is_dir():
        raise UserError(f"{args.submissions} is not a folder of submissions")
    out = args.out.resolve()
    found = [s for s in submissions.find_submissions(args.submissions) if s.path.resolve() != out]
    if not found:
        raise UserError(f"no student folders or .zip files in {args.submissions}")
    labs = check.selected_labs(args.labs)
    limits = check.limits_from(args)
    started = time.perf_counter()
    named = list(unique_names(found))
    results = {}
    # Threads only wait on the sandbox processes, so they are enough to grade students in parallel.
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_timed, grade_submission, submission, labs, args.data_dir, limits): student
                   for student, submission in named}
        for index, future in enumerate(concurrent.futures.as_completed(futures), 1):
            student = futures[future]
            (verdicts, refused), seconds = future.result()
            results[student] = (student, verdicts, refused)
            points = sum(v.points for v in verdicts)
            maximum = sum(v.max_points for v in verdicts)
            width = 30
            done = int(width * index / len(named))
            print(f"[{'#' * done}{'.' * (width - done)}] {index}/{len(named)} {student}: {points:g}/{maximum:g}"
                  f"{' (refused)' if refused else ''} in {seconds:.1f}s", file=sys.stderr, flush=True)
    results = [results[student] for student, _ in named]
    report.write_reports(out, results, labs, gradescope=args.gradescope)
    print(f"graded {len(results)} submissions in {time.perf_counter() - started:.1f}s; report in {out}/ "
          "(grades.csv, grades.json, feedback/)")
    return 0
