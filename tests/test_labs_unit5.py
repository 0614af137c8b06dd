"""Unit V labs (16-19, 26, 27) end to end with --smoke on the embedded digits; their saved numbers re-checked."""


import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA

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
    assert record["validation"] == "0.1 of the training set"
    assert record["notes_departures"][0].startswith("validation on 10% of the training set")


def test_lab16_validate_on_test_is_the_listing_variant(tmp_path):
    """``--validate-on test`` validates on the test split, as Listing V-A does: the last epoch's
    validation loss is then the test loss of the final weights."""
    folder, record = _run("16", tmp_path, "--validate-on", "test")
    assert record["validation"].startswith("test set")
    validation_loss = float(artifacts.read_csv(folder / "history.csv")[-1]["val_loss"])
    autoencoder = artifacts.load_model(folder / "autoencoder.h5")
    x, _ = _digits("test", SMOKE_TEST)
    x = x.reshape(SMOKE_TEST, 784)
    assert validation_loss == pytest.approx(float(np.mean((autoencoder.predict(x, verbose=0) - x) ** 2)), rel=1e-4)
    assert not any(item.startswith("validation") for item in record["notes_departures"])


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
    folder, record = _run("18", tmp_path, "--beta", "2", "--encoder-output", "sigma")  # the notes' sigma head
    assert record["models"] == {"vae_decoder.h5": {"parameters": 65_089}, "vae_encoder.h5": {"parameters": 69_076}}
    assert record["encoder_output"] == "sigma"
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
    sigma = keras.Model(encoder.input, encoder.get_layer("vae_encoder_z_sigma").output).predict(x, verbose=0)
    np.testing.assert_allclose(z_log_var, 2 * np.log(sigma), rtol=1e-4, atol=1e-5)  # log sigma^2 from sigma


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


def test_lab26_bigan_codes_reconstructions_and_reported_numbers(tmp_path):
    folder, record = _run("26", tmp_path)
    # Encoder 784-512-256-50, joint discriminator, the vanilla GAN's MLP generator (50-256-512-784).
    assert record["models"] == {"bigan_encoder.h5": {"parameters": 546_098},
                                "bigan_discriminator.h5": {"parameters": 690_689},
                                "bigan_generator.h5": {"parameters": 50 * 256 + 256 + 256 * 512 + 512 + 512 * 784 + 784}}
    for name in ("reconstructions.png", "losses.png", "samples_epoch_001.png"):
        assert _is_png(folder / name), name
    encoder = artifacts.load_model(folder / "bigan_encoder.h5")
    generator = artifacts.load_model(folder / "bigan_generator.h5")
    discriminator = artifacts.load_model(folder / "bigan_discriminator.h5")
    assert [tuple(tensor.shape[1:]) for tensor in discriminator.inputs] == [(28, 28, 1), (50,)]
    x_test, y_test = data.load("digits", split="test")
    images = x_test[:SMOKE_TEST].astype("float32") / 127.5 - 1.0
    reconstructed = generator.predict(encoder.predict(images, verbose=0), verbose=0)
    metrics = record["metrics"]
    assert metrics["test_reconstruction_mse"] == pytest.approx(float(np.mean((reconstructed - images) ** 2)), rel=1e-4)
    assert metrics["test_mse_mean_image"] == pytest.approx(float(np.var(images, axis=0).mean()), rel=1e-4)
    rows = {row["features"]: row for row in artifacts.read_csv(folder / "code_classifier.csv")}
    assert {name: int(row["dimensions"]) for name, row in rows.items()} == {
        "bigan_codes": 50, "untrained_encoder_codes": 50, "pixels": 784}
    for name, row in rows.items():
        assert float(row["test_accuracy"]) == pytest.approx(metrics[f"test_accuracy_{name}"], abs=1e-4)
    assert 0.0 <= metrics["test_accuracy_bigan_codes"] <= 1.0 and record["latent_dim"] == 50


def test_lab27_autoencoder_applications_numbers_recomputed(tmp_path):
    folder, record = _run("27", tmp_path)
    metrics = record["metrics"]
    rows = artifacts.read_csv(folder / "applications.csv")
    assert [row["application"] for row in rows] == ["few labels"] * 2 + ["data-specific"] * 3 + ["2-D codes"] * 4 + [
        "colouring"] * 2
    x_train, y_train = data.load("digits", split="train")
    x_test, y_test = data.load("digits", split="test")
    train = x_train[:training.SMOKE_TRAIN_SAMPLES].reshape(-1, 784).astype("float32") / 255.0
    test = x_test[:SMOKE_TEST].reshape(-1, 784).astype("float32") / 255.0
    # 1. The frozen-encoder classifier reloads (the encoder nested inside it) with its reported accuracy.
    probe = artifacts.load_model(folder / "few_label_classifier.h5")
    assert [tuple(weight.shape) for weight in probe.trainable_weights] == [(32, 10), (10,)]
    accuracy = float(np.mean(probe.predict(test, verbose=0).argmax(axis=1) == y_test[:SMOKE_TEST]))
    assert accuracy == pytest.approx(metrics["test_accuracy_encoder"], abs=1e-6)
    assert record["labelled_examples"] == 100
    # 2. Reconstruction error of the saved digit autoencoder on the test digits.
    autoencoder = artifacts.load_model(folder / "autoencoder.h5")
    assert autoencoder.count_params() == 222_384
    mse = float(np.mean((autoencoder.predict(test, verbose=0) - test) ** 2))
    assert metrics["reconstruction_mse_digits"] == pytest.approx(mse, rel=1e-4)
    # 3. PCA's 2-D reconstruction error, recomputed with scikit-learn.
    pca = PCA(n_components=2, random_state=42).fit(train)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2))
    assert metrics["reconstruction_mse_2d_pca"] == pytest.approx(pca_mse, rel=1e-4)
    # 4. Colouring digits by class (tab10 hues): the grey baseline and the network's MSE, recomputed.
    palette = np.array([[0.122, 0.467, 0.706], [1.0, 0.498, 0.055]])  # tab10's first two colours
    colours = catalog.load_lab_module(catalog.get_lab("27")).colour_by_class(x_test[:SMOKE_TEST], y_test[:SMOKE_TEST])
    for label in (0, 1):
        image = np.flatnonzero(y_test[:SMOKE_TEST] == label)[0]
        np.testing.assert_allclose(colours[image], x_test[image] / 255.0 * palette[label], atol=2e-3)
    grey = colours.mean(axis=-1, keepdims=True)
    assert metrics["test_mse_grey"] == pytest.approx(float(np.mean((np.repeat(grey, 3, axis=-1) - colours) ** 2)),
                                                     rel=1e-4)
    colourer = artifacts.load_model(folder / "colorization_autoencoder.h5")
    assert colourer.input_shape == (None, 28, 28, 1) and colourer.output_shape == (None, 28, 28, 3)
    coloured = colourer.predict(grey, verbose=0)
    assert metrics["test_mse_colorization"] == pytest.approx(float(np.mean((coloured - colours) ** 2)), rel=1e-4)
    values = {(row["application"], row["method"]): float(row["value"]) for row in rows}
    assert values[("colouring", "network")] == pytest.approx(metrics["test_mse_colorization"], abs=1e-5)
