"""Every citation in the repository resolves inside it (docs/SOURCES.md, "Reading a citation").

A clone must explain itself: code, labs, tests and docs may cite the five course documents
(``000 L1489-L1505``, ``003 §1.4.4``), an erratum that ``docs/SOURCES.md`` defines (``erratum
A20``, ``errata A13-A18``) and a section of ``docs/DESIGN.md`` (``docs/DESIGN.md, "Data"``), but
nothing that lives outside the repository: the notes' working files, the founding team's design or
style documents, or their folder. The patterns are joined from pieces at run time, so neither this file nor its
compiled form matches them. The checkers are tried on small texts first, so a failure over the real files means
the file.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "SOURCES.md"
DESIGN = ROOT / "docs/DESIGN.md"
SCANNED = ("dlcourse", "labs", "tests", "docs", "datasets")
SUFFIXES = {".py", ".md", ".json", ".cfg", ".toml", ".txt"}

def _joined(*pieces):
    return "".join(pieces)  # a call, not "a" + "b": the compiler would fold that into one constant


# Documents that are not in the repository: the notes' working files, a design or style document
# other than docs/DESIGN.md, and the folder outside the checkout that held them.
NOTES_FILE, FOLDER = _joined("inven", "tor"), _joined("shar", "ed")
OUTSIDE = [
    (re.compile(NOTES_FILE + "(?:y|ies)", re.IGNORECASE), "cites a notes working file that is not in the repository"),
    (re.compile(r"\.\./" + FOLDER), "points outside the repository"),
    (re.compile(r"\b" + FOLDER + r"/(?:notes|DESIGN|STYLE)"), "points outside the repository"),
    (re.compile(r"(?<!docs/)\bDESIGN\.md"), "cites a design document other than docs/DESIGN.md"),
    (re.compile(r"\bSTYLE\.md"), "cites a style guide that is not in the repository"),
]
ERRATA_CITATION = re.compile(r"\berrat(?:um|a)\s+([AB]\d+(?:\s*(?:,|and|-|–)\s*[AB]?\d+)*)")
DESIGN_CITATION = re.compile(r"docs/DESIGN\.md,\s+\"([^\"]+)\"")


def cited_errata(text):
    """The erratum ids a text cites: ``erratum A20``, ``errata A40 and B47``, ``errata A9-A11, B23``."""
    ids = set()
    for match in ERRATA_CITATION.finditer(text):
        letter, previous, in_range = None, None, False
        for token in re.findall(r"[AB]?\d+|[-–]", match.group(1)):
            if token in "-–":
                in_range = True
                continue
            prefix, digits = re.fullmatch(r"([AB]?)(\d+)", token).groups()
            letter, number = prefix or letter, int(digits)
            first = previous + 1 if in_range and previous is not None else number
            ids.update(f"{letter}{n}" for n in range(first, number + 1))
            previous, in_range = number, False
    return ids


def defined_errata(sources_text):
    """The ids of docs/SOURCES.md's "Errata" section: its ``- **A7** — ...`` entries."""
    errata = sources_text.split("\n## Errata", 1)[1]
    return set(re.findall(r"^- \*\*([AB]\d+)\*\*", errata, re.MULTILINE))


def design_sections(design_text):
    return set(re.findall(r"^## (.+?)\s*$", design_text, re.MULTILINE))


def problems_in(text, errata, sections):
    """``[(line number, problem)]`` for one file's text."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        found += [(number, f"{reason}: {pattern.search(line).group(0)!r}")
                  for pattern, reason in OUTSIDE if pattern.search(line)]
    for match in ERRATA_CITATION.finditer(text):
        missing = sorted(cited_errata(match.group(0)) - errata)
        if missing:
            found.append((text.count("\n", 0, match.start()) + 1,
                          f"cites erratum {', '.join(missing)}, which docs/SOURCES.md does not define"))
    for match in DESIGN_CITATION.finditer(text):
        if match.group(1) not in sections:
            found.append((text.count("\n", 0, match.start()) + 1,
                          f"cites section {match.group(1)!r}, which docs/DESIGN.md does not have"))
    return found


def scanned_files():
    files = [ROOT / "README.md"]
    for folder in SCANNED:
        files += [path for path in sorted((ROOT / folder).rglob("*"))
                  if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts]
    return files


# -- the checkers on small texts -----------------------------------------------------------------
def test_cited_errata_reads_single_ids_lists_and_ranges():
    assert cited_errata("(docs/SOURCES.md, erratum A20)") == {"A20"}
    assert cited_errata("errata A40 and B47") == {"A40", "B47"}
    assert cited_errata("errata A7, A9-A11, B23, B26") == {"A7", "A9", "A10", "A11", "B23", "B26"}
    assert cited_errata("errata A13-A18:") == {f"A{n}" for n in range(13, 19)}
    assert cited_errata("no erratum here, and errata in general") == set()


def test_problems_are_found_and_good_citations_pass():
    # spelled in pieces, so that the scan of this file below does not take them for citations
    errata, sections = {"A1", "B2"}, {"Data", "Runs: resume and scale-out"}
    erratum, design = _joined("errat", "um"), _joined("docs/DESIGN", ".md")
    good = (f'see {design}, "Data" and {design},\n"Runs: resume and scale-out"; '
            f"{erratum} A1; 000 L1489-L1505; 003 §1.4.4")
    assert problems_in(good, errata, sections) == []
    bad_texts = [f"({NOTES_FILE}y 000, error 20)", f"see ../{FOLDER}/{design[5:]}", f'{design[5:]}, "Labs"',
                 f"{erratum} A3", f"{erratum[:-2]}a A1-A2", f'{design}, "Saved outputs"',
                 _joined("STYLE", ".md item 7")]
    for text in bad_texts:
        assert problems_in(text, errata, sections), text


def test_sources_and_design_define_what_the_code_cites():
    errata = defined_errata(SOURCES.read_text(encoding="utf-8"))
    assert {"A20", "B47"} <= errata and all(re.fullmatch(r"[AB]\d+", entry) for entry in errata)
    assert design_sections(DESIGN.read_text(encoding="utf-8")) >= {
        "Architecture", "Contracts", "Labs", "Data", "Grading", "Runs: resume and scale-out"}


# -- the repository --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", scanned_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_citation_resolves_inside_the_repository(path):
    errata = defined_errata(SOURCES.read_text(encoding="utf-8"))
    sections = design_sections(DESIGN.read_text(encoding="utf-8"))
    problems = problems_in(path.read_text(encoding="utf-8", errors="replace"), errata, sections)
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(
        f"  line {number}: {problem}" for number, problem in problems)
