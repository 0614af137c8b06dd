"""GoogLeNet / Inception v1 (dlcourse.models.googlenet): the module's four paths, the paper's counts."""

import keras
import numpy as np
import pytest

from contract import make_contract_test
from dlcourse.models.googlenet import (
    GOOGLENET_MODULES, GOOGLENET_PARAMETERS, build_cifar_googlenet, build_googlenet, build_inception_block,
    inception_module, inception_multiplications)

TINY_MODULES = (("3a", (4, 4, 4, 2, 2, 2)), "pool", ("4a", (4, 2, 4, 2, 2, 2)))

CONTRACT_CASES = {
    "googlenet": (dict(input_shape=(32, 32, 3), num_classes=3, modules=TINY_MODULES), 6_998_552),
    "cifar_googlenet": (dict(input_shape=(8, 8, 3), num_classes=3, stem_filters=4, modules=TINY_MODULES[:1]),
                        211_050),
    "inception_block": (dict(input_shape=(6, 6, 3), filters=(2, 2, 2, 2, 2, 2), naive=True), 163_696),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def _module_parameters(channels, f1, r3, f3, r5, f5, pool):
    """Weights + biases of one inception module, by hand."""
    return ((channels * f1 + f1) + (channels * r3 + r3) + (9 * r3 * f3 + f3)
            + (channels * r5 + r5) + (25 * r5 * f5 + f5) + (channels * pool + pool))


def test_inception_3a_paths_shapes_and_parameters():
    inputs = keras.Input((28, 28, 192))
    outputs = inception_module(inputs, filters_1x1=64, filters_3x3_reduce=96, filters_3x3=128,
                               filters_5x5_reduce=16, filters_5x5=32, filters_pool_proj=32, name="m")
    module = keras.Model(inputs, outputs)
    assert tuple(outputs.shape) == (None, 28, 28, 256)  # 64 + 128 + 32 + 32, spatial size kept
    assert module.count_params() == _module_parameters(192, 64, 96, 128, 16, 32, 32) == 163_696
    pool = module.get_layer("m_pool")
    # The notes say "2x2 window"; the paper (and this module) uses 3x3, stride 1, 'same'.
    assert tuple(pool.pool_size) == (3, 3) and tuple(pool.strides) == (1, 1) and pool.padding == "same"
    # The 1x1 reductions come before the 3x3/5x5 convolutions; nothing follows the concatenation.
    assert module.get_layer("m_3x3").input is module.get_layer("m_3x3_reduce").output
    assert module.get_layer("m_pool_proj").input is pool.output
    assert module.layers[-1].name == "m_concat"


def test_naive_inception_3a_keeps_every_input_channel_and_costs_more():
    """000's figure (a): no reductions, the pooling path passes the 192 input channels through."""
    naive = build_inception_block(naive=True)
    assert naive.output_shape == (None, 28, 28, 64 + 128 + 32 + 192)
    assert naive.count_params() == (192 * 64 + 64) + (9 * 192 * 128 + 128) + (25 * 192 * 32 + 32) == 387_296
    assert build_inception_block().count_params() == _module_parameters(192, 64, 96, 128, 16, 32, 32)
    # Multiplications per position, counted from the built layers (k*k*c_in*c_out per Conv2D).
    for model, naive_flag in ((naive, True), (build_inception_block(), False)):
        counted = sum(int(np.prod(layer.kernel.shape)) for layer in model.layers
                      if isinstance(layer, keras.layers.Conv2D))
        assert inception_multiplications(192, GOOGLENET_MODULES[0][1], naive=naive_flag) == counted
    assert inception_multiplications(192, GOOGLENET_MODULES[0][1], naive=True) == 387_072
    assert inception_multiplications(192, GOOGLENET_MODULES[0][1]) == 163_328


def test_inception_module_concatenates_the_four_paths_in_order():
    inputs = keras.Input((5, 5, 3))
    outputs = inception_module(inputs, filters_1x1=1, filters_3x3_reduce=1, filters_3x3=2,
                               filters_5x5_reduce=1, filters_5x5=3, filters_pool_proj=4, name="m")
    module = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).random((1, 5, 5, 3)).astype("float32")
    result = module.predict(x, verbose=0)
    paths = [keras.Model(inputs, module.get_layer(f"m_{path}").output).predict(x, verbose=0)
             for path in ("1x1", "3x3", "5x5", "pool_proj")]
    np.testing.assert_allclose(result, np.concatenate(paths, axis=-1), rtol=1e-6)


def test_googlenet_parameters_module_by_module():
    # Stem + nine modules (computed by hand from the paper's table) + classifier = 6,998,552 (~6.8M).
    stem = (7 * 7 * 3 * 64 + 64) + (64 * 64 + 64) + (3 * 3 * 64 * 192 + 192)
    channels, total = 192, stem
    for entry in GOOGLENET_MODULES:
        if entry == "pool":
            continue
        filters = entry[1]
        total += _module_parameters(channels, *filters)
        channels = filters[0] + filters[2] + filters[4] + filters[5]
    assert channels == 1024
    total += 1024 * 1000 + 1000
    assert total == GOOGLENET_PARAMETERS == 6_998_552


def test_googlenet_default_shapes_and_auxiliary_heads():
    model = build_googlenet(auxiliary=True)
    assert model.count_params() == 13_378_280  # + 6,379,728 for the two training-time heads
    assert [tuple(output.shape) for output in model.outputs] == [(None, 1000)] * 3
    assert model.get_layer("googlenet_inception3a_concat").output.shape[1:] == (28, 28, 256)
    assert model.get_layer("googlenet_inception4a_concat").output.shape[1:] == (14, 14, 512)
    assert model.get_layer("googlenet_inception5b_concat").output.shape[1:] == (7, 7, 1024)
    assert model.get_layer("googlenet_aux1_flatten").output.shape[-1] == 4 * 4 * 128


def test_cifar_googlenet_keeps_32x32_for_the_first_modules():
    model = build_cifar_googlenet()
    assert model.count_params() == 211_050
    assert model.get_layer("cifar_googlenet_inception3a_concat").output.shape[1:] == (32, 32, 64)
    assert model.get_layer("cifar_googlenet_inception5b_concat").output.shape[1:] == (8, 8, 256)
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize("build, kwargs", [
    (build_googlenet, dict(input_shape=(16, 16, 3))),
    (build_googlenet, dict(input_shape=(64, 64, 3), auxiliary=True)),
    (build_googlenet, dict(input_shape=(96, 96, 3), auxiliary=True, modules=TINY_MODULES)),
    (build_cifar_googlenet, dict(width_multiplier=0)),
    (build_cifar_googlenet, dict(modules=(("3a", (1, 2, 3)),))),
])
def test_bad_arguments_raise_value_error(build, kwargs):
    with pytest.raises(ValueError):
        build(**kwargs)
