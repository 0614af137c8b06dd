"""Lab 19 — the adversarial autoencoder, an AE-GAN hybrid (Unit V, "Hybrid Models and Recent Advances").

The AAE, one of the hybrids listed in Unit V's "Hybrid Models and Recent Advances" (000 L2200). It is
not the notes' own definition of an encoder-decoder GAN, which is BiGAN/ALI (000 L2257-L2306: a
discriminator on pairs (x, E(x)) against (G(z), z)); here the discriminator sees codes only. An autoencoder (encoder E, decoder G) plus a
discriminator D that looks at CODES, not images. Every
batch: (1) reconstruction phase, E and G minimise the reconstruction loss; (2) regularisation phase,
D learns to tell prior samples z ~ N(0, I) (real) from codes E(x) (fake), then E, acting as the GAN's
generator, learns to fool D (non-saturating -log D(E(x)), Unit IV's losses). The adversarial game
replaces the VAE's KL term: it pulls the distribution of codes onto the prior, so the decoder turns
prior samples into digits. Compare with lab 18 (same 2-D latent space, KL instead of a discriminator).

What to observe:
  * samples.png: 100 decoded prior samples, new digits the model never saw.
  * latent_scatter.png: the test codes fill a round N(0, I) blob, classes as sectors/clusters.
  * learning_curves.png: discriminator_loss stays near 2 ln 2 = 1.386 and generator_loss near ln 2 when
    codes match the prior; reconstruction_loss falls as in a plain autoencoder.
  * run.json code_mean / code_std: close to 0 and 1 per dimension when the prior is matched.

Outputs (in <out>/19_adversarial_autoencoder/): aae_encoder.h5, aae_decoder.h5, aae_discriminator.h5,
samples.png, latent_scatter.png, learning_curves.png, history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, training
from dlcourse.arguments import positive_float, positive_int
from dlcourse.errors import report_user_errors
from dlcourse.generative.aae import AdversarialAutoencoder
from dlcourse.generative.callbacks import fixed_noise
from dlcourse.generative.vae import plot_latent_scatter
from dlcourse.models.adversarial_autoencoder import build_aae_decoder, build_aae_discriminator, build_aae_encoder

PRIOR_SAMPLES = 100  # decoded prior samples in samples.png (10 x 10)


def scale(images):
    """uint8 images -> float32 in [0, 1] (the sigmoid decoder's range), shape kept (N, 28, 28, 1)."""
    return images.astype("float32") / 255.0


def train_aae(run, args, x_train):
    """Encoder, decoder and code discriminator in the AAE wrapper, trained on ``x_train`` (10% held out)."""
    with run.strategy.scope():
        encoder = build_aae_encoder(input_shape=x_train.shape[1:], latent_dim=args.latent_dim)
        decoder = build_aae_decoder(latent_dim=args.latent_dim, output_shape=x_train.shape[1:])
        discriminator = build_aae_discriminator(latent_dim=args.latent_dim)
        aae = AdversarialAutoencoder(encoder, decoder, discriminator, seed=args.seed)
        aae.compile(reconstruction_optimizer=keras.optimizers.Adam(args.reconstruction_learning_rate),
                    discriminator_optimizer=keras.optimizers.Adam(args.adversarial_learning_rate, beta_1=0.5),
                    generator_optimizer=keras.optimizers.Adam(args.adversarial_learning_rate, beta_1=0.5))
    history = run.fit(aae, x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                      validation_split=0.1)
    return aae, history


def save_figures(run, args, aae, x_test, y_test):
    """latent_scatter.png (the test codes) and samples.png (decoded prior samples); returns the codes."""
    codes = aae.encoder.predict(x_test, verbose=0)
    plot_latent_scatter(codes, y_test, run.path("latent_scatter.png"),
                        title="AAE codes of the test images (prior N(0, I))")
    samples = aae.decoder.predict(fixed_noise(PRIOR_SAMPLES, args.latent_dim, args.seed), verbose=0)
    artifacts.image_grid(samples, run.path("samples.png"), ncols=10, value_range=(0.0, 1.0), tiled=True,
                         title="decoded prior samples z ~ N(0, I)")
    return codes


def main(argv=None):
    parser = training.lab_parser("19", epochs=20, batch_size=128, datasets=["mnist", "fashion_mnist"])
    parser.add_argument("--latent-dim", type=positive_int, default=2)
    parser.add_argument("--reconstruction-learning-rate", type=positive_float, default=1e-3,
                        help="Adam learning rate of the reconstruction phase (encoder and decoder)")
    parser.add_argument("--adversarial-learning-rate", type=positive_float, default=2e-4,
                        help="Adam learning rate of the discriminator and of the encoder as generator")
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("19", args) as run:
        (x_train, _), (x_test, y_test) = run.load_splits()
        x_train, x_test = scale(x_train), scale(x_test)
        aae, history = train_aae(run, args, x_train)
        test = aae.evaluate(x_test, batch_size=args.batch_size, verbose=0, return_dict=True)
        codes = save_figures(run, args, aae, x_test, y_test)
        run.save_model(aae.discriminator, "aae_discriminator.h5")
        run.save_model(aae.decoder, "aae_decoder.h5")
        run.save_model(aae.encoder, "aae_encoder.h5")
        run.finish(metrics={f"test_{key}": value for key, value in test.items()}, model=aae.encoder,
                   latent_dim=args.latent_dim, code_mean=np.mean(codes, axis=0), code_std=np.std(codes, axis=0),
                   final_discriminator_loss=history.history["discriminator_loss"][-1])


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
