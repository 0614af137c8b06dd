"""Student submissions: folders or zips under one directory, unpacked safely.

A zip is untrusted input: entries with absolute paths or ``..`` that would escape the extraction
folder, symbolic links, too many entries and too many bytes (zip bombs) are refused before anything is
written. Extraction happens in a temporary folder owned by the grader, never beside the zip.
"""

import dataclasses
import hashlib
import os
import pathlib
import re
import stat
import unicodedata
import zipfile

MAX_ENTRIES = 5000
MAX_TOTAL_BYTES = 2 * 1024**3
LAB_FOLDER = re.compile(r"^\d\d_[a-z0-9_]+$")
MAX_NAME_BYTES = 150  # + ".md" and the atomic writer's temporary prefix and suffix: well under 255


class RefusedSubmission(Exception):
    """The whole submission is refused; the message is the reason."""


@dataclasses.dataclass(frozen=True)
class Submission:
    student: str  # the report name: unique, readable, safe as a file name
    path: pathlib.Path
    source: str = ""  # the folder or zip name as handed in

    @property
    def is_zip(self):
        return self.path.suffix.lower() == ".zip"


@dataclasses.dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def scan_submissions(root, exclude=None):
    """``(submissions, skipped)``: each folder or ``.zip`` directly under ``root`` is one student.

    Hidden folders and zips (a name starting with ``.``), symbolic links, ``__MACOSX`` and other
    files are not graded and are listed in ``skipped`` with the reason (hidden plain files such as
    ``.DS_Store`` are ignored). Report names are unique (see :func:`report_names`).
    """
    root = pathlib.Path(root)
    found, skipped = [], []
    for path in sorted(root.iterdir()):
        if exclude is not None and path.resolve() == pathlib.Path(exclude).resolve():  # the report folder
            continue
        source = display_name(path.name)
        try:
            mode = path.lstat().st_mode
        except OSError as error:
            skipped.append(Skipped(source, f"cannot be read ({error.strerror or error})"))
            continue
        is_zip = stat.S_ISREG(mode) and path.suffix.lower() == ".zip"
        if path.name.startswith("."):
            if stat.S_ISDIR(mode) or is_zip:
                skipped.append(Skipped(source, "a hidden folder or zip (its name starts with '.'); rename it to grade it"))
        elif stat.S_ISLNK(mode):
            skipped.append(Skipped(source, "a symbolic link; copy the submission itself"))
        elif path.name == "__MACOSX":
            skipped.append(Skipped(source, "macOS zip metadata, not a submission"))
        elif stat.S_ISDIR(mode) or is_zip:
            found.append(path)
        else:
            skipped.append(Skipped(source, "not a folder or a .zip"))
    names = report_names([path.name for path in found])
    return [Submission(student=names[path.name], path=path, source=display_name(path.name)) for path in found], skipped


def display_name(name):
    """A file name as text that can always be written (undecodable bytes become U+FFFD)."""
    return os.fsencode(name).decode("utf-8", "replace")


def _digest(source):
    return hashlib.sha256(os.fsencode(source)).hexdigest()[:6]


def report_name(source):
    """A readable file-name-safe name for a submission called ``source`` (a folder or ``x.zip``).

    Letters and digits of any script are kept (NFC), other runs of characters become ``_``; a name
    longer than ``MAX_NAME_BYTES`` of UTF-8 is cut and gets a suffix from a hash of the whole name,
    so the report's files stay within the file-system's 255-byte limit.
    """
    stem = source[:-4] if source.lower().endswith(".zip") else source
    name = re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", display_name(stem))).strip("._-") or "student"
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        name = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip("._-") + "-" + _digest(source)
    return name


def report_names(sources):
    """``{source: unique report name}``. Names that clash (also when only their case differs) get a
    suffix from a hash of their own source name, so a name never depends on the other students; a
    source whose name needs no change keeps it when it is the only such one in the clash."""
    names = {source: report_name(source) for source in sources}
    for attempt in range(3):
        groups = {}
        for source, name in names.items():
            groups.setdefault(name.casefold(), []).append(source)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            break
        for group in clashes:
            unchanged = [source for source in group if source == names[source]]
            for source in group:
                if len(unchanged) == 1 and source == unchanged[0]:
                    continue
                names[source] = f"{names[source]}-{_digest(source + '#' * attempt)}"
    return names


def _safe_member_path(name):
    """The relative path a zip entry would create, or a reason to refuse it."""
    if "\x00" in name:
        raise RefusedSubmission(f"zip entry {name!r} has a NUL byte in its name")
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        raise RefusedSubmission(f"zip entry {name!r} has an absolute path")
    parts = [part for part in normalised.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise RefusedSubmission(f"zip entry {name!r} escapes its folder with '..'")
    return pathlib.PurePosixPath(*parts) if parts else None


def extract_zip(zip_path, destination, *, max_entries=MAX_ENTRIES, max_total_bytes=MAX_TOTAL_BYTES):
    """Check every entry of ``zip_path`` first, then extract into ``destination``; returns it."""
    destination = pathlib.Path(destination)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise RefusedSubmission(f"{pathlib.Path(zip_path).name} is not a readable zip ({error})") from None
    with archive:
        members = archive.infolist()
        if len(members) > max_entries:
            raise RefusedSubmission(f"the zip has {len(members)} entries, over the limit of {max_entries}")
        total = 0
        planned = []
        for member in members:
            relative = _safe_member_path(member.filename)
            if stat.S_ISLNK(member.external_attr >> 16):
                raise RefusedSubmission(f"zip entry {member.filename!r} is a symbolic link")
            total += member.file_size
            if total > max_total_bytes:
                raise RefusedSubmission(f"the zip unpacks to more than {max_total_bytes / 2**20:.0f} MB")
            if relative is not None:
                planned.append((member, relative))
        destination.mkdir(parents=True, exist_ok=True)
        root = destination.resolve()
        for member, relative in planned:
            target = (root / relative).resolve()
            if root not in target.parents and target != root:  # belt and braces after the checks above
                raise RefusedSubmission(f"zip entry {member.filename!r} escapes its folder")
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                remaining = member.file_size + 1
                while chunk := source.read(1 << 20):
                    remaining -= len(chunk)
                    if remaining < 0:  # the header lied about the size
                        raise RefusedSubmission(f"zip entry {member.filename!r} is larger than it claims")
                    sink.write(chunk)
    return destination


def find_output_root(folder, max_depth=4):
    """The folder holding the lab folders (``NN_slug/``): the submission itself or one level below."""
    folder = pathlib.Path(folder)
    frontier = [folder]
    for _ in range(max_depth):
        for candidate in frontier:
            if any(child.is_dir() and LAB_FOLDER.match(child.name) for child in candidate.iterdir()):
                return candidate
        frontier = [child for candidate in frontier for child in sorted(candidate.iterdir())
                    if child.is_dir() and not child.is_symlink() and not child.name.startswith((".", "__MACOSX"))]
    return folder
