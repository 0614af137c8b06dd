"""The lab manifests: one per lab, well-formed, naming only files the labs write, with the notes' numbers.

No lab is run here (``dlcourse run NN --smoke`` followed by ``dlcourse check`` is the end-to-end
check, recorded in the README); these tests read the manifests, the catalog and the lab scripts.
"""

import json
import math
import re

import keras
import numpy as np
import pytest

from dlcourse import catalog
from dlcourse.grading import manifest, metrics

from json_leaves import leaves

LAB_NAMES = [lab.name for lab in catalog.LABS]
RUNNER_FILES = {"run.json", "history.csv", "learning_curves.png"}  # written by training.LabRun itself
OUTPUT_TOKEN = re.compile(r"[\w<>*.\-]+\.(?:h5|png|csv|json|txt|md)")

# Parameter counts the notes fix: 000's 2-2-1 XOR net, Listing II-B, 003 §2.10.2's LeNet-5 (+ its output layer), Listing V-A.
NOTES_PARAMETERS = {
    ("02_xor_mlp", "xor_mlp.h5"): 9,
    ("06_cifar10_cnn", "cnn_cifar10_model.h5"): 122_954,
    ("07_lenet5", "lenet5.h5"): 60_850,
    ("16_dense_autoencoder", "autoencoder.h5"): 222_384,
}


def manifests():
    return {name: manifest.load_manifest(name) for name in LAB_NAMES}


def written_names(lab):
    """Regexes for every output file name the lab's script or catalog entry mentions.

    Placeholders in the docstrings (``ffn_<optimizer>.h5``, ``samples_epoch_XXX.png``,
    ``*_autoencoder.h5``) match any word.
    """
    text = lab.script.read_text() + "\n" + "\n".join(lab.outputs)
    patterns = set()
    for token in OUTPUT_TOKEN.findall(text):
        pattern = re.escape(token)
        pattern = re.sub(r"<[^>]*>|\\\*|XXX", r"\\w+", pattern.replace(r"\<", "<").replace(r"\>", ">"))
        patterns.add(pattern)
    return [re.compile(pattern) for pattern in patterns]


def test_every_lab_has_a_valid_manifest():
    assert manifest.available_manifests() == LAB_NAMES
    for name, body in manifests().items():
        assert body["lab"] == name
        assert manifest.max_points(body) > 0
        assert body.get("models") or body.get("json_checks"), f"{name} checks nothing but file presence"


def test_labs_without_models_are_graded_on_their_json_outputs():
    for name in ("01_perceptron", "04_backprop", "05_activations_pooling", "13_bptt_gradients"):
        body = manifest.load_manifest(name)
        assert not body.get("models") and len(body["json_checks"]) >= 3
    perceptron = {check["key"]: check for check in manifest.load_manifest("01_perceptron")["json_checks"]}
    assert perceptron["weights"]["equals"] == [0.2, 0.1] and perceptron["bias"]["equals"] == -0.2
    backprop = {check["key"]: check for check in manifest.load_manifest("04_backprop")["json_checks"]}
    assert backprop["max_relative_error"]["max"] == 1e-6


def test_notes_parameter_counts_are_exact_in_the_manifests():
    for (name, filename), parameters in NOTES_PARAMETERS.items():
        assert manifest.load_manifest(name)["models"][filename]["parameters"] == [parameters, parameters]
    lenet = manifest.load_manifest("07_lenet5")["models"]["lenet5.h5"]
    assert {"PartialConv2D", "Subsampling"} <= set(lenet["layers"])  # the registered dlcourse layers
    cnn = manifest.load_manifest("06_cifar10_cnn")["models"]["cnn_cifar10_model.h5"]
    assert {"Conv2D", "BatchNormalization"} <= set(cnn["layers"])
    assert cnn["input_shape"] == [32, 32, 3] and cnn["output_shape"] == [10]


def test_every_required_file_is_one_the_lab_writes():
    for lab in catalog.LABS:
        body = manifest.load_manifest(lab.name)
        patterns = written_names(lab)
        required = [entry["path"] for entry in body.get("files", [])] + list(body.get("models", {}))
        required += [check["file"] for check in body.get("json_checks", [])]
        for path in required:
            example = path.replace("*", "20")  # a glob key stands for names like plain20_cifar.h5
            assert path in RUNNER_FILES or any(pattern.fullmatch(example) for pattern in patterns), \
                f"{lab.name}: {path} is not written by {lab.script.name}"


def test_the_file_check_finds_misnamed_outputs():
    lab = catalog.get_lab("06")
    patterns = written_names(lab)
    assert any(pattern.fullmatch("cnn_cifar10_model.h5") for pattern in patterns)
    assert not any(pattern.fullmatch("cnn_cifar10.h5") for pattern in patterns)
    assert any(pattern.fullmatch("ffn_adam.h5") for pattern in written_names(catalog.get_lab("03")))


def test_thresholds_are_consistent():
    for name, body in manifests().items():
        for filename, model in body.get("models", {}).items():
            low, high = model["parameters"]
            assert 0 < low <= high, (name, filename)
            for check in model.get("checks", []):
                if "sample_min" in check:
                    assert check["sample_min"] <= check["min"], (name, filename)
                if "sample_max" in check:
                    assert check["sample_max"] >= check["max"], (name, filename)
                if check["kind"] == "generator_output":
                    assert check["shape"] == model["output_shape"] == [28, 28, 1]
        for check in body.get("json_checks", []):
            assert "equals" in check or "min" in check or "max" in check, (name, check["key"])
            if "sample_min" in check:
                assert check["sample_min"] <= check["min"]
            if "sample_max" in check:
                assert check["sample_max"] >= check["max"]


def full_thresholds(name, filename):
    return {check["kind"]: check for check in manifest.load_manifest(name)["models"][filename]["checks"]}


def test_full_data_thresholds_follow_the_references():
    assert full_thresholds("06_cifar10_cnn", "cnn_cifar10_model.h5")["accuracy"]["min"] == 0.65
    assert full_thresholds("07_lenet5", "lenet5.h5")["accuracy"]["min"] == 0.95
    assert full_thresholds("11_image_classifier", "classifier.h5")["accuracy"]["min"] == 0.85
    for cell in ("lstm", "gru", "bilstm"):
        check = full_thresholds("12_sentiment_rnn", f"sentiment_{cell}.h5")["accuracy"]
        assert check["min"] == 0.8 and check["text"] is True
    assert full_thresholds("16_dense_autoencoder", "autoencoder.h5")["reconstruction_mse"]["max"] == 0.02
    ranges = {("14_dcgan", "dcgan_generator.h5"): [-1, 1], ("15_conditional_gan", "cgan_generator.h5"): [-1, 1],
              ("18_vae", "vae_decoder.h5"): [0, 1], ("19_adversarial_autoencoder", "aae_decoder.h5"): [0, 1]}
    for (name, filename), value_range in ranges.items():
        assert full_thresholds(name, filename)["generator_output"]["range"] == value_range


def json_numbers(text):
    """Every number in the JSON ``text``, read by the parser itself (not by a pattern over the text).

    Raises ValueError for what is not plain JSON or not finite: Python's json module accepts
    ``NaN``, ``Infinity`` and ``-Infinity`` and turns ``1e999`` into ``inf`` unless told otherwise.
    """
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    def finite(literal):
        if not math.isfinite(value := float(literal)):
            raise ValueError(f"{literal} is not a finite number")
        return value

    return [value for value in leaves(json.loads(text, parse_constant=refuse, parse_float=finite))
            if isinstance(value, (int, float)) and not isinstance(value, bool)]


@pytest.mark.parametrize("text", ['{"min": NaN}', '{"max": Infinity}', '{"checks": [{"min": -Infinity}]}',
                                  '{"min": 1e999}', '{"max": -1.5e400}'])
def test_the_finite_number_check_refuses_nan_and_infinity(text):
    with pytest.raises(ValueError, match="not JSON|not a finite number"):
        json_numbers(text)


def test_the_finite_number_check_sees_every_number():
    assert json_numbers('{"a": [1, 2.5, {"b": -3e-2}], "c": true, "d": "4"}') == [1, 2.5, -0.03]


def test_manifest_files_are_plain_json_with_finite_numbers():
    for path in sorted(manifest.MANIFEST_DIRECTORY.glob("*.json")):
        numbers = json_numbers(path.read_text())  # raises on NaN, Infinity, 1e999
        assert numbers, path.name  # every manifest has thresholds and points
        assert all(math.isfinite(number) for number in numbers), path.name


def tiny_text_model(vocabulary, length):
    inputs = keras.Input((length,), dtype="int32")
    x = keras.layers.Embedding(vocabulary, 4)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def test_text_options_come_from_the_model():
    model = tiny_text_model(37, 64)
    assert metrics.text_options(model) == {"sequence_length": 64, "num_words": 37}
    assert metrics.text_options(model, {"num_words": 10}) == {"sequence_length": 64, "num_words": 10}


def oov_counting_model(vocabulary, length, threshold):
    """Predicts "positive" exactly when more than ``threshold`` of a review's ``length`` tokens are the
    out-of-vocabulary index 2: Embedding row 2 is 1, every other row 0, so the average over the
    sequence is (OOV count) / length, and the sigmoid's logit is 10 * (count - threshold)."""
    model = tiny_text_model(vocabulary, length)
    embedding, _, dense = model.layers[1:]
    table = np.zeros((vocabulary, 4), "float32")
    table[2] = 1.0
    embedding.set_weights([table])
    kernel = np.zeros((4, 1), "float32")
    kernel[0, 0] = 10.0 * length
    dense.set_weights([kernel, np.array([-10.0 * threshold], "float32")])
    return model


def test_text_accuracy_encodes_reviews_within_the_embedding():
    # The embedded reviews use word indices up to 128: without num_words taken from Embedding(40)
    # they would fall outside it. Encoded for the model, every word index >= 40 becomes OOV (2).
    from dlcourse import data

    raw, labels = data.load("reviews", split="test", sequence_length=64)  # no vocabulary limit
    assert np.max(raw) >= 40
    raw, labels = raw[:200], labels[:200]  # the check's limit: the first 200 held-out reviews
    oov_counts = ((raw >= 40) | (raw == 2)).sum(axis=1)  # 2: Keras makes the rarest word OOV too
    threshold = 11.5  # about the median count: neither "all positive" nor "all negative"
    expected = float(np.mean((oov_counts > threshold) == labels))
    assert 0 < np.mean(oov_counts > threshold) < 1 and expected not in (np.mean(labels), 1 - np.mean(labels))

    model = oov_counting_model(40, 64, threshold)
    request = {"dataset": {"name": "reviews", "embedded": True}}
    value = metrics.accuracy(model, {"kind": "accuracy", "text": True, "limit": 200}, request)
    assert value == expected
