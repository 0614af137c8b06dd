"""Unit V labs (16-19) end to end with --smoke on the embedded digits; their saved numbers re-checked."""


import keras
import numpy as np
import pytest

from dlcourse import anomaly, artifacts, catalog, data, training
from lab_runs import run_record, run_smoke

pytestmark = pytest.mark.slow


def _run(number, tmp_path, *flags):
    folder = run_smoke(number, tmp_path, *flags)
    return folder, run_record(folder)


SMOKE_TEST = training.SMOKE_TEST_SAMPLES  # the test digits a smoke run keeps


def _digits(split, count):
    x, y = data.load("digits", split=split)
    return x[:count].astype("float32") / 255.0, y[:count]


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_lab16_dense_autoencoder(tmp_path):
    folder, record = _run("16", tmp_path)
    assert record["parameters"] == 222_384
    assert record["models"] == {"encoder.h5": {"parameters": 110_816}, "autoencoder.h5": {"parameters": 222_384}}
    assert _is_png(folder / "reconstructions.png")
    autoencoder = artifacts.load_model(folder / "autoencoder.h5")
    encoder = artifacts.load_model(folder / "encoder.h5")
    assert encoder.output_shape == (None, 32)
    x, _ = _digits("test", SMOKE_TEST)
    x = x.reshape(SMOKE_TEST, 784)
    # The saved encoder is the saved autoencoder's first half, weight for weight.
    code = keras.Model(autoencoder.input, autoencoder.get_layer("dense_autoencoder_code").output)
    np.testing.assert_allclose(encoder.predict(x, verbose=0), code.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    test_mse = np.mean((autoencoder.predict(x, verbose=0) - x) ** 2)
    assert record["metrics"]["test_mse"] == pytest.approx(test_mse, rel=1e-4)
    assert record["metrics"]["validation_loss"] == pytest.approx(
        float(artifacts.read_csv(folder / "history.csv")[-1]["val_loss"]), rel=1e-5)
    assert record["compression_ratio"] == 24.5


def test_lab17_autoencoder_variants_and_anomaly_detection(tmp_path):
    folder, record = _run("17", tmp_path, "--variants", "denoise_masking", "sparse_kl", "--anomaly-class", "3")
    rows = artifacts.read_csv(folder / "comparison.csv")
    assert [(row["variant"], int(row["parameters"])) for row in rows] == [("denoise_masking", 3_217),
                                                                           ("sparse_kl", 201_616)]
    assert record["loss"] == "binary_crossentropy"  # the notes' rule for inputs in [0, 1]
    for name in ("denoising_masking_autoencoder.h5", "sparse_autoencoder.h5",
                 "anomaly_autoencoder.h5", "autoencoder_variants.png", "anomaly_scores.png"):
        assert (folder / name).is_file(), name
    x, y = _digits("test", SMOKE_TEST)
    denoiser = artifacts.load_model(folder / "denoising_masking_autoencoder.h5")  # noise is off in predict
    assert float(rows[0]["clean_mse"]) == pytest.approx(np.mean((denoiser.predict(x, verbose=0) - x) ** 2),
                                                        rel=1e-4)
    assert set(record["metrics"]) == {"clean_mse_denoise_masking", "clean_mse_sparse_kl", "anomaly_auc"}
    assert record["metrics"]["clean_mse_denoise_masking"] == pytest.approx(float(rows[0]["clean_mse"]), rel=1e-5)
    assert 0.0 < float(rows[1]["mean_code_activation"]) < 1.0  # a sigmoid code
    detector = artifacts.load_model(folder / "anomaly_autoencoder.h5")
    assert detector.count_params() == 222_384  # Listing V-A
    normal, anomalous = anomaly.split_normal_anomalous(x.reshape(SMOKE_TEST, 784), y, [3])
    auc = anomaly.roc_auc(anomaly.reconstruction_errors(detector, normal),
                          anomaly.reconstruction_errors(detector, anomalous))
    assert record["metrics"]["anomaly_auc"] == pytest.approx(auc, abs=1e-6)
    assert record["anomaly_class"] == 3


def test_lab18_vae(tmp_path):
    folder, record = _run("18", tmp_path, "--beta", "2")
    assert record["models"] == {"vae_decoder.h5": {"parameters": 65_089}, "vae_encoder.h5": {"parameters": 69_076}}
    metrics = record["metrics"]
    assert metrics["test_loss"] == pytest.approx(metrics["test_reconstruction_loss"] + 2 * metrics["test_kl_loss"],
                                                 rel=1e-5)
    for name in ("latent_scatter.png", "latent_grid.png", "interpolation.png"):
        assert _is_png(folder / name), name
    encoder = artifacts.load_model(folder / "vae_encoder.h5")
    decoder = artifacts.load_model(folder / "vae_decoder.h5")
    x, _ = _digits("test", 4)
    z_mean, z_log_var, z = encoder.predict(x, verbose=0)
    assert z_mean.shape == z.shape == (4, 2)
    assert decoder.predict(z_mean, verbose=0).shape == (4, 28, 28, 1)


def test_lab19_adversarial_autoencoder(tmp_path):
    folder, record = _run("19", tmp_path)
    assert record["models"] == {"aae_discriminator.h5": {"parameters": 66_817},
                                "aae_decoder.h5": {"parameters": 534_544},
                                "aae_encoder.h5": {"parameters": 533_762}}
    assert _is_png(folder / "samples.png")
    assert set(record["metrics"]) == {"test_reconstruction_loss", "test_discriminator_loss", "test_generator_loss"}
    encoder = artifacts.load_model(folder / "aae_encoder.h5")
    discriminator = artifacts.load_model(folder / "aae_discriminator.h5")
    x, _ = _digits("test", 128)
    codes = encoder.predict(x, verbose=0)
    np.testing.assert_allclose(record["code_mean"], codes.mean(axis=0), rtol=1e-4, atol=1e-5)
    # The logged generator loss is -mean log D(E(x)) on the test images.
    scores = np.clip(discriminator.predict(codes, verbose=0), 1e-7, 1 - 1e-7)
    assert record["metrics"]["test_generator_loss"] == pytest.approx(-np.mean(np.log(scores)), rel=1e-4)


@pytest.mark.parametrize("flags, message", [(["--mask-rate", "1.5"], "argument --mask-rate: must be below 1"),
                                            (["--noise-stddev", "2"], "argument --noise-stddev: must be at most 1")])
def test_lab17_rejects_impossible_noise_flags(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        catalog.load_lab_module(catalog.get_lab("17")).main(["--smoke", *flags, "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "17_autoencoder_variants").exists()  # nothing half-written
