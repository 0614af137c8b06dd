"""Lab 29's builders: the pix2pix U-Net generator and PatchGAN discriminator, the super-resolution
generator and discriminator; parameter counts by formula (dlcourse/models/image_translation.py)."""

import pytest

from contract import make_contract_test
from dlcourse.models.image_translation import (build_patchgan_discriminator, build_sr_discriminator,
                                               build_sr_generator, build_unet_generator)


def unet_parameters(f, c=1, o=1):
    """down1 16cf + f; down2 32f^2 + 2f + BatchNorm 8f; up1 32f^2 + f + BatchNorm 4f;
    up2 on [up1, down1] (2f channels) 32f^2 + f; 3x3 output on [up2, input] 9(f + c)o + o."""
    return (16 * c * f + f) + (32 * f * f + 2 * f + 8 * f) + (32 * f * f + f + 4 * f) + (32 * f * f + f) \
        + (9 * (f + c) * o + o)


def patchgan_parameters(f, c=1, o=1):
    """conv1 on the (c + o)-channel pair 16(c + o)f + f; conv2 32f^2 + 2f + BatchNorm 8f; 3x3 score 18f + 1."""
    return (16 * (c + o) * f + f) + (32 * f * f + 2 * f + 8 * f) + (9 * 2 * f + 1)


def sr_generator_parameters(f, c=1, scale=4):
    steps = scale.bit_length() - 1
    return (9 * c * f + f) + steps * (9 * f * f + f) + (9 * f * c + c)


def sr_discriminator_parameters(f, height=28, width=28, c=1):
    return (9 * c * f + f) + (9 * f * 2 * f + 2 * f) + (height // 4) * (width // 4) * 2 * f + 1


CONTRACT_CASES = {
    "unet_generator": (dict(input_shape=(8, 8, 1), filters=2), unet_parameters(16)),  # 25,258
    "patchgan_discriminator": (dict(input_shape=(8, 8, 1), filters=2), patchgan_parameters(16)),  # 9,169
    "sr_generator": (dict(input_shape=(2, 2, 1), filters=2), sr_generator_parameters(16)),  # 4,945
    "sr_discriminator": (dict(input_shape=(8, 8, 1), filters=2), sr_discriminator_parameters(16)),  # 6,369
}

test_builder_contract = make_contract_test(CONTRACT_CASES)


def test_default_counts_are_the_documented_numbers():
    assert [unet_parameters(16), patchgan_parameters(16), sr_generator_parameters(16),
            sr_discriminator_parameters(16)] == [25_258, 9_169, 4_945, 6_369]


@pytest.mark.parametrize("filters", [3, 8])
def test_parameter_counts_follow_the_formulas_for_other_widths(filters):
    assert build_unet_generator(filters=filters).count_params() == unet_parameters(filters)
    assert build_unet_generator(input_shape=(12, 12, 3), output_channels=2, filters=filters).count_params() \
        == unet_parameters(filters, c=3, o=2)
    assert build_patchgan_discriminator(input_shape=(28, 28, 3), target_channels=2, filters=filters).count_params() \
        == patchgan_parameters(filters, c=3, o=2)
    assert build_sr_generator(input_shape=(14, 14, 1), scale=2, filters=filters).count_params() \
        == sr_generator_parameters(filters, scale=2)
    assert build_sr_discriminator(input_shape=(16, 12, 1), filters=filters).count_params() \
        == sr_discriminator_parameters(filters, 16, 12)


def test_shapes_skips_and_output_ranges():
    unet = build_unet_generator()
    assert unet.input_shape == (None, 28, 28, 1) and unet.output_shape == (None, 28, 28, 1)
    assert unet.get_layer("skip_down1").output.shape[1:] == (14, 14, 32)  # up1 (16) + down1 (16)
    assert unet.get_layer("skip_input").output.shape[1:] == (28, 28, 17)  # up2 (16) + the input
    assert unet.get_layer("down2_leaky_relu").output.shape[1:] == (7, 7, 32)
    assert unet.layers[-1].activation.__name__ == "sigmoid"
    patchgan = build_patchgan_discriminator()
    assert [tuple(shape) for shape in patchgan.input_shape] == [(None, 28, 28, 1)] * 2
    assert patchgan.output_shape == (None, 7, 7, 1)  # one probability per patch
    assert build_sr_generator(input_shape=(7, 7, 1), scale=4).output_shape == (None, 28, 28, 1)
    assert build_sr_generator(input_shape=(14, 14, 1), scale=2).output_shape == (None, 28, 28, 1)
    assert build_sr_discriminator().output_shape == (None, 1)
    with pytest.raises(ValueError, match="divisible by 4"):
        build_unet_generator(input_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="power of 2"):
        build_sr_generator(scale=3)
