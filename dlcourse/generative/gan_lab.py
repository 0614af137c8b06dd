"""What the two GAN labs share (14 DCGAN, 15 conditional GAN): flags, optimizers, training with sample
grids, scores and the run record.

Each lab keeps what differs: its networks, its training wrapper (:class:`~dlcourse.generative.gan.GAN`
or :class:`~dlcourse.generative.gan.ConditionalGAN`) and its own figures. Both read::

    parser = training.lab_parser("14", epochs=20, batch_size=128, learning_rate=gan_lab.LEARNING_RATE)
    gan_lab.add_arguments(parser)
    args = gan_lab.parse_args(parser, argv)
    with training.LabRun("14", args) as run:
        (x_train, y_train), (x_test, _) = run.load_splits()
        with run.strategy.scope():
            gan = gan_lab.compile_gan(GAN(generator, discriminator, seed=args.seed), args)
        history, grids = gan_lab.train(run, gan, x_train, title="Lab 14: DCGAN losses")
        scores = gan_lab.score(run, gan.generator, x_train, y_train, x_test)
        gan_lab.finish(run, gan, history, grids, scores, prefix="dcgan")

Lab 26 (BiGAN) uses the same set-up with its encoder added. The scores (:mod:`dlcourse.generative.scores`) compare ``--score-samples`` images generated from
``fixed_noise(score_samples, latent_dim, seed + 1)`` with as many real test images, through a classifier
trained on the lab's training images; run.json's ``scoring`` records those settings, so a saved
generator can be re-scored.
"""

import keras
import numpy as np

from dlcourse import training
from dlcourse.arguments import positive_int, probability_label
from dlcourse.data import pipeline
from dlcourse.generative.callbacks import SampleGridCallback, fixed_noise, plot_gan_losses
from dlcourse.generative.gan import GENERATOR_LOSSES, METRIC_NAMES
from dlcourse.generative.scores import SCORE_NOTE, score_images, to_signed_unit, train_feature_classifier

__all__ = ["LEARNING_RATE", "add_arguments", "parse_args", "compile_gan", "train", "score", "finish"]

LEARNING_RATE = (2e-4, "Adam of both networks, beta_1 = 0.5, as in the DCGAN paper")
BETA_1 = 0.5
SMOKE_BATCH_SIZE = 32  # a --smoke run's 256 images: 8 steps per epoch rather than 2
SMOKE_SCORE_SAMPLES = 100  # ten per class for lab 15's conditional accuracy
GRID_SAMPLES = 64  # images in an unconditional samples_epoch_XXX.png (8 x 8)


def add_arguments(parser, *, score_samples=2000, latent_dim=100):
    """The GAN labs' own flags: latent size, generator loss, real label and scored images.

    (``--learning-rate`` comes from :func:`dlcourse.training.lab_parser` with :data:`LEARNING_RATE`.)
    """
    parser.add_argument("--latent-dim", type=positive_int, default=latent_dim,
                        help="noise dimensions (default %(default)s)")
    parser.add_argument("--generator-loss", choices=GENERATOR_LOSSES, default="non_saturating",
                        help="non_saturating: -log D(G(z)) (notes 001/002); minimax: log(1 - D(G(z))) (003)")
    parser.add_argument("--real-label", type=probability_label, default=1.0,
                        help="D's target for real images; 0.9 = the handbook's one-sided label smoothing")
    parser.add_argument("--score-samples", type=positive_int, default=score_samples,
                        help="generated and real test images used for the scores (default %(default)s)")
    return parser


def parse_args(parser, argv=None):
    """:func:`dlcourse.training.parse_lab_args`; a ``--smoke`` run then also takes batches of at most
    32 and scores at most 100 images."""
    args = training.parse_lab_args(parser, argv)
    if args.smoke:
        args.batch_size = min(args.batch_size, SMOKE_BATCH_SIZE)
        args.score_samples = min(args.score_samples, SMOKE_SCORE_SAMPLES)
    return args


def compile_gan(gan, args):
    """Compile ``gan`` (under the run's strategy scope) with Adam(``--learning-rate``, beta_1 = 0.5) for
    each network, ``--generator-loss`` and ``--real-label``; returns it."""
    gan.compile(d_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=BETA_1),
                g_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=BETA_1),
                generator_loss=args.generator_loss, real_label=args.real_label)
    return gan


def train(run, gan, images, labels=None, *, title, grid_labels=None, ncols=8):
    """Fit ``gan`` on uint8 ``images`` (scaled to the generators' tanh range [-1, 1]) and, for a
    conditional GAN, their ``labels``; a grid of fixed-noise samples after every epoch
    (``samples_epoch_XXX.png``, one image per entry of ``grid_labels`` when given), then ``losses.png``.

    Returns ``(history, grids)`` (``grids.saved``: the grid files written).
    """
    args = run.args
    labelled = [] if labels is None else [np.asarray(labels).astype("int32")]
    dataset = pipeline(to_signed_unit(images), *labelled, batch_size=args.batch_size, seed=args.seed,
                       drop_remainder=True)
    samples = GRID_SAMPLES if grid_labels is None else len(grid_labels)
    grids = SampleGridCallback(directory=run.out_dir, num_samples=samples, ncols=ncols, labels=grid_labels,
                               seed=args.seed)
    history = run.fit(gan, dataset, epochs=args.epochs, callbacks=[grids], shuffle=False)  # the pipeline shuffles
    plot_gan_losses(history, run.path("losses.png"), title=title)
    return history, grids


def scoring_settings(run):
    """How the scores were computed (run.json ``scoring``): enough to re-score a saved generator."""
    args = run.args
    return {"samples": args.score_samples, "noise_seed": args.seed + 1, "classifier_seed": args.seed,
            "classifier_epochs": 1 if args.smoke else 3}


def score(run, generator, x_train, y_train, x_test, *, num_classes=None):
    """Fréchet classifier distance and classifier scores of ``--score-samples`` generated images
    against as many real test images (:func:`dlcourse.generative.scores.score_images`).

    With ``num_classes`` the generator is conditional: image ``i`` is generated for class
    ``i % num_classes`` and ``conditional_accuracy`` is how often the classifier recognises the
    requested class (chance = 1 / num_classes).
    """
    settings = scoring_settings(run)
    classifier = train_feature_classifier(x_train, y_train, epochs=settings["classifier_epochs"],
                                          seed=settings["classifier_seed"])
    noise = fixed_noise(settings["samples"], run.args.latent_dim, settings["noise_seed"])
    labels = None if num_classes is None else np.arange(settings["samples"]) % num_classes
    generated = generator.predict(noise if labels is None else [noise, labels.reshape(-1, 1)], verbose=0)
    scores = score_images(classifier, x_test[:settings["samples"]], generated)
    if labels is not None:
        predicted = np.argmax(classifier.predict(generated, verbose=0), axis=1)
        scores["conditional_accuracy"] = float(np.mean(predicted == labels))
    return scores


def finish(run, gan, history, grids, scores, *, prefix):
    """Save ``<prefix>_discriminator.h5`` and ``<prefix>_generator.h5``, then run.json: the last
    epoch's losses and mean scores (``d_loss``, ``g_loss``, ``real_score``, ``fake_score``) and ``scores``."""
    args = run.args
    run.save_model(gan.discriminator, f"{prefix}_discriminator.h5")
    run.save_model(gan.generator, f"{prefix}_generator.h5")
    final = {key: history.history[key][-1] for key in METRIC_NAMES}
    return run.finish(metrics={**final, **scores}, model=gan.generator, generator_loss=args.generator_loss,
                      real_label=args.real_label, latent_dim=args.latent_dim,
                      sample_grids=[path.name for path in grids.saved], score_note=SCORE_NOTE,
                      scoring=scoring_settings(run))
