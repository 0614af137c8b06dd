"""The child process of the grading sandbox: load one model safely, describe it, run its checks.

``python -m dlcourse.grading.worker REQUEST.json RESULT.json``. The request names the model file and
the manifest's model checks; the result holds the model's shapes, parameter count and layer classes
and one entry per check. Runs under the limits set by ``sandbox.py``.
"""

import json
import sys

MEMORY_MESSAGE = "loading the model needed more than the {} MB memory limit"


def describe(model):
    def shapes(tensors):
        return [list(tensor.shape) for tensor in tensors]

    return {
        "input_shapes": shapes(model.inputs),
        "output_shapes": shapes(model.outputs),
        "parameters": int(model.count_params()),
        "layer_classes": sorted({type(layer).__name__ for layer in model._flatten_layers(include_self=False)}),
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    request_path, result_path = argv
    with open(request_path) as handle:
        request = json.load(handle)

    import keras

    import dlcourse  # noqa: F401  (registers the package's custom layers)
    from dlcourse.grading import metrics

    result = {"ok": True}
    try:
        model = keras.saving.load_model(request["model_path"], compile=False, safe_mode=True)
    except MemoryError:
        result = {"ok": False, "error": MEMORY_MESSAGE.format(request.get("memory_mb", "?"))}
    except Exception as error:  # any failure to load is a verdict on the file
        text = str(error)
        if "OOM when allocating" in text or "ResourceExhausted" in type(error).__name__:
            result = {"ok": False, "error": MEMORY_MESSAGE.format(request.get("memory_mb", "?"))}
        else:
            result = {"ok": False, "error": f"the model could not be loaded: {text.splitlines()[0][:300]}"}
    else:
        result.update(describe(model))
        result["checks"] = [metrics.run_check(model, check, request) for check in request.get("checks", [])]
    with open(result_path, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
