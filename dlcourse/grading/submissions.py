"""Student submissions: folders or zips under one directory, unpacked safely.

A zip is untrusted input: entries with absolute paths or ``..`` that would escape the extraction
folder, symbolic links, too many entries and too many bytes (zip bombs) are refused before anything is
written. Extraction happens in a temporary folder owned by the grader, never beside the zip.
"""

import dataclasses
import pathlib
import re
import stat
import zipfile

MAX_ENTRIES = 5000
MAX_TOTAL_BYTES = 2 * 1024**3
LAB_FOLDER = re.compile(r"^\d\d_[a-z0-9_]+$")


class RefusedSubmission(Exception):
    """The whole submission is refused; the message is the reason."""


@dataclasses.dataclass(frozen=True)
class Submission:
    student: str
    path: pathlib.Path

    @property
    def is_zip(self):
        return self.path.suffix.lower() == ".zip"


def find_submissions(root):
    """Each folder or ``.zip`` directly under ``root`` is one student's submission, named by its stem."""
    root = pathlib.Path(root)
    submissions = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir() or path.suffix.lower() == ".zip":
            submissions.append(Submission(student=_student_name(path), path=path))
    return submissions


def _student_name(path):
    name = path.stem if path.suffix.lower() == ".zip" else path.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "student"


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
