"""The instructor's report: grades.csv, grades.json, feedback/<student>.md, Gradescope results.

Everything is written under the report folder, each file atomically (``dlcourse.artifacts``).
"""

import pathlib

from dlcourse import artifacts


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


def write_reports(report_dir, results, labs, gradescope=False):
    """``results`` is a list of ``(student, verdicts, refused_reason_or_None)``."""
    report_dir = pathlib.Path(report_dir)
    rows, summary = [], []
    for student, verdicts, refused in results:
        total = round(sum(verdict.points for verdict in verdicts), 2)
        maximum = round(sum(verdict.max_points for verdict in verdicts), 2)
        row = {"student": student, "total": total, "max": maximum,
               "percent": round(100 * total / maximum, 1) if maximum else 0.0,
               "status": f"refused: {refused}" if refused else "graded"}
        row.update({verdict.lab: verdict.points for verdict in verdicts})
        rows.append(row)
        summary.append({**row, "labs": [verdict.to_dict() for verdict in verdicts]})
        artifacts.write_text(feedback_markdown(student, verdicts, refused), report_dir / "feedback" / f"{student}.md")
        if gradescope:
            artifacts.write_json(gradescope_results(verdicts, refused),
                                 report_dir / "gradescope" / student / "results.json")
    fieldnames = ["student", "total", "max", "percent", "status", *labs]
    artifacts.write_csv(rows, report_dir / "grades.csv", fieldnames=fieldnames)
    artifacts.write_json({"labs": list(labs), "students": summary}, report_dir / "grades.json")
    return rows
