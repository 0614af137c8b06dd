"""Lab manifests: what a lab's saved outputs must contain, and the points each check is worth.

One JSON file per lab in ``dlcourse/grading/manifests/NN_slug.json``::

    {"lab": "06_cifar10_cnn",
     "files": [{"path": "learning_curves.png", "points": 1}],
     "models": {"cnn_cifar10_model.h5": {
         "input_shape": [32, 32, 3], "output_shape": [10], "parameters": [122954, 122954],
         "layers": ["Conv2D", "BatchNormalization"], "points": 5,
         "checks": [{"kind": "accuracy", "scale": "01", "min": 0.65, "sample_min": 0.2, "points": 5}]}},
     "json_checks": [{"file": "run.json", "key": "metrics.test_accuracy", "min": 0.0, "points": 1}]}

A model key may be a glob (``"plain*_cifar.h5"``) where a lab names files by a setting: every
matching file is graded and the key's points are shared between them. A model's ``points`` are
shared equally by its structural checks (loads safely, input shape, output
shape, parameter range, required layers). A check with ``min``/``max`` compares against the
full-data threshold; ``sample_min``/``sample_max`` apply when the run used an embedded sample
dataset (a ``--smoke`` or ``--dataset sample`` run), and are stated in the feedback.
"""

import functools
import json
import pathlib

MANIFEST_DIRECTORY = pathlib.Path(__file__).resolve().parent / "manifests"
CHECK_KINDS = {"accuracy", "reconstruction_mse", "generator_output", "truth_table", "per_step_accuracy", "sequence_accuracy",
               "ring_modes_covered", "perplexity"}


class ManifestError(ValueError):
    """A manifest file is malformed (a maintainer's error, not a student's)."""


@functools.lru_cache(maxsize=None)
def load_manifest(lab_name):
    path = MANIFEST_DIRECTORY / f"{lab_name}.json"
    if not path.is_file():
        raise ManifestError(f"no manifest for lab {lab_name} at {path}")
    manifest = json.loads(path.read_text())
    validate(manifest, path.name)
    return manifest


def available_manifests():
    return sorted(path.stem for path in MANIFEST_DIRECTORY.glob("*.json"))


def validate(manifest, where="manifest"):
    if manifest.get("lab") != where.removesuffix(".json"):
        raise ManifestError(f"{where}: 'lab' must be {where.removesuffix('.json')!r}")
    for entry in manifest.get("files", []):
        if set(entry) - {"path", "points"} or "path" not in entry:
            raise ManifestError(f"{where}: bad file entry {entry}")
    for filename, model in manifest.get("models", {}).items():
        unknown = set(model) - {"input_shape", "output_shape", "parameters", "layers", "points", "checks",
                                "output_index"}
        if unknown:
            raise ManifestError(f"{where}: {filename} has unknown keys {sorted(unknown)}")
        low, high = model.get("parameters", [0, float("inf")])
        if low > high:
            raise ManifestError(f"{where}: {filename} parameter range is empty")
        for check in model.get("checks", []):
            if check.get("kind") not in CHECK_KINDS:
                raise ManifestError(f"{where}: {filename} has a check of unknown kind {check.get('kind')!r}")
            if "points" not in check:
                raise ManifestError(f"{where}: {filename} check {check['kind']} has no points")
    for check in manifest.get("json_checks", []):
        if not {"file", "key", "points"} <= set(check):
            raise ManifestError(f"{where}: json check {check} needs file, key and points")


def max_points(manifest):
    total = sum(entry["points"] for entry in manifest.get("files", []))
    for model in manifest.get("models", {}).values():
        total += model.get("points", 0) + sum(check["points"] for check in model.get("checks", []))
    total += sum(check["points"] for check in manifest.get("json_checks", []))
    return total
