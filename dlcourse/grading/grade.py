"""``dlcourse grade SUBMISSIONS --out REPORT``: grade every student's saved outputs.

Each folder or ``.zip`` directly under SUBMISSIONS is one student. Zips are unpacked safely into a
temporary folder; every model passes static checks and is loaded in a separate process with a time
and a memory limit. One broken or hostile submission never stops the others, and nothing is written
outside REPORT.
"""

import pathlib
import sys
import tempfile
import time

from dlcourse.errors import UserError
from dlcourse.grading import check, engine, report, submissions


def configure_parser(parser):
    parser.add_argument("submissions", type=pathlib.Path, help="folder of student folders and/or zips")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="report folder (created)")
    parser.add_argument("--labs", nargs="+", default=None, help="labs to grade (default: every lab)")
    parser.add_argument("--gradescope", action="store_true",
                        help="also write gradescope/<student>/results.json in Gradescope's format")
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
    results = []
    started = time.perf_counter()
    for index, (student, submission) in enumerate(unique_names(found), 1):
        began = time.perf_counter()
        verdicts, refused = grade_submission(submission, labs, args.data_dir, limits)
        results.append((student, verdicts, refused))
        points = sum(v.points for v in verdicts)
        maximum = sum(v.max_points for v in verdicts)
        width = 30
        done = int(width * index / len(found))
        print(f"[{'#' * done}{'.' * (width - done)}] {index}/{len(found)} {student}: {points:g}/{maximum:g}"
              f"{' (refused)' if refused else ''} in {time.perf_counter() - began:.1f}s", file=sys.stderr, flush=True)
    report.write_reports(out, results, labs, gradescope=args.gradescope)
    print(f"graded {len(results)} submissions in {time.perf_counter() - started:.1f}s; report in {out}/ "
          "(grades.csv, grades.json, feedback/)")
    return 0
