"""Lab 14 — DCGAN with a custom train_step (Unit IV, "Types of GANs: DCGAN"; handbook 003 ch. 4).

A generator G (noise z ~ N(0, I) -> 28x28 image in [-1, 1]) and a discriminator D (image -> probability
that it is real) are trained against each other on MNIST by ``GAN.train_step``: D minimises the notes'
J_D on a real and a generated batch, then G minimises J_G = -mean log D(G(z)) (non-saturating; pass
``--generator-loss minimax`` for the saturating log(1 - D(G(z))) of V(D, G): the documents use both
without saying so, docs/SOURCES.md, errata A40 and B47). ``--real-label 0.9`` is the handbook's
one-sided label smoothing (003 §4.6.2, erratum B38); ``--model mlp`` trains the notes' "vanilla GAN"
(two MLPs). The notes give no layer sizes; the DCGAN's are the DCGAN paper's (erratum B48).
The set-up lab 15 shares (flags, optimizers, sample grids, scores) is ``dlcourse/generative/gan_lab.py``.

What to observe:
  * samples_epoch_001.png, samples_epoch_002.png, ...: the SAME 64 noise vectors every epoch; blobs
    become strokes, then recognisable digits after about 20 epochs (as in the keras.io DCGAN example).
  * losses.png: J_D and J_G do not fall like a classifier's loss. After a few epochs of tug-of-war they
    settle and oscillate (digits sample, 60 epochs: J_D ~ 0.9, J_G ~ 1.3, mean D(x) ~ 0.65, D(G(z)) ~ 0.35),
    short of the Nash values ln 4 = 1.386, ln 2 = 0.693 and D = 1/2 (dotted). J_D near 0 with D(G(z))
    near 0 means D has won; with --generator-loss minimax G then gets almost no gradient.
  * run.json: a Fréchet distance and an Inception-Score-style score computed with a small MNIST
    classifier the package trains (NOT the Inception network: not comparable with published FID/IS).

Outputs (in <out>/14_dcgan/): dcgan_generator.h5, dcgan_discriminator.h5 (mlp_*.h5 with ``--model mlp``),
samples_epoch_XXX.png, losses.png, learning_curves.png, history.csv, run.json.
"""

import sys

from dlcourse import training
from dlcourse.errors import report_user_errors
from dlcourse.generative import gan_lab
from dlcourse.generative.gan import GAN
from dlcourse.models.gan import (build_dcgan_discriminator, build_dcgan_generator, build_mlp_discriminator,
                                 build_mlp_generator)

MODELS = {"dcgan": (build_dcgan_generator, build_dcgan_discriminator),
          "mlp": (build_mlp_generator, build_mlp_discriminator)}


def build_gan(run, args):
    """``--model``'s generator and discriminator in the GAN wrapper, compiled under the run's strategy."""
    build_generator, build_discriminator = MODELS[args.model]
    with run.strategy.scope():
        generator = build_generator(latent_dim=args.latent_dim, name=f"{args.model}_generator")
        discriminator = build_discriminator(name=f"{args.model}_discriminator")
        return gan_lab.compile_gan(GAN(generator, discriminator, seed=args.seed), args)


def main(argv=None):
    parser = training.lab_parser("14", epochs=20, batch_size=128, learning_rate=gan_lab.LEARNING_RATE)
    parser.add_argument("--model", choices=sorted(MODELS), default="dcgan",
                        help="dcgan (convolutional, default) or mlp (the notes' vanilla GAN)")
    gan_lab.add_arguments(parser)
    args = gan_lab.parse_args(parser, argv)
    with training.LabRun("14", args) as run:
        (x_train, y_train), (x_test, _) = run.load_splits()
        gan = build_gan(run, args)
        history, grids = gan_lab.train(run, gan, x_train, title=f"Lab 14: {args.model.upper()} losses")
        scores = gan_lab.score(run, gan.generator, x_train, y_train, x_test)
        gan_lab.finish(run, gan, history, grids, scores, prefix=args.model)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
