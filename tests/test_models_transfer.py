"""Transfer model (Unit II, 9.5): phase variable counts, frozen BatchNorm, .h5 in a fresh process, weights lookup."""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import keras

import dlcourse  # noqa: F401
from dlcourse import artifacts, weights
from dlcourse.data import files
from dlcourse.errors import UserError
from dlcourse.models.transfer import IMAGENET_BGR_MEANS, base_of, build_transfer_model, unfreeze_top
from tests.contract import make_contract_test

# The default (ResNet50 ImageNet) build needs the weights file, so the default count is checked
# below with weights=None (parameter counts do not depend on the input size after GAP).
CONTRACT_CASES = {
    "transfer_model": (dict(base="mobilenetv2", alpha=0.35, weights=None, input_shape=(32, 32, 3),
                            num_classes=3), None),
}
test_builder_contract = make_contract_test(CONTRACT_CASES)

RESNET50_NOTOP_PARAMETERS = 23_587_712  # keras.applications.ResNet50(include_top=False)
HEAD_PARAMETERS = (2048 * 256 + 256) + (256 * 5 + 5)  # 525,829
PREPROCESS_PARAMETERS = 3 * 3 + 3  # the frozen 1x1 RGB->BGR / mean convolution
TOP20_CONVOLUTIONS = ["conv5_block2_1_conv", "conv5_block2_2_conv", "conv5_block2_3_conv",
                      "conv5_block3_1_conv", "conv5_block3_2_conv", "conv5_block3_3_conv"]


def _resnet(num_classes=5):
    return build_transfer_model(weights=None, input_shape=(32, 32, 3), num_classes=num_classes)


def _saved_config_classes(path):
    config = json.loads(h5py.File(path, "r").attrs["model_config"])
    classes = set()

    def walk(node):
        if isinstance(node, dict):
            if "class_name" in node:
                classes.add(node["class_name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return classes


def test_phase_variable_counts_resnet50():
    model = _resnet()
    assert model.count_params() == RESNET50_NOTOP_PARAMETERS + HEAD_PARAMETERS + PREPROCESS_PARAMETERS
    base = base_of(model)
    assert base.count_params() == RESNET50_NOTOP_PARAMETERS
    assert len(base.layers) == 175
    # Phase 1, feature extraction: only the head's kernels and biases.
    assert [v.path for v in model.trainable_variables] == [
        "transfer_model_dense/kernel", "transfer_model_dense/bias",
        "transfer_model_predictions/kernel", "transfer_model_predictions/bias"]
    assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == HEAD_PARAMETERS
    # Phase 2, fine-tuning: the last 20 base layers minus BatchNorm -> six convolutions (12) + head (4).
    unfreeze_top(model, 20)
    assert len(model.trainable_variables) == 16
    assert [layer.name for layer in base.layers if layer.trainable and layer.weights] == TOP20_CONVOLUTIONS
    assert sum(layer.trainable for layer in base.layers) == 20 - 6  # the listing's 20 minus 6 BatchNorm
    assert not any(layer.trainable for layer in base.layers
                   if isinstance(layer, keras.layers.BatchNormalization))
    assert not model.get_layer("transfer_model_preprocess").trainable
    # The listing's version (BatchNorm unfrozen too) would train 6 BN layers' gamma and beta more.
    listing = sum(len(layer.weights) if not isinstance(layer, keras.layers.BatchNormalization)
                  else 2 for layer in base.layers[-20:])
    assert listing + 4 == 28


def test_preprocessing_equals_keras_preprocess_input():
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    model = _resnet()
    caffe = keras.ops.convert_to_numpy(model.get_layer("transfer_model_preprocess")(x))
    np.testing.assert_allclose(caffe, keras.applications.resnet50.preprocess_input(x.copy()), atol=1e-4)
    np.testing.assert_allclose(caffe[0, 0, 0], x[0, 0, 0, ::-1] - np.asarray(IMAGENET_BGR_MEANS), atol=1e-4)
    mobile = build_transfer_model(base="mobilenetv2", alpha=0.35, weights=None, input_shape=(32, 32, 3))
    tf_mode = keras.ops.convert_to_numpy(mobile.get_layer("transfer_model_preprocess")(x))
    np.testing.assert_allclose(tf_mode, keras.applications.mobilenet_v2.preprocess_input(x.copy()), atol=1e-5)
    listing = build_transfer_model(base="vgg16", weights=None, input_shape=(32, 32, 3), preprocess=False)
    assert "transfer_model_preprocess" not in [layer.name for layer in listing.layers]
    assert listing.count_params() == 14_714_688 + (512 * 256 + 256) + (256 * 5 + 5)


def test_fine_tune_step_keeps_batchnorm_and_frozen_layers_fixed():
    # MobileNetV2 (alpha 0.35) keeps it quick; its last 20 layers hold BatchNorm layers as ResNet50's do.
    model = unfreeze_top(build_transfer_model(base="mobilenetv2", alpha=0.35, weights=None,
                                              input_shape=(32, 32, 3), num_classes=3), 20)
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy")
    base = base_of(model)
    batch_norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    before_stats = [np.array(w) for layer in batch_norms for w in layer.weights]
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in base.layers[-20:])
    frozen_conv = np.array(base.get_layer("block_14_project").kernel)
    top_conv = np.array(base.get_layer("Conv_1").kernel)
    x = np.random.default_rng(1).uniform(0, 255, size=(4, 32, 32, 3)).astype("float32")
    loss = model.train_on_batch(x, np.array([0, 1, 2, 0]))
    assert np.isfinite(loss)
    after_stats = [np.array(w) for layer in batch_norms for w in layer.weights]
    for before, after in zip(before_stats, after_stats):
        np.testing.assert_array_equal(before, after)  # moving mean/variance and gamma/beta untouched
    np.testing.assert_array_equal(frozen_conv, np.array(base.get_layer("block_14_project").kernel))
    assert not np.array_equal(top_conv, np.array(base.get_layer("Conv_1").kernel))


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_h5_reloads_in_a_fresh_process_with_identical_predictions(tmp_path):
    model = unfreeze_top(_resnet(num_classes=4), 20)
    path = artifacts.save_model(model, tmp_path / "resnet50_transfer.h5")
    classes = _saved_config_classes(path)
    assert not classes & {"Lambda", "TFOpLambda", "GetItem", "SlicingOpLambda"}
    assert {"Conv2D", "Functional", "BatchNormalization"} <= classes
    x = np.random.default_rng(2).uniform(0, 255, size=(3, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np, dlcourse, keras\n"
        "m = keras.saving.load_model(sys.argv[1])\n"
        "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0))\n"
        "print(len(m.trainable_variables))\n")
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "x.npy"),
                             str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=240,
                            env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "16"  # fine-tuning state survives the file
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_builder_validation():
    with pytest.raises(ValueError, match="unknown base"):
        build_transfer_model(base="alexnet", weights=None)
    with pytest.raises(ValueError, match="input_shape"):
        build_transfer_model(weights=None, input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="num_classes"):
        build_transfer_model(weights=None, num_classes=1)


# -- ImageNet weights lookup -------------------------------------------------------------------------
@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """No real data folder or Keras cache is searched."""
    monkeypatch.setattr(files, "REPO_DATASETS", tmp_path / "repo_datasets")
    monkeypatch.setattr(files, "KERAS_DATASETS", tmp_path / "keras_datasets")
    monkeypatch.setattr(weights, "KERAS_MODELS", tmp_path / "keras_models")
    return tmp_path


def test_canonical_weights_files():
    resnet = weights.weights_file("resnet50")
    assert resnet.name == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert resnet.url == ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
                          "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert resnet.md5 == "4d473c1dd8becc155b73f8504c6f6626"
    assert weights.weights_file("vgg16").name == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert weights.weights_file("mobilenetv2", alpha=0.35, rows=32).name == \
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    with pytest.raises(UserError, match="--weights none"):
        weights.weights_file("mobilenetv2", alpha=0.6)


def test_missing_weights_offline_is_a_user_error(empty_caches):
    with pytest.raises(UserError) as error:
        build_transfer_model(input_shape=(32, 32, 3))  # weights="imagenet"; conftest sets DLCOURSE_OFFLINE=1
    message = str(error.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "--weights none" in message and "DLCOURSE_OFFLINE" in message
    assert str(empty_caches / "keras_models") in message
    assert not weights.weights_available("resnet50")


def test_corrupt_weights_file_is_refused(empty_caches):
    folder = empty_caches / "keras_models"
    folder.mkdir()
    (folder / weights.weights_file("resnet50").name).write_bytes(b"not the weights")
    with pytest.raises(UserError, match="not the canonical"):
        weights.find_weights("resnet50")
    assert not weights.weights_available("resnet50")


def test_imagenet_weights_are_found_in_the_data_dir_and_loaded(empty_caches):
    keras.utils.set_random_seed(3)
    source = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35, input_shape=(96, 96, 3))
    models_dir = empty_caches / "data" / "models"
    target = models_dir / weights.weights_file("mobilenetv2", alpha=0.35, rows=96).name
    artifacts.save_model(source, target)  # a full-model .h5 loads as weights too
    assert weights.find_weights("mobilenetv2", alpha=0.35, rows=96, data_dir=empty_caches / "data") == target
    model = build_transfer_model(base="mobilenetv2", alpha=0.35, input_shape=(96, 96, 3),
                                 data_dir=empty_caches / "data")
    loaded = base_of(model).get_weights()
    for expected, actual in zip(source.get_weights(), loaded):
        np.testing.assert_array_equal(expected, actual)
