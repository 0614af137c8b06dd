"""The instructor's report: grades.csv, grades.json, feedback/<student>.md, Gradescope results.

Written as grading goes: when a student is graded, their feedback (and Gradescope results) and then
``students/<student>.json`` (their row and every check) are written, each file atomically
(``dlcourse.artifacts``); the record is written last, so it marks a student as done. ``grades.csv``
and ``grades.json`` are rebuilt from the records at the end, and on an interruption. A rerun with
the same settings reads the records back instead of grading those students again.
"""

import json
import pathlib

from dlcourse import artifacts

RECORDS = "students"
MAX_RECORD_BYTES = 32 * 1024 * 1024


def feedback_markdown(student, verdicts, refused=None):
    """One student's feedback: per lab, each check with its points and the reason."""
    total = sum(verdict.points for verdict in verdicts)
    maximum = sum(verdict.max_points for verdict in verdicts)
    lines = [f"# Feedback for {student}", "", f"**Total: {total:g} / {maximum:g} points**", ""]
    if refused:
        lines += [f"Your submission could not be graded: {refused}", "",
                  "Fix that and submit again; no lab was graded.", ""]
        return "\n".join(lines)
    for verdict in verdicts:
        lines += [f"## Lab {verdict.lab}: {verdict.points:g} / {verdict.max_points:g}", ""]
        if verdict.note:
            lines += [f"_{verdict.note}_", ""]
        lines += ["| check | points | details |", "|---|---|---|"]
        for item in verdict.items:
            mark = "ok" if item.passed else "lost"
            details = item.message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {item.name} | {item.points:g} / {item.max_points:g} ({mark}) | {details} |")
        lines.append("")
    return "\n".join(lines)


def gradescope_results(verdicts, refused=None):
    """Gradescope's autograder format: ``{"score", "output", "tests": [...]}``."""
    tests = [{"name": f"{verdict.lab}: {item.name}", "score": item.points, "max_score": item.max_points,
              "output": item.message} for verdict in verdicts for item in verdict.items]
    return {"score": round(sum(test["score"] for test in tests), 2),
            "output": refused or "Graded by dlcourse grade.", "tests": tests}


def student_row(student, source, verdicts, refused):
    total = round(sum(verdict.points for verdict in verdicts), 2)
    maximum = round(sum(verdict.max_points for verdict in verdicts), 2)
    sample = [verdict.lab[:2] for verdict in verdicts if verdict.sample_data]
    row = {"student": student, "source": source, "total": total, "max": maximum,
           "percent": round(100 * total / maximum, 1) if maximum else 0.0,
           "status": f"refused: {refused}" if refused else "graded",
           "sample_thresholds": " ".join(sample) if sample else "none"}
    row.update({verdict.lab: verdict.points for verdict in verdicts})
    return row


def write_student(report_dir, student, source, verdicts, refused, *, settings, gradescope=False):
    """Write one student's feedback, Gradescope results and record; returns the record."""
    report_dir = pathlib.Path(report_dir)
    record = {"settings": settings, "row": student_row(student, source, verdicts, refused),
              "labs": [verdict.to_dict() for verdict in verdicts]}
    artifacts.write_text(feedback_markdown(student, verdicts, refused), report_dir / "feedback" / f"{student}.md")
    if gradescope:
        artifacts.write_json(gradescope_results(verdicts, refused), report_dir / "gradescope" / student / "results.json")
    artifacts.write_json(record, report_dir / RECORDS / f"{student}.json")
    return record


def read_student(report_dir, student, source, settings, *, gradescope=False):
    """The record of ``student`` from an earlier run with the same settings and source, else None."""
    report_dir = pathlib.Path(report_dir)
    path = report_dir / RECORDS / f"{student}.json"
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_RECORD_BYTES:
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("settings") != settings \
            or not isinstance(record.get("row"), dict) or record["row"].get("source") != source:
        return None
    if not (report_dir / "feedback" / f"{student}.md").is_file() or \
            (gradescope and not (report_dir / "gradescope" / student / "results.json").is_file()):
        return None
    return record


def rebuild(report_dir, records, labs, *, skipped=(), expected=None):
    """Write grades.csv and grades.json from ``records`` (in order); ``expected`` students in all."""
    report_dir = pathlib.Path(report_dir)
    rows = [record["row"] for record in records]
    rows += [{"student": "", "source": entry.source, "status": f"skipped: {entry.reason}"} for entry in skipped]
    fieldnames = ["student", "source", "total", "max", "percent", "status", "sample_thresholds", *labs]
    artifacts.write_csv(rows, report_dir / "grades.csv", fieldnames=fieldnames)
    expected = len(records) if expected is None else expected
    artifacts.write_json({"labs": list(labs), "complete": len(records) == expected, "graded": len(records),
                          "students_found": expected,
                          "students": [{**record["row"], "labs": record["labs"]} for record in records],
                          "skipped": [{"source": entry.source, "reason": entry.reason} for entry in skipped]},
                         report_dir / "grades.json")
    return rows
