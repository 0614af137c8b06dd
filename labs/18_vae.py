"""Lab 18 — a variational autoencoder with a reparameterisation (Sampling) layer (Unit V "Variational AE"; 003 ch. 5).

The encoder outputs a mean and a log-variance per latent dimension (003 §5.2.1 has it output sigma:
docs/SOURCES.md, erratum B32; ``--encoder-output sigma`` builds the notes' encoder, a softplus
sigma head converted to log sigma^2, same parameters); the Sampling layer draws z = mu + exp(0.5 log sigma^2) * epsilon so
gradients flow through mu and sigma (003 §5.2.3). VAE.train_step minimises the negative ELBO, a lower
bound of log p(x) (003 §5.2.2; erratum A46): binary cross-entropy summed over the 784 pixels plus
beta * KL(q(z|x) || N(0, I)) in closed form, 1/2 sum(sigma^2 + mu^2 - 1 - log sigma^2) (not printed in
the notes). ``--beta 4`` trains a beta-VAE (003 §5.3.3). Validation uses 10% of the training set.

What to observe:
  * latent_scatter.png: the test digits' z_mean in the 2-D latent space, coloured by class: the classes
    form clusters around the origin although the VAE never saw a label.
  * latent_grid.png: decoding a 15x15 grid of z in [-3, 3]^2: digits change smoothly into each other,
    with no "holes" (003 §5.3.1); every z near the prior decodes to a plausible digit.
  * interpolation.png: z_t = (1 - t) z1 + t z2 between two test digits (003 §5.3.2) morphs one into the other.
  * learning_curves.png / run.json: reconstruction_loss falls while kl_loss rises from 0: the trade-off
    the ELBO makes; a larger beta gives a smaller KL and blurrier reconstructions.

Outputs (in <out>/18_vae/): vae_encoder.h5, vae_decoder.h5, latent_scatter.png, latent_grid.png,
interpolation.png, learning_curves.png, history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, training
from dlcourse.arguments import nonnegative_float, positive_int
from dlcourse.errors import report_user_errors
from dlcourse.generative.vae import VAE, interpolate, latent_grid, plot_latent_scatter
from dlcourse.models.vae import ENCODER_OUTPUTS, build_vae_decoder, build_vae_encoder

SMOKE_GRID_SIZE = 5  # a --smoke run decodes a 5x5 latent grid


def scale(images):
    """uint8 images -> float32 in [0, 1], shape kept (N, 28, 28, 1)."""
    return images.astype("float32") / 255.0


def train_vae(run, args, x_train):
    """The encoder, decoder and VAE wrapper, trained on ``x_train`` (10% held out); returns them and the history."""
    with run.strategy.scope():
        encoder = build_vae_encoder(input_shape=x_train.shape[1:], latent_dim=args.latent_dim, seed=args.seed,
                                    encoder_output=args.encoder_output)
        decoder = build_vae_decoder(latent_dim=args.latent_dim, output_shape=x_train.shape[1:])
        vae = VAE(encoder, decoder, beta=args.beta)
        vae.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    history = run.fit(vae, x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                      validation_split=0.1)
    return encoder, decoder, vae, history


def save_latent_figures(run, args, encoder, decoder, x_test, y_test):
    """latent_scatter.png, latent_grid.png and interpolation.png (between the first test digit and the
    first of another class)."""
    z_mean = encoder.predict(x_test, verbose=0)[0]
    plot_latent_scatter(z_mean, y_test, run.path("latent_scatter.png"),
                        title="z_mean of the test images (colour = class)")
    artifacts.image_grid(latent_grid(decoder, n=args.grid_size), run.path("latent_grid.png"), ncols=args.grid_size,
                         value_range=(0.0, 1.0), tiled=True, title="decoded latent grid, z[0], z[1] in [-3, 3]")
    first = 0
    second = int(np.flatnonzero(y_test != y_test[first])[0])  # a test digit of another class
    path = interpolate(z_mean[first], z_mean[second], steps=10)
    artifacts.image_grid(decoder.predict(path, verbose=0), run.path("interpolation.png"), ncols=10,
                         value_range=(0.0, 1.0), tiled=True,
                         title=f"z_t = (1 - t) z1 + t z2: class {y_test[first]} -> class {y_test[second]}")


def main(argv=None):
    parser = training.lab_parser("18", epochs=30, batch_size=128, datasets=["mnist", "fashion_mnist"],
                                 learning_rate=(1e-3, "Adam"))
    parser.add_argument("--latent-dim", type=positive_int, default=2,
                        help="latent dimensions (2 so the latent space can be drawn)")
    parser.add_argument("--beta", type=nonnegative_float, default=1.0,
                        help="weight of the KL term (1 = the ELBO; > 1 a beta-VAE)")
    parser.add_argument("--grid-size", type=positive_int, default=15)
    parser.add_argument("--encoder-output", choices=ENCODER_OUTPUTS, default="log_var",
                        help="the encoder's second head: log_var (log sigma^2, unconstrained; default) or "
                             "sigma (the notes' encoder, 003 §5.2.1: softplus sigma, converted to log sigma^2)")
    args = training.parse_lab_args(parser, argv)
    if args.smoke:
        args.grid_size = min(args.grid_size, SMOKE_GRID_SIZE)
    with training.LabRun("18", args) as run:
        (x_train, _), (x_test, y_test) = run.load_splits()
        x_train, x_test = scale(x_train), scale(x_test)
        encoder, decoder, vae, history = train_vae(run, args, x_train)
        test = vae.evaluate(x_test, batch_size=args.batch_size, verbose=0, return_dict=True)
        save_latent_figures(run, args, encoder, decoder, x_test, y_test)
        run.save_model(decoder, "vae_decoder.h5")
        run.save_model(encoder, "vae_encoder.h5")
        run.finish(metrics={f"test_{key}": value for key, value in test.items()}, model=encoder,
                   decoder_parameters=int(decoder.count_params()), latent_dim=args.latent_dim, beta=args.beta,
                   encoder_output=args.encoder_output,
                   final_kl_loss=history.history["kl_loss"][-1])


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
