"""Lab 25 (GAN failures and fixes) end to end with --smoke: outputs, the saved generators re-scored from
their files to the reported numbers, and graded with full points (the grader loads them in a fresh process)."""

import numpy as np
import pytest

from dlcourse import artifacts
from dlcourse.data.ring import mode_statistics, ring_of_gaussians
from dlcourse.generative.callbacks import fixed_noise
from dlcourse.generative.scores import precision_recall
from dlcourse.grading import engine, manifest
from lab_runs import run_record, run_smoke

VARIANTS = ["plain", "wgan_gp", "spectral_norm", "feature_matching"]
# A smoke run (labs/25_gan_failures.py SMOKE_SIZES, seed 42): 128 training points, batches of 64, one
# epoch; 256 points generated from fixed_noise(256, 16, seed + 2) and held-out data drawn with seed + 1.
SMOKE_EVAL, LATENT, SEED = 256, 16, 42
GENERATOR_PARAMETERS = 16 * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 2 + 2  # 35,458


@pytest.fixture(scope="module")
def lab25(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab25")
    return out, run_smoke("25", out)


def test_lab25_smoke_outputs_agree_with_each_other(lab25):
    _, folder = lab25
    for name in ("comparison.csv", "modes_per_epoch.png", "final_samples.png", "run.json",
                 *(f"generator_{variant}.h5" for variant in VARIANTS), *(f"history_{variant}.csv" for variant in VARIANTS)):
        assert (folder / name).is_file(), name
    record = run_record(folder)
    assert record["lab"] == "25_gan_failures" and record["smoke"] and record["variants"] == VARIANTS
    assert record["ring"] == {"modes": 8, "radius": 2.0, "std": 0.05, "min_share": 0.02}
    assert record["models"]["generator_plain.h5"]["parameters"] == GENERATOR_PARAMETERS
    rows = artifacts.read_csv(folder / "comparison.csv")
    assert [row["variant"] for row in rows] == VARIANTS
    metrics = record["metrics"]
    for row in rows:
        variant = row["variant"]
        assert int(row["modes_covered"]) == metrics[f"modes_covered_{variant}"]
        for quantity in ("high_quality_share", "precision", "recall"):
            assert float(row[quantity]) == pytest.approx(metrics[f"{quantity}_{variant}"], abs=5e-5)
            # shares of 256 points
            assert metrics[f"{quantity}_{variant}"] * SMOKE_EVAL == pytest.approx(
                round(metrics[f"{quantity}_{variant}"] * SMOKE_EVAL), abs=1e-6)
        assert float(row["seconds"]) > 0
        history = artifacts.read_csv(folder / f"history_{variant}.csv")
        assert len(history) == 1 and len(record["per_epoch"][variant]) == 1
        assert record["per_epoch"][variant][-1]["modes_covered"] == metrics[f"modes_covered_{variant}"]
    assert "gradient_penalty" in artifacts.read_csv(folder / "history_wgan_gp.csv")[0]


def test_lab25_saved_generators_rescore_to_the_reported_numbers(lab25):
    _, folder = lab25
    record = run_record(folder)
    noise = fixed_noise(SMOKE_EVAL, LATENT, SEED + 2)
    real, _ = ring_of_gaussians(SMOKE_EVAL, seed=SEED + 1)
    for variant in VARIANTS:
        generator = artifacts.load_model(folder / f"generator_{variant}.h5")  # safe_mode=True
        samples = np.asarray(generator(noise, training=False))
        assert samples.shape == (SMOKE_EVAL, 2)
        assert mode_statistics(samples) == record["per_epoch"][variant][-1]
        scores = precision_recall(real, samples)
        for quantity in ("precision", "recall"):
            assert scores[quantity] == pytest.approx(record["metrics"][f"{quantity}_{variant}"], abs=1e-9)


@pytest.mark.long  # starts its own processes: CI runs it with -m long
def test_lab25_smoke_run_gets_full_points_and_its_generators_load_in_a_fresh_process(lab25):
    # The grader loads every model in a separate worker process (only `import dlcourse`, safe_mode=True),
    # so "loads safely" is the fresh-process reload check too.
    out, _ = lab25
    verdict = engine.grade_lab(out, "25_gan_failures")
    assert verdict.max_points == manifest.max_points(manifest.load_manifest("25_gan_failures"))
    lost = [(item.name, item.message) for item in verdict.items if not item.passed]
    assert not lost and verdict.points == verdict.max_points
    by_name = {item.name: item for item in verdict.items}
    for variant in VARIANTS:
        assert by_name[f"generator_{variant}.h5: loads safely"].message == "loaded with safe_mode=True"
        assert by_name[f"generator_{variant}.h5: parameter count"].passed
    assert "ring_modes_covered" in " ".join(by_name)


def test_lab25_unknown_variant_is_a_flag_error(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        run_smoke("25", tmp_path, "--variants", "minibatch_discrimination")
    assert stopped.value.code == 2
    assert not (tmp_path / "25_gan_failures").exists()
