"""``dlcourse grade SUBMISSIONS --out REPORT``: grade every student's saved outputs.

Each folder or ``.zip`` directly under SUBMISSIONS is one student (hidden folders, links and other
files are listed as skipped). Every file a student hands in is read only by limited processes (the
inspector, then the sandboxed loader), so one broken or hostile submission never stops the others,
and nothing is written outside REPORT.

The report is written as it goes (``report.py``): a student's files as soon as they are graded,
grades.csv/json rebuilt from them at the end. Rerunning the same command skips the students already
graded (``--regrade`` grades them again). Ctrl-C or SIGTERM stops at once: no new student or model
is started, the running processes are killed, and the partial report is written (exit 130 / 143).
"""

import concurrent.futures
import os
import pathlib
import signal
import sys
import tempfile
import threading
import time

from dlcourse import __version__
from dlcourse.errors import UserError
from dlcourse.arguments import positive_int
from dlcourse.grading import check, engine, report, sandbox, submissions

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def configure_parser(parser):
    parser.add_argument("submissions", type=pathlib.Path, help="folder of student folders and/or zips")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="report folder (created)")
    parser.add_argument("--labs", nargs="+", default=None, help="labs to grade (default: every lab)")
    parser.add_argument("--gradescope", action="store_true",
                        help="also write gradescope/<student>/results.json in Gradescope's format")
    parser.add_argument("--jobs", type=positive_int, default=max(1, min(4, (os.cpu_count() or 2) // 2)),
                        help="students graded at the same time, each with a warm loader and each model still "
                             "in its own limited child (default %(default)s; each needs ~1 GB of memory)")
    parser.add_argument("--regrade", action="store_true",
                        help="grade every student again, also those an earlier run of the same command graded")
    check.add_limit_arguments(parser)


def grade_submission(submission, labs, data_dir, limits, require_full=False):
    """``(verdicts, refused_reason)`` for one student; unexpected errors become a reason.

    Raises ``sandbox.Interrupted`` when grading is being stopped (the half-done verdicts are not kept).
    """
    if sandbox.stopping():
        raise sandbox.Interrupted
    with tempfile.TemporaryDirectory(prefix="dlcourse-grade-") as scratch:
        empty = pathlib.Path(scratch) / "empty"
        try:
            folder = submission.path
            if submission.is_zip:
                folder = pathlib.Path(scratch) / "unpacked"
                [unpacked] = sandbox.inspect_files(
                    [{"kind": "zip", "path": str(submission.path), "destination": str(folder)}],
                    timeout=limits.timeout, memory_mb=limits.memory_mb)
                if not unpacked["ok"]:
                    raise submissions.RefusedSubmission(unpacked["error"])
            root = submissions.find_output_root(folder)
            return engine.grade_labs(root, labs, data_dir=data_dir, limits=limits, require_full=require_full), None
        except submissions.RefusedSubmission as reason:
            return engine.grade_labs(empty, labs), str(reason)
        except sandbox.Interrupted:
            raise
        except Exception as error:  # never let one submission stop the class
            reason = f"the grader failed on this submission ({type(error).__name__}: {str(error)[:300]})"
            return engine.grade_labs(empty, labs), reason


def _timed(function, *args):
    began = time.perf_counter()
    return function(*args), time.perf_counter() - began


def _settings(args, labs, limits):
    """What makes two runs the same command (a record from a run with other settings is regraded)."""
    return {"dlcourse": __version__, "labs": list(labs), "require": args.require,
            "data_dir": str(args.data_dir.resolve()) if args.data_dir else None,
            "timeout": limits.timeout, "memory_mb": limits.memory_mb, "max_model_bytes": limits.max_model_bytes}


class _Signals:
    """Ctrl-C / SIGTERM while grading: remember it and stop every child at once; raise nothing."""

    def __init__(self):
        self.received = []
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in SIGNAL_EXIT:
                self.previous[number] = signal.signal(number, self.handle)
        return self

    def handle(self, number, frame):
        self.received.append(number)
        sandbox.stop_all()

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _progress(total, initial):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="student", desc="grading", file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)


def _grade_all(todo, args, labs, limits, settings, out, records, stop):
    """Grade ``todo``, writing each student's report files as they finish; the first write error."""
    failure = None
    with _progress(len(todo) + len(records), len(records)) as bar, \
            concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        # Threads only wait on the limited processes, so they are enough to grade students in parallel.
        futures = {pool.submit(_timed, grade_submission, submission, labs, args.data_dir, limits,
                               args.require == "full"): submission for submission in todo}
        for future in concurrent.futures.as_completed(futures):
            submission = futures[future]
            if stop.received or failure:
                for pending in futures:
                    pending.cancel()
            try:
                (verdicts, refused), seconds = future.result()
            except (sandbox.Interrupted, concurrent.futures.CancelledError):
                continue
            if failure:
                continue
            try:
                records[submission.student] = report.write_student(
                    out, submission.student, submission.source, verdicts, refused,
                    settings=settings, gradescope=args.gradescope)
            except (OSError, UserError) as error:
                failure = error
                sandbox.stop_all()
                continue
            points, maximum = sum(v.points for v in verdicts), sum(v.max_points for v in verdicts)
            bar.write(f"{submission.student}: {points:g}/{maximum:g}{' (refused)' if refused else ''} "
                      f"in {seconds:.1f}s", file=sys.stderr)
            bar.update(1)
    return failure


def _reason(error):
    if isinstance(error, OSError):
        return f"{error.filename or 'a report file'}: {error.strerror or error}"
    return str(error)


def command(args):
    if not args.submissions.is_dir():
        raise UserError(f"{args.submissions} is not a folder of submissions")
    out = args.out.resolve()
    found, skipped = submissions.scan_submissions(args.submissions, exclude=out)
    for entry in skipped:
        print(f"skipped {entry.source}: {entry.reason}", file=sys.stderr)
    if not found:
        raise UserError(f"no student folders or .zip files in {args.submissions}")
    labs = check.selected_labs(args.labs)
    limits = check.limits_from(args)
    settings = _settings(args, labs, limits)
    started = time.perf_counter()
    records = {}
    for submission in found if not args.regrade else ():
        record = report.read_student(out, submission.student, submission.source, settings, gradescope=args.gradescope)
        if record is not None:
            records[submission.student] = record
    if records:
        print(f"{len(records)} of {len(found)} students were graded by an earlier run with the same settings: "
              "kept (--regrade grades them again)", file=sys.stderr)
    todo = [submission for submission in found if submission.student not in records]
    sandbox.allow_starts()
    with _Signals() as stop:
        try:
            failure = _grade_all(todo, args, labs, limits, settings, out, records, stop)
        finally:
            sandbox.shutdown()  # the warm loaders, and their scratch folders
        ordered = [records[s.student] for s in found if s.student in records]
        try:
            report.rebuild(out, ordered, labs, skipped=skipped, expected=len(found))
        except (OSError, UserError) as error:
            failure = failure or error
    if failure:
        raise UserError(f"cannot write the report ({_reason(failure)}); the {len(ordered)} students graded so far are "
                        f"kept in {out}/{report.RECORDS}/: free space and rerun the same command to finish")
    if stop.received:
        print(f"interrupted: {len(ordered)} of {len(found)} students graded; partial report in {out}/ "
              "(rerun the same command to finish)", file=sys.stderr)
        return SIGNAL_EXIT[stop.received[0]]
    print(f"graded {len(found)} submissions in {time.perf_counter() - started:.1f}s; report in {out}/ "
          "(grades.csv, grades.json, feedback/)")
    return 0
