"""Turn one lab folder into a verdict: each manifest item with its points and a reason.

Used by ``dlcourse check`` (a student's own ``saved_models/``) and ``dlcourse grade`` (every student
of a class). Model files pass the static checks of ``inspect_model`` before they are loaded, and are
loaded only in the sandbox.
"""

import dataclasses
import json
import math
import pathlib

from dlcourse import catalog
from dlcourse.grading import inspect_model, sandbox
from dlcourse.grading.manifest import load_manifest

STRUCTURE = ("loads safely", "input shape", "output shape", "parameter count", "required layers")


@dataclasses.dataclass
class Item:
    name: str
    points: float
    max_points: float
    message: str = ""

    @property
    def passed(self):
        return self.points >= self.max_points - 1e-9


@dataclasses.dataclass
class LabVerdict:
    lab: str
    items: list
    sample_data: bool = False
    note: str = ""

    @property
    def points(self):
        return round(sum(item.points for item in self.items), 2)

    @property
    def max_points(self):
        return round(sum(item.max_points for item in self.items), 2)

    def to_dict(self):
        return {"lab": self.lab, "points": self.points, "max_points": self.max_points,
                "sample_data": self.sample_data, "note": self.note,
                "items": [dataclasses.asdict(item) | {"passed": item.passed} for item in self.items]}


@dataclasses.dataclass
class Limits:
    timeout: float = sandbox.DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = sandbox.DEFAULT_MEMORY_MB
    max_model_bytes: int = inspect_model.DEFAULT_MAX_BYTES


def _read_json(path):
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError, OSError):
        return None


def _lookup(record, key):
    """``record["a"]["b"]`` for ``"a.b"``, or for ``["a", "b"]`` when a key itself holds a dot."""
    for part in (key if isinstance(key, list) else key.split(".")):
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    return record


def _threshold(check, sample):
    low = check.get("sample_min" if sample and "sample_min" in check else "min")
    high = check.get("sample_max" if sample and "sample_max" in check else "max")
    return low, high


def _compare(value, check, sample):
    """(passed, wording) for a numeric value against the check's thresholds or expected value."""
    if "equals" in check:
        expected = check["equals"]
        tolerance = check.get("tolerance", 1e-6)
        try:
            passed = all(abs(a - b) <= tolerance for a, b in zip(_flat(value), _flat(expected), strict=True))
        except (TypeError, ValueError):
            passed = False
        return passed, f"{value} (expected {expected})"
    low, high = _threshold(check, sample)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return False, f"{value!r} is not a number"
    passed = (low is None or value >= low) and (high is None or value <= high)
    bounds = " and ".join(part for part in (f">= {low}" if low is not None else "",
                                            f"<= {high}" if high is not None else "") if part)
    return passed, f"{value:.4g} (needs {bounds}{', sample-data threshold' if sample else ''})"


def _flat(value):
    return [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def _generator_verdict(value, check):
    problems = []
    if value["shape"] != check["shape"]:
        problems.append(f"images have shape {value['shape']}, expected {check['shape']}")
    low, high = check.get("range", [-math.inf, math.inf])
    if not value["finite"]:
        problems.append("some pixels are NaN or infinite")
    elif value["min"] < low - 1e-3 or value["max"] > high + 1e-3:
        problems.append(f"pixel range [{value['min']:.3g}, {value['max']:.3g}] is outside [{low}, {high}]")
    if value["std"] < check.get("min_std", 1e-3):
        problems.append("every sample is the same constant image")
    return not problems, "; ".join(problems) or f"shape {value['shape']}, range [{value['min']:.2f}, {value['max']:.2f}]"


def _model_items(path, filename, spec, request, limits, sample):
    structure_share = spec.get("points", 0) / len(STRUCTURE)
    check_items = [(f"{filename}: {check['kind']}", check) for check in spec.get("checks", [])]

    def refused(reason):
        items = [Item(f"{filename}: {STRUCTURE[0]}", 0, structure_share, reason)]
        items += [Item(f"{filename}: {name}", 0, structure_share, "not checked: the model did not load")
                  for name in STRUCTURE[1:]]
        return items + [Item(name, 0, check["points"], "not checked: the model did not load")
                        for name, check in check_items]

    try:
        inspect_model.inspect_h5(path, max_bytes=limits.max_model_bytes)
    except inspect_model.RefusedModel as reason:
        return refused(str(reason))
    result = sandbox.run_in_sandbox({**request, "model_path": str(path), "checks": spec.get("checks", [])},
                                    timeout=limits.timeout, memory_mb=limits.memory_mb)
    if not result.get("ok"):
        return refused(result.get("error", "the model could not be loaded"))

    index = spec.get("output_index", 0)
    items = [Item(f"{filename}: {STRUCTURE[0]}", structure_share, structure_share, "loaded with safe_mode=True")]
    for name, expected, actual in (("input shape", spec.get("input_shape"), result["input_shapes"][0][1:]),
                                   ("output shape", spec.get("output_shape"), result["output_shapes"][index][1:])):
        ok = expected is None or list(actual) == list(expected)
        items.append(Item(f"{filename}: {name}", structure_share if ok else 0, structure_share,
                          f"{actual}" + ("" if ok else f", expected {expected}")))
    low, high = spec.get("parameters", [0, math.inf])
    ok = low <= result["parameters"] <= high
    items.append(Item(f"{filename}: parameter count", structure_share if ok else 0, structure_share,
                      f"{result['parameters']:,}" + ("" if ok else f", expected {low:,} to {high:,}")))
    missing = sorted(set(spec.get("layers", [])) - set(result["layer_classes"]))
    items.append(Item(f"{filename}: required layers", 0 if missing else structure_share, structure_share,
                      f"missing {', '.join(missing)}" if missing else "all present"))
    for (name, check), measured in zip(check_items, result.get("checks", [])):
        if "error" in measured:
            items.append(Item(name, 0, check["points"], f"could not be measured: {measured['error']}"))
            continue
        if check["kind"] == "generator_output":
            passed, wording = _generator_verdict(measured["value"], check)
        else:
            passed, wording = _compare(measured["value"], check, sample)
        items.append(Item(name, check["points"] if passed else 0, check["points"], wording))
    return items


def _model_paths(folder, filename):
    """The files a manifest model key names: itself, or every match of a glob (``plain*_cifar.h5``)."""
    if any(character in filename for character in "*?["):
        return sorted(path for path in folder.glob(filename) if path.is_file() or path.is_symlink())
    path = folder / filename
    return [path] if path.exists() or path.is_symlink() else []


def _share(spec, count):
    """``spec`` with its points divided over ``count`` matching files, so the lab's maximum is fixed."""
    if count == 1:
        return spec
    return {**spec, "points": spec.get("points", 0) / count,
            "checks": [{**check, "points": check["points"] / count} for check in spec.get("checks", [])]}


def grade_lab(output_root, lab_name, *, data_dir=None, limits=None):
    """The verdict for lab ``lab_name`` in ``output_root`` (a folder of ``NN_slug/`` folders)."""
    limits = limits or Limits()
    manifest = load_manifest(lab_name)
    lab = catalog.get_lab(lab_name)
    folder = pathlib.Path(output_root) / lab_name
    if not folder.is_dir() or folder.is_symlink():
        items = [Item(entry["path"], 0, entry["points"], "missing") for entry in manifest.get("files", [])]
        for filename, spec in manifest.get("models", {}).items():
            items.append(Item(filename, 0, spec.get("points", 0) + sum(c["points"] for c in spec.get("checks", [])),
                              "missing"))
        items += [Item(f"{check['file']}: {check['key'] if isinstance(check['key'], str) else '.'.join(check['key'])}",
                       0, check["points"], "missing")
                  for check in manifest.get("json_checks", [])]
        return LabVerdict(lab_name, items, note=f"no folder {lab_name}/ in the submission")

    record = _read_json(folder / "run.json") or {}
    dataset = record.get("dataset") if isinstance(record.get("dataset"), dict) else {}
    embedded = bool(dataset.get("embedded"))
    dataset_name = dataset.get("name") if embedded else lab.dataset
    # Sample thresholds for a --smoke run, or a run on an embedded stand-in for the lab's real data
    # (lab 04 trains on the embedded digits for real, so its full run meets the full thresholds).
    sample = record.get("smoke") is True or (embedded and dataset_name != lab.dataset)
    request = {"dataset": {"name": dataset_name, "embedded": embedded},
               "data_dir": str(data_dir) if data_dir else None}

    items = []
    for entry in manifest.get("files", []):
        path = folder / entry["path"]
        ok = path.is_file() and not path.is_symlink() and path.stat().st_size > 0
        items.append(Item(entry["path"], entry["points"] if ok else 0, entry["points"], "present" if ok else "missing"))
    for filename, spec in manifest.get("models", {}).items():
        paths = _model_paths(folder, filename)
        if not paths:
            total = spec.get("points", 0) + sum(check["points"] for check in spec.get("checks", []))
            items.append(Item(filename, 0, total, "missing"))
            continue
        share = _share(spec, len(paths))
        for path in paths:
            items += _model_items(path, path.name, share, request, limits, sample)
    for check in manifest.get("json_checks", []):
        name = f"{check['file']}: {check['key'] if isinstance(check['key'], str) else '.'.join(check['key'])}"
        value = _lookup(_read_json(folder / check["file"]), check["key"])
        if value is None:
            items.append(Item(name, 0, check["points"], f"{check['file']} has no {check['key']}"))
            continue
        passed, wording = _compare(value, check, sample)
        items.append(Item(name, check["points"] if passed else 0, check["points"], wording))
    note = (f"a {'--smoke' if record.get('smoke') else 'sample-data'} run on {dataset_name!r}: "
            "the lower sample thresholds apply" if sample else "")
    return LabVerdict(lab_name, items, sample_data=sample, note=note)
