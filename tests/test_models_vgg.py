"""VGG-16 (dlcourse.models.vgg): the notes' 138M network, the printed table's variant, the contract."""

import keras
import pytest

from contract import make_contract_test
from dlcourse.models.vgg import NOTES_TABLE_STAGES, VGG16_PARAMETERS, VGG16_STAGES, build_vgg16

CONTRACT_CASES = {
    "vgg16": (dict(input_shape=(16, 16, 3), num_classes=3, stages=((1, 4), (2, 8)), dense_units=(8,)),
              138_357_544),
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def _weight_shapes(model):
    return [tuple(weight.shape) for weight in model.weights]


@pytest.mark.slow
def test_default_parameter_count_equals_keras_applications_vgg16():
    # The contract asserts build_vgg16().count_params() == 138,357,544; the reference agrees.
    reference = keras.applications.VGG16(weights=None)  # no download with weights=None
    assert reference.count_params() == VGG16_PARAMETERS == 138_357_544


def test_same_layers_as_keras_applications_vgg16():
    # Layer for layer (weight shapes, in order) at a small input size where the FC layers are cheap.
    ours = build_vgg16(input_shape=(32, 32, 3), num_classes=10)
    reference = keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=10)
    assert _weight_shapes(ours) == _weight_shapes(reference)
    assert ours.count_params() == reference.count_params() == 33_638_218


def test_thirteen_convolutions_three_dense_and_2x2_pooling_at_cifar_size():
    # The same stages on 32x32 input: 5 poolings take 32 -> 1, so flatten has 512 features.
    model = build_vgg16(input_shape=(32, 32, 3), num_classes=10, dense_units=(256, 256))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(convs) == 13 and len(dense) == 3 and len(pools) == 5
    assert all(tuple(pool.pool_size) == (2, 2) and tuple(pool.strides) == (2, 2) for pool in pools)
    assert [conv.filters for conv in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    conv_parameters = sum(conv.count_params() for conv in convs)
    assert conv_parameters == 14_714_688  # the 224x224 network's convolutional part: size-independent
    assert model.count_params() == conv_parameters + (512 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)
    assert model.get_layer("vgg16_flatten").output.shape[-1] == 512
    assert model.get_layer("vgg16_predictions").activation.__name__ == "softmax"


def test_notes_table_variant_has_twelve_convolutions():
    # Block 3 as printed: 2 convolutions of 256 -> one 3x3x256x256 convolution (590,080) fewer.
    model = build_vgg16(input_shape=(32, 32, 3), stages=NOTES_TABLE_STAGES, dense_units=(8,))
    reference = build_vgg16(input_shape=(32, 32, 3), stages=VGG16_STAGES, dense_units=(8,))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 12
    assert reference.count_params() - model.count_params() == 3 * 3 * 256 * 256 + 256 == 590_080
    assert VGG16_PARAMETERS - 590_080 == 137_767_464  # the table's network at 224x224


def test_224_output_sizes_follow_the_table():
    model = build_vgg16(input_shape=(224, 224, 3), stages=((1, 2),) * 5, dense_units=(4,))
    sizes = [model.get_layer(f"vgg16_block{block}_pool").output.shape[1] for block in range(1, 6)]
    assert sizes == [112, 56, 28, 14, 7]
    assert model.get_layer("vgg16_flatten").output.shape[-1] == 7 * 7 * 2


@pytest.mark.parametrize("kwargs", [dict(stages=()), dict(stages=((0, 64),)), dict(input_shape=(16, 16, 3)),
                                    dict(dropout_rate=1.0)])
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        build_vgg16(**kwargs)


def test_dropout_option_adds_layers_without_parameters():
    plain = build_vgg16(input_shape=(32, 32, 3), stages=((1, 4),), dense_units=(8, 8))
    dropped = build_vgg16(input_shape=(32, 32, 3), stages=((1, 4),), dense_units=(8, 8), dropout_rate=0.5)
    assert dropped.count_params() == plain.count_params()
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in dropped.layers) == 2
