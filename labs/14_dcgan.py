"""Lab 14 — DCGAN with a custom train_step (Unit IV, "Types of GANs: DCGAN"; handbook 003 ch. 4).

A generator G (noise z ~ N(0, I) -> 28x28 image in [-1, 1]) and a discriminator D (image -> probability
that it is real) are trained against each other on MNIST by ``GAN.train_step``: D minimises the notes'
J_D on a real and a generated batch, then G minimises J_G = -mean log D(G(z)) (non-saturating; pass
``--generator-loss minimax`` for the saturating log(1 - D(G(z))) of V(D, G)). ``--real-label 0.9`` is
the handbook's one-sided label smoothing; ``--model mlp`` trains the notes' "vanilla GAN" (two MLPs).

What to observe:
  * samples_epoch_001.png, samples_epoch_002.png, ...: the SAME 64 noise vectors every epoch; blobs
    become strokes, then recognisable digits after about 20 epochs (as in the keras.io DCGAN example).
  * losses.png: J_D and J_G do not fall like a classifier's loss. After a few epochs of tug-of-war they
    settle and oscillate (digits sample, 60 epochs: J_D ~ 0.9, J_G ~ 1.3, mean D(x) ~ 0.65, D(G(z)) ~ 0.35),
    short of the Nash values ln 4 = 1.386, ln 2 = 0.693 and D = 1/2 (dotted). J_D near 0 with D(G(z))
    near 0 means D has won; with --generator-loss minimax G then gets almost no gradient.
  * run.json: a Fréchet distance and an Inception-Score-style score computed with a small MNIST
    classifier the package trains (NOT the Inception network: not comparable with published FID/IS).

Outputs (saved_models/14_dcgan/): dcgan_generator.h5, dcgan_discriminator.h5, samples_epoch_XXX.png,
losses.png, learning_curves.png, history.csv, run.json.
"""

import sys

import keras

from dlcourse import training
from dlcourse.data import pipeline
from dlcourse.errors import report_user_errors
from dlcourse.generative.callbacks import SampleGridCallback, fixed_noise, plot_gan_losses
from dlcourse.generative.gan import GAN, METRIC_NAMES, add_training_arguments
from dlcourse.generative.scores import SCORE_NOTE, score_images, to_signed_unit, train_feature_classifier
from dlcourse.models.gan import (build_dcgan_discriminator, build_dcgan_generator, build_mlp_discriminator,
                                 build_mlp_generator)

MODELS = {"dcgan": (build_dcgan_generator, build_dcgan_discriminator),
          "mlp": (build_mlp_generator, build_mlp_discriminator)}


def main(argv=None):
    parser = training.lab_parser("14", epochs=20, batch_size=128)
    parser.add_argument("--model", choices=sorted(MODELS), default="dcgan",
                        help="dcgan (convolutional, default) or mlp (the notes' vanilla GAN)")
    add_training_arguments(parser)
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("14", args) as run:
        x_train, y_train = run.load_data("train")
        x_test, _ = run.load_data("test")
        score_samples = args.score_samples
        if args.smoke:
            x_train, y_train, score_samples = x_train[:128], y_train[:128], 64
            args.batch_size = min(args.batch_size, 32)
        images = to_signed_unit(x_train)  # tanh range [-1, 1]
        build_generator, build_discriminator = MODELS[args.model]
        with run.strategy.scope():
            generator = build_generator(latent_dim=args.latent_dim, name=f"{args.model}_generator")
            discriminator = build_discriminator(name=f"{args.model}_discriminator")
            gan = GAN(generator, discriminator, seed=args.seed)
            gan.compile(d_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=0.5),
                        g_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=0.5),
                        generator_loss=args.generator_loss, real_label=args.real_label)
        dataset = pipeline(images, batch_size=args.batch_size, seed=args.seed, drop_remainder=True)
        grids = SampleGridCallback(directory=run.out_dir, num_samples=64, ncols=8, seed=args.seed)
        history = run.fit(gan, dataset, epochs=args.epochs, callbacks=[grids], shuffle=False)  # pipeline shuffles
        plot_gan_losses(history, run.path("losses.png"), title=f"Lab 14: {args.model.upper()} losses")

        classifier = train_feature_classifier(x_train, y_train, epochs=1 if args.smoke else 3, seed=args.seed)
        generated = generator.predict(fixed_noise(score_samples, args.latent_dim, args.seed + 1), verbose=0)
        scores = score_images(classifier, x_test[:score_samples], generated)

        run.save_model(discriminator, f"{args.model}_discriminator.h5")
        run.save_model(generator, f"{args.model}_generator.h5")
        final = {key: history.history[key][-1] for key in METRIC_NAMES}
        run.finish(metrics={**final, **scores}, model=generator, generator_loss=args.generator_loss,
                   real_label=args.real_label, latent_dim=args.latent_dim,
                   sample_grids=[path.name for path in grids.saved],
                   score_note=SCORE_NOTE)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
