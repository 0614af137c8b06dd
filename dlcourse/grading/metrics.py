"""Measurements the grader makes on a loaded model (inside the sandbox worker).

Each manifest check names a ``kind``; :func:`run_check` returns ``{"kind", "value"}`` (or
``"error"``), and the parent process turns values into points with the manifest's thresholds.
Held-out data comes from ``dlcourse.data.load(name, split="test")`` and is fitted to the model's
input (flattened, padded 28->32, resized, grey<->RGB) and scaled as the manifest says.
"""

import numpy as np

TRUTH_TABLES = {
    "xor": [0, 1, 1, 0],
    "xnor": [1, 0, 0, 1],
}
TRUTH_TABLE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")


def _scale(x, scale):
    x = x.astype("float32")
    if scale == "01":
        return x / 255.0
    if scale == "pm1":
        return x / 127.5 - 1.0
    if scale == "none":
        return x
    raise ValueError(f"unknown scale {scale!r}")


def fit_images(x, input_shape, scale="01"):
    """Scale uint8 images and fit them to ``input_shape`` (without the batch axis)."""
    import tensorflow as tf

    x = _scale(np.asarray(x), scale)
    target = [dimension for dimension in input_shape]
    if len(target) == 1:  # a dense model on flattened images
        return x.reshape(len(x), -1)[:, : target[0]]
    height, width, channels = target
    if x.shape[-1] != channels:
        x = x.mean(axis=-1, keepdims=True) if channels == 1 else np.repeat(x, channels, axis=-1)
    if (height, width) != x.shape[1:3]:
        pad_h, pad_w = (height or x.shape[1]) - x.shape[1], (width or x.shape[2]) - x.shape[2]
        if 0 < pad_h <= 8 and pad_h == pad_w and pad_h % 2 == 0:  # LeNet's 28 -> 32 padding
            fill = x.min()
            x = np.pad(x, ((0, 0), (pad_h // 2,) * 2, (pad_w // 2,) * 2, (0, 0)), constant_values=fill)
        elif height and width:
            x = tf.image.resize(x, (height, width)).numpy()
    return x


def _held_out(check, request, limit):
    from dlcourse import data

    dataset = request["dataset"]
    options = dict(check.get("load_options", {}))
    x, y = data.load(dataset["name"], split="test", data_dir=request.get("data_dir"), **options)
    return x[:limit], y[:limit]


def _predict(model, x):
    outputs = model.predict(x, batch_size=128, verbose=0)
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def text_options(model, options=None):
    """Load options that encode held-out reviews the way ``model`` was trained: its input length and,
    from its Embedding layer's ``input_dim``, the vocabulary size (``num_words``; rarer words become
    the out-of-vocabulary index, so no index is out of the embedding's range)."""
    options = dict(options or {})
    options.setdefault("sequence_length", model.inputs[0].shape[1])
    embedding = next((layer for layer in model._flatten_layers(include_self=False)
                      if type(layer).__name__ == "Embedding"), None)
    if embedding is not None:
        options.setdefault("num_words", int(embedding.input_dim))
    return options


def accuracy(model, check, request):
    limit = int(check.get("limit", 2000))
    if check.get("text"):
        check = {**check, "load_options": text_options(model, check.get("load_options"))}
        x, y = _held_out(check, request, limit)
    else:
        x, y = _held_out(check, request, limit)
        x = fit_images(x, model.inputs[0].shape[1:], check.get("scale", "01"))
    outputs = _predict(model, x)
    if outputs.shape[-1] == 1:
        predicted = (outputs.reshape(-1) > check.get("threshold", 0.5)).astype("int64")
    else:
        predicted = outputs.argmax(axis=-1)
    return float(np.mean(predicted == y))


def reconstruction_mse(model, check, request):
    x, _ = _held_out(check, request, int(check.get("limit", 1000)))
    x = fit_images(x, model.inputs[0].shape[1:], check.get("scale", "01"))
    reconstructed = _predict(model, x).reshape(x.shape)
    return float(np.mean((reconstructed - x) ** 2))


def generator_output(model, check, request):
    """Shape and range of generated samples for standard-normal latent vectors."""
    count = int(check.get("count", 64))
    rng = np.random.default_rng(0)
    inputs = []
    for tensor in model.inputs:
        shape = (count, *tensor.shape[1:])
        if "int" in str(tensor.dtype):  # a class label (conditional generator)
            inputs.append((np.arange(count) % int(check.get("num_classes", 10))).reshape(shape).astype("int32"))
        else:
            inputs.append(rng.standard_normal(shape).astype("float32"))
    images = _predict(model, inputs if len(inputs) > 1 else inputs[0])
    return {"shape": list(images.shape[1:]), "min": float(images.min()), "max": float(images.max()),
            "std": float(images.std()), "finite": bool(np.isfinite(images).all())}


def truth_table(model, check, request):
    predicted = (_predict(model, TRUTH_TABLE_INPUTS).reshape(-1) > 0.5).astype(int)
    return float(np.mean(predicted == np.array(TRUTH_TABLES[check["table"]])))


def per_step_accuracy(model, check, request):
    """Per-step accuracy on a generated sequence task (``dlcourse.data.sequence_modes``, lab 20): the
    check's ``task`` drawn with the held-out seed (``seed``, default HELD_OUT_SEED), argmax of the
    model's (batch, T, classes) output, over the steps the task's mask keeps (padding left out)."""
    from dlcourse.data import sequence_modes

    seed = int(check.get("seed", sequence_modes.HELD_OUT_SEED))
    x, y, mask = sequence_modes.generate(check["task"], int(check.get("limit", 1000)), seed=seed)
    return sequence_modes.masked_step_accuracy(y, _predict(model, x), mask)


def ring_modes_covered(model, check, request):
    """Modes of the ring of Gaussians (``dlcourse.data.ring``, lab 25) that a 2-D generator covers:
    ``count`` (default 2000) points generated from N(0, I) noise drawn with ``seed`` (default 0), a
    mode covered when at least 2% of them lie within 3 std of its centre."""
    from dlcourse.data import ring

    rng = np.random.default_rng(int(check.get("seed", 0)))
    noise = rng.standard_normal((int(check.get("count", 2000)), *model.inputs[0].shape[1:])).astype("float32")
    return float(ring.mode_statistics(_predict(model, noise))["modes_covered"])


def perplexity(model, check, request):
    """exp(mean cross-entropy per character) of a language model's logits on the held-out windows
    (``corpus``: the end of the text, never trained on; lab 22); a uniform guess scores the vocabulary size."""
    from dlcourse.models.language_model import perplexity as measure

    x, y = _held_out(check, request, int(check.get("limit", 500)))
    return measure(model, x, y)


def sequence_accuracy(model, check, request):
    """Greedy-decoded accuracy of an encoder-decoder on lab 21's generated task (``dlcourse.data.translation``),
    on strings drawn with its HELD_OUT_SEED (never the training seed): exact-sequence accuracy, or per-token
    with ``"per_token": true``; ``load_options`` give the task and the length range."""
    from dlcourse import sequence_decoding
    from dlcourse.data import translation

    pairs = translation.make_pairs(int(check.get("limit", 1000)), seed=translation.HELD_OUT_SEED, split="held_out",
                                   **check.get("load_options", {}))
    predicted = sequence_decoding.greedy_decode(model, pairs.encoder_input, pairs.target.shape[1])
    score = sequence_decoding.token_accuracy if check.get("per_token") else sequence_decoding.sequence_accuracy
    return score(predicted, pairs.target)


KINDS = {
    "sequence_accuracy": sequence_accuracy,
    "perplexity": perplexity,
    "ring_modes_covered": ring_modes_covered,
    "per_step_accuracy": per_step_accuracy,
    "accuracy": accuracy,
    "reconstruction_mse": reconstruction_mse,
    "generator_output": generator_output,
    "truth_table": truth_table,
}


def run_check(model, check, request):
    """Measure one check; errors become a reason, never an exception out of the worker."""
    try:
        return {"kind": check["kind"], "value": KINDS[check["kind"]](model, check, request)}
    except Exception as error:  # the student's model, the data or the shapes may not fit
        return {"kind": check["kind"], "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
