"""Lab 15 — conditional GAN (Unit IV, "Types of GANs: CGAN"; handbook 003 ch. 4 §7.2; slides 004).

The class label y is fed to BOTH networks: G(z, y) draws a digit of class y, D(x, y) judges "a real
image of class y?". Training is lab 14's ``train_step`` with the labels passed along
(``ConditionalGAN``); fakes are generated for the labels of the real batch. Flags, optimizers, sample
grids and scores are lab 14's (``dlcourse/generative/gan_lab.py``).

What to observe:
  * class_samples.png: one row per class, ten noise vectors per row: after training each row shows
    its own digit, and the columns (same z across rows) share style such as slant and thickness.
  * samples_epoch_XXX.png: the same grid after each epoch.
  * run.json: ``conditional_accuracy`` = how often the package's MNIST classifier recognises the
    requested class in the generated images (chance = 0.1), plus the Fréchet distance and the
    Inception-Score-style score of lab 14 (small MNIST classifier, NOT the Inception network).

Outputs (in <out>/15_conditional_gan/): cgan_generator.h5, cgan_discriminator.h5,
class_samples.png, samples_epoch_XXX.png, losses.png, learning_curves.png, history.csv, run.json.
"""

import sys

import numpy as np

from dlcourse import artifacts, training
from dlcourse.data import class_names
from dlcourse.errors import report_user_errors
from dlcourse.generative import gan_lab
from dlcourse.generative.callbacks import fixed_noise
from dlcourse.generative.gan import ConditionalGAN
from dlcourse.models.gan import build_cgan_discriminator, build_cgan_generator

NUM_CLASSES = 10
GRID_LABELS = np.repeat(np.arange(NUM_CLASSES), NUM_CLASSES)  # the grids' rows are the classes


def build_gan(run, args):
    """The conditional generator and discriminator in the ConditionalGAN wrapper, compiled under the run's strategy."""
    with run.strategy.scope():
        generator = build_cgan_generator(latent_dim=args.latent_dim, num_classes=NUM_CLASSES)
        discriminator = build_cgan_discriminator(num_classes=NUM_CLASSES)
        return gan_lab.compile_gan(ConditionalGAN(generator, discriminator, seed=args.seed), args)


def save_class_samples(run, generator):
    """class_samples.png: one noise vector per column, shared by all rows, so only the label changes
    down a column."""
    column_noise = np.tile(fixed_noise(NUM_CLASSES, run.args.latent_dim, run.args.seed), (NUM_CLASSES, 1))
    class_grid = generator.predict([column_noise, GRID_LABELS.reshape(-1, 1)], verbose=0)
    artifacts.image_grid(class_grid, run.path("class_samples.png"), ncols=NUM_CLASSES, value_range=(-1.0, 1.0),
                         tiled=True, row_titles=class_names(run.dataset), title="rows: requested class")


def main(argv=None):
    parser = training.lab_parser("15", epochs=20, batch_size=128, learning_rate=gan_lab.LEARNING_RATE)
    gan_lab.add_arguments(parser)
    args = gan_lab.parse_args(parser, argv)
    with training.LabRun("15", args) as run:
        (x_train, y_train), (x_test, _) = run.load_splits()
        gan = build_gan(run, args)
        history, grids = gan_lab.train(run, gan, x_train, y_train, grid_labels=GRID_LABELS, ncols=NUM_CLASSES,
                                       title="Lab 15: conditional GAN losses")
        save_class_samples(run, gan.generator)
        scores = gan_lab.score(run, gan.generator, x_train, y_train, x_test, num_classes=NUM_CLASSES)
        gan_lab.finish(run, gan, history, grids, scores, prefix="cgan")


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
