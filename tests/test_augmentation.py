"""dlcourse.augmentation: the five kinds, Listing II-C's mapping, kernel filters, Mixup and CutMix."""

import keras
import numpy as np
import pytest

from dlcourse import augmentation as aug
from dlcourse import data

RNG = np.random.default_rng(0)
IMAGES = RNG.random((4, 16, 16, 3)).astype("float32")


def _constant_batch(count=6, size=10, classes=None):
    """Image i filled with the value i, label i: mixed pixels reveal the mixing weights."""
    images = np.broadcast_to(np.arange(count, dtype="float32")[:, None, None, None],
                             (count, size, size, 1)).copy()
    return images, np.arange(count)


def test_mixup_mixes_labels_with_the_same_weights_as_images():
    images, labels = _constant_batch()
    mixed, soft = aug.mixup(images, labels, alpha=0.4, num_classes=6, rng=3)
    assert soft.shape == (6, 6)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    for i in range(6):
        value = mixed[i, 0, 0, 0]
        assert np.all(mixed[i] == value)  # a uniform blend of two constant images
        # the label-weighted mean of the class values equals the blended pixel value
        assert soft[i] @ np.arange(6) == pytest.approx(value, abs=1e-5)
        assert np.count_nonzero(soft[i] > 1e-7) <= 2


def test_mixup_accepts_one_hot_labels_and_needs_num_classes_for_integers():
    images, labels = _constant_batch(4)
    one_hot = np.eye(4)[labels]
    _, soft_a = aug.mixup(images, one_hot, rng=1)
    _, soft_b = aug.mixup(images, labels, num_classes=4, rng=1)
    np.testing.assert_allclose(soft_a, soft_b)
    with pytest.raises(ValueError):
        aug.mixup(images, labels)


def test_cutmix_label_weights_equal_pasted_area():
    images, labels = _constant_batch(8, size=12)
    mixed, soft = aug.cutmix(images, labels, alpha=1.0, num_classes=8, rng=5)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    for i in range(8):
        fractions = np.bincount(mixed[i].astype(int).ravel(), minlength=8) / mixed[i].size
        np.testing.assert_allclose(soft[i], fractions, atol=1e-6)
    pasted_somewhere = any(np.count_nonzero(mixed[i] != i) for i in range(8))
    assert pasted_somewhere


def test_cutmix_pasted_region_is_one_rectangle():
    images, labels = _constant_batch(6, size=16)
    mixed, _ = aug.cutmix(images, labels, num_classes=6, rng=11)
    for i in range(6):
        rows, columns = np.nonzero(mixed[i, :, :, 0] != i)
        if rows.size:
            box = (rows.max() - rows.min() + 1) * (columns.max() - columns.min() + 1)
            assert box == rows.size


def test_mixing_dataset_batches():
    images, labels = _constant_batch(10)
    dataset = aug.MixingDataset(images * 255, labels, batch_size=4, method="cutmix", num_classes=10, seed=0,
                                rescale=1 / 255)
    assert len(dataset) == 3
    x, y = dataset[0]
    assert x.shape == (4, 10, 10, 1) and y.shape == (4, 10)
    assert x.max() <= 9.0 + 1e-4  # rescaled back to the class values
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError):
        aug.MixingDataset(images, labels, batch_size=4, method="blend", num_classes=10)


def test_listing_ii_c_mapping_and_pipeline():
    assert set(aug.LISTING_II_C) == {"rotation_range=30", "width_shift_range=0.2", "height_shift_range=0.2",
                                     "horizontal_flip=True", "zoom_range=0.2"}
    pipeline = aug.build_augmentation("listing_ii_c", seed=0)
    layers = {type(layer).__name__: layer for layer in pipeline.layers}
    assert set(layers) == {"RandomRotation", "RandomTranslation", "RandomFlip", "RandomZoom"}
    assert layers["RandomRotation"].factor == pytest.approx((-30 / 360, 30 / 360))  # +-30 degrees
    translation, zoom = layers["RandomTranslation"], layers["RandomZoom"]
    assert (translation.width_lower, translation.width_upper) == pytest.approx((-0.2, 0.2))
    assert (translation.height_lower, translation.height_upper) == pytest.approx((-0.2, 0.2))
    assert (zoom.height_lower, zoom.height_upper) == pytest.approx((-0.2, 0.2))  # zoom in [0.8, 1.2]
    # ImageDataGenerator draws the two axes' zoom independently; RandomZoom does when width_factor is set
    assert (zoom.width_lower, zoom.width_upper) == pytest.approx((-0.2, 0.2))
    assert all(layer.fill_mode == "nearest" for name, layer in layers.items() if name != "RandomFlip")


@pytest.mark.parametrize("kind", aug.KINDS)
def test_every_kind_keeps_shape_and_range_and_is_identity_in_inference(kind):
    pipeline = aug.build_augmentation(kind, seed=1)
    out = np.asarray(pipeline(IMAGES, training=True))
    assert out.shape == IMAGES.shape
    assert out.min() >= -1e-5 and out.max() <= 1 + 1e-5
    assert not np.allclose(out, IMAGES)
    np.testing.assert_allclose(np.asarray(pipeline(IMAGES, training=False)), IMAGES, atol=1e-6)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError):
        aug.build_augmentation("cutout")


def test_geometric_kind_covers_the_notes_list():
    names = {type(layer).__name__ for layer in aug.build_augmentation("geometric").layers}
    assert names == {"RandomRotation", "RandomFlip", "RandomZoom", "RandomTranslation", "RandomShear"}
    names = {type(layer).__name__ for layer in aug.build_augmentation("colour").layers}
    assert names == {"RandomBrightness", "RandomContrast", "RandomSaturation", "RandomHue"}


def test_kernel_filters_on_known_images():
    flat = np.full((1, 8, 8, 2), 0.4, dtype="float32")
    np.testing.assert_allclose(np.asarray(aug.apply_kernel_filter(flat, "gaussian_blur")), 0.4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(aug.apply_kernel_filter(flat, "sharpen")), 0.4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(aug.apply_kernel_filter(flat, "sobel")), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(aug.apply_kernel_filter(flat, "laplacian")), 0.0, atol=1e-6)
    step = np.zeros((1, 8, 8, 1), dtype="float32")
    step[:, :, 4:] = 0.25  # a vertical edge between columns 3 and 4
    sobel = np.asarray(aug.apply_kernel_filter(step, "sobel"))[0, :, :, 0]
    np.testing.assert_allclose(sobel[:, 3], 1.0)  # |gx| = 4 * 0.25, clipped to 1
    np.testing.assert_allclose(sobel[:, 0], 0.0)
    with pytest.raises(ValueError):
        aug.apply_kernel_filter(flat, "emboss")


def test_random_kernel_filter_rate():
    never = aug.RandomKernelFilter(("sobel",), rate=0.0)
    np.testing.assert_array_equal(np.asarray(never(IMAGES)), IMAGES)
    always = aug.RandomKernelFilter(("gaussian_blur",), rate=1.0, seed=0)
    expected = np.asarray(aug.apply_kernel_filter(IMAGES, "gaussian_blur"))
    np.testing.assert_allclose(np.asarray(always(IMAGES)), expected, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(always(IMAGES, training=False)), IMAGES)
    np.testing.assert_allclose(np.asarray(always(IMAGES[0])), expected[0], atol=1e-6)  # unbatched
    restored = aug.RandomKernelFilter.from_config(always.get_config())
    assert restored.kinds == ("gaussian_blur",) and restored.rate == 1.0
    with pytest.raises(ValueError):
        aug.RandomKernelFilter(("emboss",))


def test_pipeline_works_inside_data_pipeline():
    labels = np.arange(4)
    dataset = data.pipeline(IMAGES, labels, batch_size=2, seed=0, augment=aug.build_augmentation("combined", seed=0))
    batches = list(dataset)
    assert len(batches) == 2
    x, y = batches[0]
    assert tuple(x.shape) == (2, 16, 16, 3) and tuple(y.shape) == (2,)


def test_augmentation_rows_cover_all_kinds():
    titles, rows = aug.augmentation_rows(IMAGES[:2], seed=0)
    assert titles[0] == "original"
    for name in (*aug.KINDS, *aug.KERNELS, "mixup", "cutmix"):
        assert name in titles
    assert all(row.shape == (2, 16, 16, 3) for row in rows)
    grey_titles, _ = aug.augmentation_rows(IMAGES[:2, :, :, :1], seed=0)
    assert "colour" not in grey_titles  # saturation and hue need RGB


def test_keras_layer_is_registered():
    assert keras.saving.get_registered_object("dlcourse>RandomKernelFilter") is aug.RandomKernelFilter
