"""Lab 29 (pix2pix and super-resolution) end to end with --smoke: its outputs, the numbers recomputed
from the saved generators reloaded with artifacts.load_model, and full points under the grader."""

import numpy as np
import pytest

from dlcourse import artifacts, data, training
from dlcourse.generative.translation import bicubic_upsample, downsample, psnr, sobel_edges
from dlcourse.grading import engine, manifest
from lab_runs import run_record, run_smoke

LAB = "29_image_translation"


@pytest.fixture(scope="module")
def lab29(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab29")
    return out, run_smoke("29", out)


def smoke_test_images():
    """The smoke run's test images: the first SMOKE_TEST_SAMPLES embedded digits, scaled to [0, 1]."""
    x_test, _ = data.load("digits", split="test")
    return x_test[:training.SMOKE_TEST_SAMPLES].astype("float32") / 255.0


def test_lab29_smoke_outputs_agree_with_each_other(lab29):
    _, folder = lab29
    for name in ("pix2pix_generator.h5", "pix2pix_l1_generator.h5", "pix2pix_discriminator.h5", "sr_generator.h5",
                 "sr_mse_generator.h5", "sr_discriminator.h5", "translation.png", "translation.csv",
                 "super_resolution.png", "super_resolution.csv", "run.json",
                 *(f"history_{stem}.csv" for stem in ("pix2pix", "pix2pix_l1", "sr_gan", "sr_mse"))):
        assert (folder / name).is_file(), name
    record = run_record(folder)
    assert record["smoke"] and record["scale"] == 4 and record["l1_weight"] == 100.0
    assert record["adversarial_weight"] == 1e-3
    metrics = record["metrics"]
    translation = artifacts.read_csv(folder / "translation.csv")
    assert [row["generator"] for row in translation] == ["l1_only", "pix2pix"]
    for row in translation:
        for quantity in ("l1", "mse"):
            assert float(row[f"test_{quantity}"]) == pytest.approx(metrics[f"test_{quantity}_{row['generator']}"],
                                                                   rel=1e-5)
    resolution = artifacts.read_csv(folder / "super_resolution.csv")
    assert [row["method"] for row in resolution] == ["bicubic", "sr_mse", "sr_gan"]
    for row in resolution:
        assert float(row["test_psnr"]) == pytest.approx(metrics[f"test_psnr_{row['method']}"], rel=1e-6)
    assert metrics["test_psnr_gain_sr_gan"] == pytest.approx(metrics["test_psnr_sr_gan"] - metrics["test_psnr_bicubic"])
    gan_history = artifacts.read_csv(folder / "history_pix2pix.csv")[0]
    logged = {"d_loss", "g_loss", "adversarial_loss", "reconstruction_loss", "real_score", "fake_score"}
    assert logged <= set(gan_history)
    # G's logged loss is J_G + 100 L1, both epoch means, so the identity holds for the means too
    assert float(gan_history["g_loss"]) == pytest.approx(
        float(gan_history["adversarial_loss"]) + 100 * float(gan_history["reconstruction_loss"]), rel=1e-4)


def test_lab29_numbers_recomputed_from_the_saved_generators(lab29):
    _, folder = lab29
    metrics = run_record(folder)["metrics"]
    targets = smoke_test_images()
    edges = sobel_edges(targets)
    for variant, filename in (("l1_only", "pix2pix_l1_generator.h5"), ("pix2pix", "pix2pix_generator.h5")):
        generator = artifacts.load_model(folder / filename)  # safe_mode=True
        outputs = np.asarray(generator.predict(edges, verbose=0))
        assert outputs.shape == targets.shape and 0.0 <= outputs.min() and outputs.max() <= 1.0
        assert float(np.mean(np.abs(outputs - targets))) == pytest.approx(metrics[f"test_l1_{variant}"], rel=1e-4)
        assert float(np.mean((outputs - targets) ** 2)) == pytest.approx(metrics[f"test_mse_{variant}"], rel=1e-4)
    low = downsample(targets, 4)
    assert low.shape == (len(targets), 7, 7, 1)
    assert float(np.mean(psnr(targets, bicubic_upsample(low, (28, 28))))) == pytest.approx(
        metrics["test_psnr_bicubic"], rel=1e-6)
    for method, filename in (("sr_mse", "sr_mse_generator.h5"), ("sr_gan", "sr_generator.h5")):
        generator = artifacts.load_model(folder / filename)
        outputs = np.asarray(generator.predict(low, verbose=0))
        assert float(np.mean(psnr(targets, outputs))) == pytest.approx(metrics[f"test_psnr_{method}"], abs=1e-3)
    patchgan = artifacts.load_model(folder / "pix2pix_discriminator.h5")
    assert patchgan.output_shape == (None, 7, 7, 1)


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_lab29_smoke_run_gets_full_points_in_a_fresh_process(lab29):
    # the grader loads every model in a separate worker process (only `import dlcourse`, safe_mode=True)
    out, _ = lab29
    verdict = engine.grade_lab(out, LAB)
    assert verdict.max_points == manifest.max_points(manifest.load_manifest(LAB))
    lost = [(item.name, item.message) for item in verdict.items if not item.passed]
    assert not lost and verdict.points == verdict.max_points
    by_name = {item.name: item for item in verdict.items}
    assert by_name["sr_generator.h5: loads safely"].message == "loaded with safe_mode=True"
