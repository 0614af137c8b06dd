"""Lab 18 — a variational autoencoder with a reparameterisation (Sampling) layer (Unit V, "Variational
AE"; handbook 003, chapter 5).

The encoder outputs a mean and a log-variance per latent dimension; the Sampling layer draws
z = mu + exp(0.5 log sigma^2) * epsilon so gradients flow through mu and sigma (003 §2.3). VAE.train_step
minimises the negative ELBO (003 §2.2): binary cross-entropy summed over the 784 pixels plus
beta * KL(q(z|x) || N(0, I)) in closed form, 1/2 sum(sigma^2 + mu^2 - 1 - log sigma^2) (not printed in
the notes). ``--beta 4`` trains a beta-VAE (003 §3.3). Validation uses 10% of the training set.

What to observe:
  * latent_scatter.png: the test digits' z_mean in the 2-D latent space, coloured by class: the classes
    form clusters around the origin although the VAE never saw a label.
  * latent_grid.png: decoding a 15x15 grid of z in [-3, 3]^2: digits change smoothly into each other,
    with no "holes" (003 §3.1); every z near the prior decodes to a plausible digit.
  * interpolation.png: z_t = (1 - t) z1 + t z2 between two test digits (003 §3.2) morphs one into the other.
  * learning_curves.png / run.json: reconstruction_loss falls while kl_loss rises from 0: the trade-off
    the ELBO makes; a larger beta gives a smaller KL and blurrier reconstructions.

Outputs (saved_models/18_vae/): vae_encoder.h5, vae_decoder.h5, latent_scatter.png, latent_grid.png,
interpolation.png, learning_curves.png, history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import training
from dlcourse.errors import report_user_errors
from dlcourse.generative.callbacks import save_image_grid
from dlcourse.generative.vae import VAE, interpolate, latent_grid, plot_latent_scatter
from dlcourse.models.vae import build_vae_decoder, build_vae_encoder


def main(argv=None):
    parser = training.lab_parser("18", epochs=30, batch_size=128, datasets=["mnist", "fashion_mnist"])
    parser.add_argument("--learning-rate", type=training.positive_float, default=1e-3)
    parser.add_argument("--latent-dim", type=training.positive_int, default=2,
                        help="latent dimensions (2 so the latent space can be drawn)")
    parser.add_argument("--beta", type=training.nonnegative_float, default=1.0,
                        help="weight of the KL term (1 = the ELBO; > 1 a beta-VAE)")
    parser.add_argument("--grid-size", type=training.positive_int, default=15)
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("18", args) as run:
        x_train, _ = run.load_data("train")
        x_test, y_test = run.load_data("test")
        if args.smoke:
            x_train, x_test, y_test = x_train[:256], x_test[:128], y_test[:128]
            args.grid_size = min(args.grid_size, 5)
        x_train = x_train.astype("float32") / 255.0  # (N, 28, 28, 1) in [0, 1]
        x_test = x_test.astype("float32") / 255.0

        with run.strategy.scope():
            encoder = build_vae_encoder(input_shape=x_train.shape[1:], latent_dim=args.latent_dim, seed=args.seed)
            decoder = build_vae_decoder(latent_dim=args.latent_dim, output_shape=x_train.shape[1:])
            vae = VAE(encoder, decoder, beta=args.beta)
            vae.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        history = run.fit(vae, x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                          validation_split=0.1)
        test = vae.evaluate(x_test, batch_size=args.batch_size, verbose=0, return_dict=True)

        z_mean = encoder.predict(x_test, verbose=0)[0]
        plot_latent_scatter(z_mean, y_test, run.path("latent_scatter.png"),
                            title="z_mean of the test images (colour = class)")
        save_image_grid(latent_grid(decoder, n=args.grid_size), run.path("latent_grid.png"), ncols=args.grid_size,
                        value_range=(0.0, 1.0), title="decoded latent grid, z[0], z[1] in [-3, 3]")
        first = 0
        second = int(np.flatnonzero(y_test != y_test[first])[0])  # a test digit of another class
        path = interpolate(z_mean[first], z_mean[second], steps=10)
        save_image_grid(decoder.predict(path, verbose=0), run.path("interpolation.png"), ncols=10,
                        value_range=(0.0, 1.0),
                        title=f"z_t = (1 - t) z1 + t z2: class {y_test[first]} -> class {y_test[second]}")

        run.save_model(decoder, "vae_decoder.h5")
        run.save_model(encoder, "vae_encoder.h5")
        run.finish(metrics={f"test_{key}": value for key, value in test.items()}, model=encoder,
                   decoder_parameters=int(decoder.count_params()), latent_dim=args.latent_dim, beta=args.beta,
                   final_kl_loss=history.history["kl_loss"][-1])


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
