"""Turn one lab folder into a verdict: each manifest item with its points and a reason.

Used by ``dlcourse check`` (a student's own ``saved_models/``) and ``dlcourse grade`` (every student
of a class). This process never opens a student's file: the inspector (``sandbox.inspect_files``)
reads every JSON and model file of the labs under the time and memory limits, model files that pass
its static checks are loaded only in the sandbox worker, and only their results are used here.

Nothing in ``run.json`` is trusted: its numbers must be numbers (never strings or booleans), a
metric it claims counts only when the lab's models were loaded and evaluated, and with
``require_full`` its ``smoke``/dataset claims are ignored (real held-out data, full thresholds).
How one value is judged against its check is :mod:`dlcourse.grading.verdicts`.
"""

import dataclasses
import math
import pathlib
import re
import stat

from dlcourse import catalog
from dlcourse.grading import inspect_model, sandbox, verdicts
from dlcourse.grading.manifest import load_manifest
from dlcourse.grading.verdicts import Item, LabVerdict

STRUCTURE = ("loads safely", "input shape", "output shape", "parameter count", "required layers")


@dataclasses.dataclass
class Limits:
    timeout: float = sandbox.DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = sandbox.DEFAULT_MEMORY_MB
    max_model_bytes: int = inspect_model.DEFAULT_MAX_BYTES


def _model_items(path, filename, spec, request, limits, sample, inspection):
    """``(items, loaded)`` for one model file; ``inspection`` is the inspector's verdict on it."""
    structure_share = spec.get("points", 0) / len(STRUCTURE)
    check_items = [(f"{filename}: {check['kind']}", check) for check in spec.get("checks", [])]

    def refused(reason):
        items = [Item(f"{filename}: {STRUCTURE[0]}", 0, structure_share, reason)]
        items += [Item(f"{filename}: {name}", 0, structure_share, "not checked: the model did not load")
                  for name in STRUCTURE[1:]]
        items += [Item(name, 0, check["points"], "not checked: the model did not load") for name, check in check_items]
        return items, False

    if not inspection.get("ok"):
        return refused(inspection.get("error") or f"{filename} could not be read")
    result = sandbox.run_in_sandbox({**request, "model_path": str(path), "checks": spec.get("checks", []),
                                     "registered_names": inspection.get("registered_names", [])},
                                    timeout=limits.timeout, memory_mb=limits.memory_mb)
    if not result.get("ok"):
        return refused(result.get("error", "the model could not be loaded"))
    try:
        index = spec.get("output_index", 0)
        actual_input, actual_output = result["input_shapes"][0][1:], result["output_shapes"][index][1:]
        parameters, layer_classes = int(result["parameters"]), set(result["layer_classes"])
    except (KeyError, IndexError, TypeError, ValueError):
        return refused(f"{filename} loaded, but has no input or no output {spec.get('output_index', 0)}")

    items = [Item(f"{filename}: {STRUCTURE[0]}", structure_share, structure_share, "loaded with safe_mode=True")]
    for name, expected, actual in (("input shape", spec.get("input_shape"), actual_input),
                                   ("output shape", spec.get("output_shape"), actual_output)):
        ok = expected is None or list(actual) == list(expected)
        items.append(Item(f"{filename}: {name}", structure_share if ok else 0, structure_share,
                          f"{actual}" + ("" if ok else f", expected {expected}")))
    low, high = spec.get("parameters", [0, math.inf])
    ok = low <= parameters <= high
    items.append(Item(f"{filename}: parameter count", structure_share if ok else 0, structure_share,
                      f"{parameters:,}" + ("" if ok else f", expected {low:,} to {high:,}")))
    missing = sorted(set(spec.get("layers", [])) - layer_classes)
    items.append(Item(f"{filename}: required layers", 0 if missing else structure_share, structure_share,
                      f"missing {', '.join(missing)}" if missing else "all present"))
    measurements = result.get("checks", [])
    for position, (name, check) in enumerate(check_items):
        measured = measurements[position] if position < len(measurements) else {"error": "not measured"}
        if "error" in measured or "value" not in measured:
            items.append(Item(name, 0, check["points"], f"could not be measured: {measured.get('error')}"))
            continue
        if check["kind"] == "generator_output":
            passed, wording = verdicts.generator_verdict(measured["value"], check)
        else:
            passed, wording = verdicts.compare(measured["value"], check, sample)
        items.append(Item(name, check["points"] if passed else 0, check["points"], wording))
    return items, True


def _model_paths(folder, filename):
    """The files a manifest model key names: itself, or every match of a glob (``plain*_cifar.h5``)."""
    if any(character in filename for character in "*?["):
        return sorted(path for path in folder.glob(filename) if _exists(path))
    path = folder / filename
    return [path] if _exists(path) else []


def _lstat(path):
    try:
        return path.lstat()
    except OSError:
        return None


def _exists(path):
    return _lstat(path) is not None


def _regular_nonempty(path):
    status = _lstat(path)
    return status is not None and stat.S_ISREG(status.st_mode) and status.st_size > 0


def _is_folder(path):
    status = _lstat(path)
    return status is not None and stat.S_ISDIR(status.st_mode)


def _share(spec, count):
    """``spec`` with its points divided over ``count`` matching files, so the lab's maximum is fixed."""
    if count == 1:
        return spec
    return {**spec, "points": spec.get("points", 0) / count,
            "checks": [{**check, "points": check["points"] / count} for check in spec.get("checks", [])]}


def _check_name(check):
    return f"{check['file']}: {check['key'] if isinstance(check['key'], str) else '.'.join(check['key'])}"


def _missing_lab(manifest, lab_name):
    items = [Item(entry["path"], 0, entry["points"], "missing") for entry in manifest.get("files", [])]
    for filename, spec in manifest.get("models", {}).items():
        items.append(Item(filename, 0, spec.get("points", 0) + sum(c["points"] for c in spec.get("checks", [])),
                          "missing"))
    items += [Item(_check_name(check), 0, check["points"], "missing") for check in manifest.get("json_checks", [])]
    return LabVerdict(lab_name, items, note=f"no folder {lab_name}/ in the submission")


DATASET_NAME = re.compile(r"^[a-z0-9_]{1,40}$")


def _run_settings(record, problem):
    """``(smoke, embedded, dataset name or None, problem)`` from run.json, checked field by field."""
    if problem:
        return False, False, None, problem
    smoke, dataset = record.get("smoke", False), record.get("dataset", {})
    if not isinstance(smoke, bool):
        return False, False, None, f"run.json: 'smoke' is {verdicts.shown(smoke, 40)}, not true or false"
    if not isinstance(dataset, dict):
        return False, False, None, f"run.json: 'dataset' is {verdicts.shown(dataset, 40)}, not an object"
    embedded, name = dataset.get("embedded", False), dataset.get("name")
    if not isinstance(embedded, bool):
        return False, False, None, f"run.json: 'dataset.embedded' is {verdicts.shown(embedded, 40)}, not true or false"
    if embedded and not (isinstance(name, str) and DATASET_NAME.match(name)):
        return False, False, None, f"run.json: 'dataset.name' is {verdicts.shown(name, 40)}, not a dataset name"
    return smoke, embedded, name, None


@dataclasses.dataclass
class _Plan:
    lab_name: str
    manifest: dict
    folder: pathlib.Path
    models: dict  # manifest key -> list of paths
    json_keys: dict  # path the inspector reads as JSON -> the keys the grader needs from it


def _plan(output_root, lab_name):
    manifest = load_manifest(lab_name)
    folder = pathlib.Path(output_root) / lab_name
    if not _is_folder(folder):
        return None
    models = {filename: _model_paths(folder, filename) for filename in manifest.get("models", {})}
    json_keys = {folder / "run.json": ["smoke", "dataset"]}
    for entry in manifest.get("files", []):
        if entry["path"].endswith(".json"):
            json_keys.setdefault(folder / entry["path"], [])
    for check in manifest.get("json_checks", []):
        json_keys.setdefault(folder / check["file"], []).append(check["key"])
    return _Plan(lab_name, manifest, folder, models,
                 {path: keys for path, keys in sorted(json_keys.items()) if _exists(path)})


def _tasks(plan, limits):
    tasks = [{"kind": "json", "path": str(path), "keys": keys} for path, keys in plan.json_keys.items()]
    tasks += [{"kind": "h5", "path": str(path), "max_bytes": limits.max_model_bytes}
              for paths in plan.models.values() for path in paths]
    return tasks


def grade_labs(output_root, lab_names, *, data_dir=None, limits=None, require_full=False):
    """The verdicts for labs ``lab_names`` in ``output_root`` (a folder of ``NN_slug/`` folders).

    Every file the labs name is read by one inspector process (each file with the time limit);
    models that pass are loaded one by one in the sandbox. With ``require_full``, run.json's
    smoke/sample claims are ignored: real held-out data and the full-data thresholds.
    """
    limits = limits or Limits()
    plans = [(lab_name, _plan(output_root, lab_name)) for lab_name in lab_names]
    tasks = [task for _, plan in plans if plan for task in _tasks(plan, limits)]
    inspections = dict(zip((task["path"] for task in tasks),
                           sandbox.inspect_files(tasks, timeout=limits.timeout, memory_mb=limits.memory_mb)))
    return [_verdict(plan, inspections, data_dir, limits, require_full) if plan
            else _missing_lab(load_manifest(lab_name), lab_name) for lab_name, plan in plans]


def grade_lab(output_root, lab_name, *, data_dir=None, limits=None, require_full=False):
    """The verdict for lab ``lab_name`` in ``output_root``."""
    return grade_labs(output_root, [lab_name], data_dir=data_dir, limits=limits, require_full=require_full)[0]


def _json_value(folder, filename, inspections):
    """``(value, problem)`` for a JSON file of the lab, as the inspector read it."""
    path = folder / filename
    if not _exists(path):
        return None, f"{filename} is missing"
    inspection = inspections.get(str(path))
    if inspection is None:
        return None, f"{filename} was not read"
    if not inspection.get("ok"):
        return None, inspection.get("error") or f"{filename} could not be read"
    return inspection["value"], None


def _verdict(plan, inspections, data_dir, limits, require_full):
    manifest, folder, lab_name = plan.manifest, plan.folder, plan.lab_name
    lab = catalog.get_lab(lab_name)
    record, record_problem = _json_value(folder, "run.json", inspections)
    smoke, embedded, dataset_name, record_problem = _run_settings(record or {}, record_problem
                                                                  if _exists(folder / "run.json") else None)
    # Sample thresholds for a --smoke run, or a run on an embedded stand-in for the lab's real data
    # (lab 04 trains on the embedded digits for real, so its full run meets the full thresholds).
    claimed_sample = smoke or (embedded and dataset_name != lab.dataset)
    sample = claimed_sample and not require_full
    if not sample:
        embedded, dataset_name = (embedded, dataset_name) if embedded and dataset_name == lab.dataset else (False, lab.dataset)
    request = {"dataset": {"name": dataset_name, "embedded": embedded},
               "data_dir": str(data_dir) if data_dir else None}

    items = []
    for entry in manifest.get("files", []):
        path = folder / entry["path"]
        ok, message = _regular_nonempty(path), "present"
        if ok and entry["path"].endswith(".json"):
            _, problem = _json_value(folder, entry["path"], inspections)
            ok, message = problem is None, problem or message
        items.append(Item(entry["path"], entry["points"] if ok else 0, entry["points"],
                          message if ok or message != "present" else "missing or empty"))
    unevaluated = []
    for filename, spec in manifest.get("models", {}).items():
        paths = plan.models[filename]
        if not paths:
            total = spec.get("points", 0) + sum(check["points"] for check in spec.get("checks", []))
            items.append(Item(filename, 0, total, "missing"))
            unevaluated.append(filename)
            continue
        share = _share(spec, len(paths))
        for path in paths:
            inspection = inspections.get(str(path), {"ok": False, "error": f"{path.name} was not read"})
            model_items, loaded = _model_items(path, path.name, share, request, limits, sample, inspection)
            if not loaded:
                unevaluated.append(path.name)
            items += model_items
    for check in manifest.get("json_checks", []):
        name = _check_name(check)
        value, problem = _json_value(folder, check["file"], inspections)
        if problem:
            items.append(Item(name, 0, check["points"], problem))
            continue
        value = verdicts.lookup(value, check["key"])
        if value is None:
            items.append(Item(name, 0, check["points"], f"{check['file']} has no {check['key']}"))
            continue
        passed, wording = verdicts.compare(value, check, sample)
        if passed and check["file"] == "run.json" and unevaluated:
            # a number the run claims about its models counts only when those models were evaluated
            passed, wording = False, f"{wording}; not counted: {', '.join(unevaluated)} did not load, so the claim is unchecked"
        items.append(Item(name, check["points"] if passed else 0, check["points"], wording))
    what = "--smoke" if smoke else "sample-data"
    if sample:
        note = f"a {what} run on {dataset_name!r}: the lower sample thresholds apply"
    elif claimed_sample:
        note = f"a {what} run: held to the full-data thresholds on {lab.dataset!r} (full runs are required)"
    elif record_problem:
        note = f"{record_problem}; the full-data thresholds apply"
    else:
        note = ""
    return LabVerdict(lab_name, items, sample_data=sample, note=note)
