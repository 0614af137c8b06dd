"""Lab 26 — BiGAN: an encoder-decoder GAN whose discriminator judges (x, z) pairs (Unit V, "Hybrid Models: Encoder-Decoder GANs").

The notes' own definition of an encoder-decoder GAN (000 L2217-L2306): BiGAN and ALI add an encoder
E: x -> z to the GAN, and the discriminator sees PAIRS, real (x, E(x)) against generated (G(z), z)
(000 L2261-L2270, "Working"). Neither pair may give itself away, so E learns to invert G without
any reconstruction loss: G(E(x)) reconstructs x, and E(x) is a code learned without labels, which
the lab then hands to a linear classifier (000 L2271-L2272: "latent space inference",
"unsupervised feature learning"). Lab 19's adversarial autoencoder, by contrast, trains with a
reconstruction loss and its discriminator sees codes only.

Networks (``dlcourse/models/bigan.py``): the vanilla GAN's MLP generator (Unit IV,
``build_mlp_generator``, 50 -> 256 -> 512 -> 784 tanh), an MLP encoder 784 -> 512 -> 256 -> 50
(546,098 parameters) and a joint discriminator with one branch per input, concatenated (690,689);
the notes give no sizes (BiGAN paper's MNIST networks at half width). Training
(``dlcourse/generative/bigan.py``): Unit IV's losses on pairs, D then G and E together, Adam(2e-4,
beta_1 = 0.5); images scaled to [-1, 1].

What to observe:
- losses.png: d_loss near 2 ln 2 = 1.39 and real_score, fake_score near 0.5 when neither pair can
  be told apart; samples_epoch_XXX.png: fixed-noise samples G(z) turning into digits.
- reconstructions.png: test digits over G(E(x)): with enough epochs the reconstruction keeps the
  class and the rough shape (not the pixels: nothing asks for them). run.json compares its MSE with
  the MSE of the mean image.
- code_classifier.csv: a logistic regression on the 50-d BiGAN codes against the same classifier on
  the codes of the untrained encoder (a random projection) and on the 784 raw pixels.

Reference (embedded digits, ``--dataset sample --epochs 100 --batch-size 32``, 2-core CPU): logistic
regression on the BiGAN codes 0.972 test accuracy, on the untrained encoder's codes 0.958, on the raw
pixels 0.958 (the embedded digits are easy; the BiGAN paper reports its gain on ImageNet features);
reconstruction MSE 0.158 against 0.189 for the mean image (G(E(x)) keeps most classes and shapes:
reconstructions.png); classifier score 5.5 (real test digits 8.4), Fréchet classifier distance 20.8.
Training ends with D ahead (real_score 0.72, fake_score 0.29), as BiGANs on small MLPs usually do.

Outputs (in <out>/26_bigan/): bigan_encoder.h5, bigan_generator.h5, bigan_discriminator.h5,
reconstructions.png, code_classifier.csv, samples_epoch_XXX.png, losses.png, history.csv, run.json.
"""

import sys

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dlcourse import artifacts, training
from dlcourse.errors import report_user_errors
from dlcourse.generative import gan_lab
from dlcourse.generative.bigan import BiGAN
from dlcourse.generative.scores import to_signed_unit
from dlcourse.models.bigan import LATENT_DIM, build_bigan_discriminator, build_bigan_encoder
from dlcourse.models.gan import build_mlp_generator

CODE_CLASSIFIER_COLUMNS = ("features", "dimensions", "test_accuracy")


def build_bigan(run, args, image_shape):
    """Generator, encoder and joint discriminator in the BiGAN wrapper, compiled under the run's strategy;
    also returns a copy of the untrained encoder (the random-projection baseline)."""
    with run.strategy.scope():
        generator = build_mlp_generator(latent_dim=args.latent_dim, image_shape=image_shape, name="bigan_generator")
        encoder = build_bigan_encoder(image_shape=image_shape, latent_dim=args.latent_dim)
        discriminator = build_bigan_discriminator(image_shape=image_shape, latent_dim=args.latent_dim)
        bigan = gan_lab.compile_gan(BiGAN(generator, encoder, discriminator, seed=args.seed), args)
    untrained = keras.models.clone_model(encoder)
    untrained.set_weights(encoder.get_weights())
    return bigan, untrained


def save_reconstructions(run, bigan, x_test):
    """reconstructions.png (ten test digits over G(E(x))); returns the reconstruction MSE on the test
    images and the MSE of always answering the mean test image, both on the [-1, 1] scale."""
    images = to_signed_unit(x_test)
    reconstructed = np.asarray(bigan.generator.predict(bigan.encoder.predict(images, verbose=0), verbose=0))
    artifacts.image_grid(np.concatenate([images[:10], reconstructed[:10]]), run.path("reconstructions.png"),
                         ncols=10, value_range=(-1.0, 1.0),
                         titles=["x"] * 10 + ["G(E(x))"] * 10)
    mean_image = images.mean(axis=0, keepdims=True)
    return float(np.mean((reconstructed - images) ** 2)), float(np.mean((images - mean_image) ** 2))


def classify_codes(run, encoders, x_train, y_train, x_test, y_test):
    """code_classifier.csv: test accuracy of a logistic regression (scikit-learn, standardised inputs)
    on each encoder's codes and on the raw pixels; returns {features: accuracy}."""
    train, test = to_signed_unit(x_train), to_signed_unit(x_test)
    features = {name: (encoder.predict(train, verbose=0), encoder.predict(test, verbose=0))
                for name, encoder in encoders.items()}
    features["pixels"] = (train.reshape(len(train), -1), test.reshape(len(test), -1))
    rows, accuracies = [], {}
    for name, (train_features, test_features) in features.items():
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        classifier.fit(train_features, y_train)
        accuracies[name] = float(classifier.score(test_features, y_test))
        rows.append({"features": name, "dimensions": train_features.shape[1],
                     "test_accuracy": round(accuracies[name], 4)})
        print(f"logistic regression on {name} ({train_features.shape[1]} dimensions): "
              f"test accuracy {accuracies[name]:.3f}")
    run.save_csv(rows, "code_classifier.csv")
    return accuracies


def main(argv=None):
    parser = training.lab_parser("26", epochs=30, batch_size=128, learning_rate=gan_lab.LEARNING_RATE)
    gan_lab.add_arguments(parser, latent_dim=LATENT_DIM)
    args = gan_lab.parse_args(parser, argv)
    with training.LabRun("26", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        bigan, untrained = build_bigan(run, args, x_train.shape[1:])
        history, grids = gan_lab.train(run, bigan, x_train, title="Lab 26: BiGAN losses")
        reconstruction_mse, mean_image_mse = save_reconstructions(run, bigan, x_test)
        accuracies = classify_codes(run, {"bigan_codes": bigan.encoder, "untrained_encoder_codes": untrained},
                                    x_train, y_train, x_test, y_test)
        scores = gan_lab.score(run, bigan.generator, x_train, y_train, x_test)
        run.save_model(bigan.encoder, "bigan_encoder.h5")
        gan_lab.finish(run, bigan, history, grids, {
            **scores, "test_reconstruction_mse": reconstruction_mse, "test_mse_mean_image": mean_image_mse,
            **{f"test_accuracy_{name}": value for name, value in accuracies.items()}}, prefix="bigan")


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
