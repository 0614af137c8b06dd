"""Lab 15 — conditional GAN (Unit IV, "Types of GANs: CGAN"; handbook 003 ch. 4 §7.2; slides 004).

The class label y is fed to BOTH networks: G(z, y) draws a digit of class y, D(x, y) judges "a real
image of class y?". Training is lab 14's ``train_step`` with the labels passed along
(``ConditionalGAN``); fakes are generated for the labels of the real batch.

What to observe:
  * class_samples.png: one row per class, ten noise vectors per row: after training each row shows
    its own digit, and the columns (same z across rows) share style such as slant and thickness.
  * samples_epoch_XXX.png: the same grid after each epoch.
  * run.json: ``conditional_accuracy`` = how often the package's MNIST classifier recognises the
    requested class in the generated images (chance = 0.1), plus the Fréchet distance and the
    Inception-Score-style score of lab 14 (small MNIST classifier, NOT the Inception network).

Outputs (saved_models/15_conditional_gan/): cgan_generator.h5, cgan_discriminator.h5,
class_samples.png, samples_epoch_XXX.png, losses.png, learning_curves.png, history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import training
from dlcourse.data import class_names, pipeline
from dlcourse.errors import report_user_errors
from dlcourse.generative.callbacks import SampleGridCallback, fixed_noise, plot_gan_losses, save_image_grid
from dlcourse.generative.gan import METRIC_NAMES, ConditionalGAN, add_training_arguments
from dlcourse.generative.scores import SCORE_NOTE, score_images, to_signed_unit, train_feature_classifier
from dlcourse.models.gan import build_cgan_discriminator, build_cgan_generator

NUM_CLASSES = 10


def main(argv=None):
    parser = training.lab_parser("15", epochs=20, batch_size=128)
    add_training_arguments(parser)
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("15", args) as run:
        x_train, y_train = run.load_data("train")
        x_test, _ = run.load_data("test")
        score_samples = args.score_samples
        if args.smoke:
            x_train, y_train, score_samples = x_train[:128], y_train[:128], 100
            args.batch_size = min(args.batch_size, 32)
        with run.strategy.scope():
            generator = build_cgan_generator(latent_dim=args.latent_dim, num_classes=NUM_CLASSES)
            discriminator = build_cgan_discriminator(num_classes=NUM_CLASSES)
            gan = ConditionalGAN(generator, discriminator, seed=args.seed)
            gan.compile(d_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=0.5),
                        g_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=0.5),
                        generator_loss=args.generator_loss, real_label=args.real_label)
        dataset = pipeline(to_signed_unit(x_train), y_train.astype("int32"), batch_size=args.batch_size,
                           seed=args.seed, drop_remainder=True)
        grid_labels = np.repeat(np.arange(NUM_CLASSES), NUM_CLASSES)  # rows = classes
        grids = SampleGridCallback(directory=run.out_dir, num_samples=len(grid_labels), ncols=NUM_CLASSES,
                                   labels=grid_labels, seed=args.seed)
        history = run.fit(gan, dataset, epochs=args.epochs, callbacks=[grids], shuffle=False)  # pipeline shuffles
        plot_gan_losses(history, run.path("losses.png"), title="Lab 15: conditional GAN losses")
        # One noise vector per column, shared by all rows: only the label changes down a column.
        column_noise = np.tile(fixed_noise(NUM_CLASSES, args.latent_dim, args.seed), (NUM_CLASSES, 1))
        class_grid = generator.predict([column_noise, grid_labels.reshape(-1, 1)], verbose=0)
        save_image_grid(class_grid, run.path("class_samples.png"), ncols=NUM_CLASSES,
                        row_labels=class_names(run.dataset), title="rows: requested class")

        classifier = train_feature_classifier(x_train, y_train, epochs=1 if args.smoke else 3, seed=args.seed)
        labels = np.arange(score_samples) % NUM_CLASSES
        generated = generator.predict([fixed_noise(score_samples, args.latent_dim, args.seed + 1),
                                       labels.reshape(-1, 1)], verbose=0)
        scores = score_images(classifier, x_test[:score_samples], generated)
        predicted = np.argmax(classifier.predict(generated, verbose=0), axis=1)
        scores["conditional_accuracy"] = float(np.mean(predicted == labels))

        run.save_model(discriminator, "cgan_discriminator.h5")
        run.save_model(generator, "cgan_generator.h5")
        final = {key: history.history[key][-1] for key in METRIC_NAMES}
        run.finish(metrics={**final, **scores}, model=generator, generator_loss=args.generator_loss,
                   real_label=args.real_label, latent_dim=args.latent_dim,
                   sample_grids=[path.name for path in grids.saved],
                   score_note=SCORE_NOTE)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
