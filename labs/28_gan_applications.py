"""Lab 28 — two applications of GANs: data augmentation and a two-stage (StackGAN-style) generator (Unit IV, "Applications of GANs", 000 L1919-L1931; 003 §9; 004 "StackGAN").

The notes list eighteen applications of GANs (000 L1919 onwards), the handbook its own list (003 §9,
"Synthesis of realistic data for dataset augmentation", 003 L1350) and the slides theirs (004
"Application of GANs": image-to-image and text-to-image translation, SRGAN, data augmentation, ...).
This lab builds two of them at the embedded digits' scale, with Unit IV's conditional GAN (lab 15's
``ConditionalGAN`` wrapper, ``build_cgan_generator`` / ``build_cgan_discriminator``, Adam(2e-4,
beta_1 = 0.5), non-saturating J_G):

1. Data augmentation ("1. Generate Examples for Image Datasets", 000 L1927-L1929: "GAN-generated
   datasets also help in rare-class recognition problems"). Only ``--labelled`` training digits (100,
   ten per class) keep their labels. A small conditional GAN is trained on exactly those digits and
   ``--synthetic-per-real`` generated digits per real one (4: 400 more) are added, labelled with the
   class they were generated for. The same small CNN (``build_augmentation_classifier``) is trained
   on the real digits alone (repeated to the same size, so every variant sees as many images and
   steps), on real + generated, and on real + only the generated digits that the baseline classifier
   assigns to the requested class (picked from three times as many; a common clean-up that uses no
   extra labels); all are scored on the whole test split. The notes promise better
   generalisation; the GAN here learns from the SAME 100 digits, so it adds no new information
   (docs/SOURCES.md, erratum B74): the measured difference is reported as it comes, positive,
   zero or negative.
2. Two stages (004: "Stage-I ... a low-resolution image that represents the basic layout"; "Stage-II
   ... Input: The low-resolution image from Stage-I and the original text embedding"). Stage 1 draws
   14x14 digits from (z, class) (``build_stage1_generator``), trained on the training digits shrunk
   by 2x2 averaging; then stage 2 (``build_stage2_generator``) is trained, with stage 1 frozen, to
   turn the (upsampled) 14x14 drawing plus the class into a 28x28 digit
   (``dlcourse.generative.stacked.StageTwoGAN``). The class label stands in for StackGAN's text
   embedding and 14/28 pixels for 64/256 (docs/SOURCES.md, erratum B75).

What to observe:
  * augmentation.csv / run.json: test accuracy without generated digits, with them and with only
    those the baseline classifier assigns to the requested class (``test_accuracy_baseline``,
    ``test_accuracy_augmented``, ``test_accuracy_filtered``, ``test_accuracy_difference[_filtered]``).
    It is a measurement, not a promise: on the sample the generated digits LOWER the accuracy.
    ``conditional_accuracy_augmentation`` says how often a classifier trained on ALL training digits
    recognises the requested class in the generated digits: low values mean the "extra data" is
    largely mislabelled, which the filter (``acceptance_rate_filter``) partly repairs.
  * stages.png: per class (rows), pairs of stage-1 (14x14, shown enlarged) and stage-2 (28x28)
    samples from the same noise: stage 2 keeps stage 1's rough layout, draws finer strokes and,
    because it sees the label too, often corrects the class.
  * run.json: ``conditional_accuracy_stage1`` and ``conditional_accuracy_stage2`` (stage-1 images
    enlarged to 28x28 for the classifier).

Reference (on the sample, ``--dataset sample``, default settings: 20 epochs of each GAN, 40 classifier
epochs, seed 42; 231 s of training on a 2-core CPU): test accuracy on the 360 test digits with
100 labels 0.861 (baseline), 0.689 with 400 unfiltered generated digits (difference -0.172: the
augmentation HURT), 0.842 with 400 filtered ones (-0.019; the filter accepted 22% of the generated
digits). The augmentation GAN largely ignores the label (conditional accuracy 0.19, chance 0.1):
100 digits are too few for it to learn the condition in 1240 updates. Two stages: conditional
accuracy 0.33 for stage 1 (14x14) and 0.55 for stage 2 (28x28), final d_loss 0.82 / 0.39.

Outputs (in <out>/28_gan_applications/): augmentation.csv, classifier_baseline.h5,
classifier_augmented.h5, classifier_filtered.h5, augmentation_generator.h5, stage1_generator.h5, stage2_generator.h5,
stage1_discriminator.h5, stage2_discriminator.h5, stages.png, augmentation_samples.png,
history_<model>.csv, learning_curves_<model>.png, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, training
from dlcourse.arguments import positive_int
from dlcourse.data import pipeline
from dlcourse.errors import UserError, report_user_errors
from dlcourse.generative import gan_lab
from dlcourse.generative.callbacks import fixed_noise
from dlcourse.generative.gan import ConditionalGAN
from dlcourse.generative.scores import to_signed_unit, train_feature_classifier
from dlcourse.generative.stacked import StageTwoGAN
from dlcourse.models.gan import build_cgan_discriminator, build_cgan_generator
from dlcourse.models.gan_applications import (build_augmentation_classifier, build_stage1_generator,
                                              build_stage2_generator)

NUM_CLASSES = 10
GAN_REPEATS = 20  # the labelled digits are passed 20 times per epoch of the augmentation GAN (once with --smoke)
FILTER_POOL = 3  # the filter picks from three times as many generated digits as it keeps
STAGE_COLUMNS = 4  # noise vectors per class in stages.png (each a stage-1 / stage-2 pair)
COLUMNS = ["variant", "real_images", "generated_images", "training_images", "test_accuracy", "test_loss"]


def labelled_subset(x_train, y_train, count, seed):
    """``count`` training digits, the same number of each class, drawn with ``seed``."""
    if count % NUM_CLASSES:
        raise UserError(f"--labelled {count} is not a multiple of {NUM_CLASSES}; pass e.g. --labelled 100")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(NUM_CLASSES):
        indices = np.flatnonzero(y_train == label)
        if len(indices) < count // NUM_CLASSES:
            raise UserError(f"only {len(indices)} training digits of class {label}; pass a smaller --labelled")
        chosen.append(rng.choice(indices, count // NUM_CLASSES, replace=False))
    chosen = np.sort(np.concatenate(chosen))
    return x_train[chosen], y_train[chosen]


def shrink(images):
    """uint8 ``(n, 28, 28, 1)`` -> ``(n, 14, 14, 1)`` in [-1, 1] by 2x2 averaging (stage 1's real images)."""
    x = to_signed_unit(images)
    n, height, width, channels = x.shape
    return x.reshape(n, height // 2, 2, width // 2, 2, channels).mean(axis=(2, 4))


def enlarge(images):
    """Nearest-neighbour 2x enlargement (stage-1 images shown and scored at 28x28)."""
    return np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)


def fit_gan(run, gan, images, labels, name):
    """Fit a conditional GAN wrapper on ``images`` in [-1, 1]; history_<name>.csv."""
    args = run.args
    with run.strategy.scope():
        gan_lab.compile_gan(gan, args)
    dataset = pipeline(images, labels.astype("int32"), batch_size=args.batch_size, seed=args.seed,
                       drop_remainder=True)
    return run.fit(gan, dataset, epochs=args.epochs, shuffle=False, history_name=f"history_{name}.csv",
                   curves_name=f"learning_curves_{name}.png")


def augmentation_gan(run, x_labelled, y_labelled):
    """Lab 15's conditional GAN, made small, trained on the labelled digits only."""
    args = run.args
    with run.strategy.scope():
        generator = build_cgan_generator(latent_dim=args.latent_dim, embedding_dim=10, filters=(64, 32, 16),
                                         name="augmentation_generator")
        discriminator = build_cgan_discriminator(embedding_dim=10, filters=(32, 64),
                                                 name="augmentation_discriminator")
        gan = ConditionalGAN(generator, discriminator, seed=args.seed)
    repeats = 1 if args.smoke else GAN_REPEATS
    images = np.tile(to_signed_unit(x_labelled), (repeats, 1, 1, 1))
    history = fit_gan(run, gan, images, np.tile(y_labelled, repeats), "augmentation_gan")
    return generator, history


def generate(generator, count, latent_dim, seed):
    """``count`` images in [-1, 1] with labels 0, 1, ..., 9, 0, ... and the labels."""
    labels = np.arange(count) % NUM_CLASSES
    images = generator.predict([fixed_noise(count, latent_dim, seed), labels.reshape(-1, 1)], verbose=0)
    return images, labels


def train_classifier(run, x, y, x_test, y_test, variant):
    """The small CNN on images in [-1, 1]; returns the model and its (test loss, test accuracy)."""
    args = run.args
    keras.utils.set_random_seed(args.seed)  # every variant starts from the same weights
    with run.strategy.scope():
        model = build_augmentation_classifier(name=f"classifier_{variant}")
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    run.fit(model, x, y, epochs=args.classifier_epochs, batch_size=args.batch_size, verbose=0,
            history_name=f"history_classifier_{variant}.csv", curves_name=f"learning_curves_classifier_{variant}.png")
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    run.save_model(model, f"classifier_{variant}.h5")
    return model, float(test_loss), float(test_accuracy)


def filter_generated(classifier, images, labels, per_class, real, real_labels):
    """Keep the generated digits that ``classifier`` (trained on the labelled digits only) assigns to
    the requested class, ``per_class`` of each class (cycled when fewer pass; a class none passes
    falls back to its real digits). Returns the images, labels and the acceptance rate."""
    accepted = np.argmax(classifier.predict(images, verbose=0), axis=1) == labels
    kept = []
    for label in range(NUM_CLASSES):
        pool = images[accepted & (labels == label)]
        kept.append(np.resize(pool if len(pool) else real[real_labels == label], (per_class, *images.shape[1:])))
    return np.concatenate(kept), np.repeat(np.arange(NUM_CLASSES), per_class), float(np.mean(accepted))


def augmentation_experiment(run, x_labelled, y_labelled, x_test, y_test, scorer):
    """Application 1: the classifier without generated digits, with them, and with only those the
    baseline classifier agrees with; augmentation.csv."""
    args = run.args
    generator, history = augmentation_gan(run, x_labelled, y_labelled)
    run.save_model(generator, "augmentation_generator.h5")
    real, count = to_signed_unit(x_labelled), len(x_labelled) * args.synthetic_per_real
    fake, fake_labels = generate(generator, count, args.latent_dim, args.seed + 1)
    artifacts.image_grid(fake[:100], run.path("augmentation_samples.png"), ncols=NUM_CLASSES, value_range=(-1.0, 1.0),
                         tiled=True, title="generated training digits (columns: class 0-9)")
    x_test, repeats = to_signed_unit(x_test), 1 + args.synthetic_per_real
    rows, metrics = [], {}

    def record(variant, model_inputs, generated):
        model, test_loss, test_accuracy = train_classifier(run, *model_inputs, x_test, y_test, variant)
        rows.append({"variant": variant, "real_images": len(real), "generated_images": generated,
                     "training_images": len(model_inputs[0]), "test_accuracy": test_accuracy, "test_loss": test_loss})
        metrics[f"test_accuracy_{variant}"], metrics[f"test_loss_{variant}"] = test_accuracy, test_loss
        return model

    baseline = record("baseline", (np.tile(real, (repeats, 1, 1, 1)), np.tile(y_labelled, repeats)), 0)
    record("augmented", (np.concatenate([real, fake]), np.concatenate([y_labelled, fake_labels])), count)
    pool, pool_labels = generate(generator, FILTER_POOL * count, args.latent_dim, args.seed + 2)
    kept, kept_labels, acceptance = filter_generated(baseline, pool, pool_labels, count // NUM_CLASSES,
                                                     real, y_labelled)
    record("filtered", (np.concatenate([real, kept]), np.concatenate([y_labelled, kept_labels])), count)
    run.save_csv(rows, "augmentation.csv", fieldnames=COLUMNS)
    metrics["test_accuracy_difference"] = metrics["test_accuracy_augmented"] - metrics["test_accuracy_baseline"]
    metrics["test_accuracy_difference_filtered"] = metrics["test_accuracy_filtered"] - metrics["test_accuracy_baseline"]
    metrics["acceptance_rate_filter"] = acceptance
    metrics["conditional_accuracy_augmentation"] = conditional_accuracy(scorer, fake, fake_labels)
    metrics["d_loss_augmentation_gan"] = history.history["d_loss"][-1]
    metrics["g_loss_augmentation_gan"] = history.history["g_loss"][-1]
    return metrics


def conditional_accuracy(scorer, images, labels):
    """How often the all-digits classifier recognises the requested class."""
    return float(np.mean(np.argmax(scorer.predict(images, verbose=0), axis=1) == labels))


def two_stage_generator(run, x_train, y_train):
    """Application 2: stage 1 (14x14) trained, frozen, then stage 2 (28x28) trained on its output."""
    args = run.args
    with run.strategy.scope():
        stage1 = build_stage1_generator(latent_dim=args.latent_dim, num_classes=NUM_CLASSES)
        stage1_gan = ConditionalGAN(stage1, build_cgan_discriminator(
            image_shape=(14, 14, 1), embedding_dim=10, filters=(16, 32), name="stage1_discriminator"), seed=args.seed)
    history1 = fit_gan(run, stage1_gan, shrink(x_train), y_train, "stage1")
    with run.strategy.scope():
        stage2 = build_stage2_generator(num_classes=NUM_CLASSES)
        stage2_gan = StageTwoGAN(stage1, stage2, build_cgan_discriminator(
            embedding_dim=10, filters=(32, 64), name="stage2_discriminator"), seed=args.seed)
    history2 = fit_gan(run, stage2_gan, to_signed_unit(x_train), y_train, "stage2")
    for model in (stage1, stage2, stage1_gan.discriminator, stage2_gan.discriminator):
        run.save_model(model, f"{model.name}.h5")
    return stage1, stage2, {"d_loss_stage1": history1.history["d_loss"][-1],
                            "g_loss_stage1": history1.history["g_loss"][-1],
                            "d_loss_stage2": history2.history["d_loss"][-1],
                            "g_loss_stage2": history2.history["g_loss"][-1]}


def save_stages(run, stage1, stage2, scorer):
    """stages.png (one row per class: stage-1 / stage-2 pairs from the same noise) and both stages'
    conditional accuracy on ``--score-samples`` images."""
    args = run.args
    labels = np.repeat(np.arange(NUM_CLASSES), STAGE_COLUMNS).reshape(-1, 1)
    noise = np.tile(fixed_noise(STAGE_COLUMNS, args.latent_dim, args.seed), (NUM_CLASSES, 1))
    low = stage1.predict([noise, labels], verbose=0)
    high = stage2.predict([low, labels], verbose=0)
    pairs = np.stack([enlarge(low), high], axis=1).reshape(-1, *high.shape[1:])  # low, high, low, high, ...
    artifacts.image_grid(pairs, run.path("stages.png"), ncols=2 * STAGE_COLUMNS, value_range=(-1.0, 1.0), tiled=True,
                         row_titles=[str(label) for label in range(NUM_CLASSES)],
                         title="pairs: stage 1 (14x14, enlarged) | stage 2 (28x28)")
    low, score_labels = generate(stage1, args.score_samples, args.latent_dim, args.seed + 1)
    high = stage2.predict([low, score_labels.reshape(-1, 1)], verbose=0)
    return {"conditional_accuracy_stage1": conditional_accuracy(scorer, enlarge(low), score_labels),
            "conditional_accuracy_stage2": conditional_accuracy(scorer, high, score_labels)}


def parse_args(argv):
    parser = training.lab_parser("28", epochs=20, batch_size=32, learning_rate=gan_lab.LEARNING_RATE)
    gan_lab.add_arguments(parser, score_samples=1000, latent_dim=32)
    parser.add_argument("--labelled", type=positive_int, default=100,
                        help="labelled training digits, the same number per class (default %(default)s)")
    parser.add_argument("--synthetic-per-real", type=positive_int, default=4,
                        help="generated digits added per labelled one (default %(default)s; 1 with --smoke)")
    parser.add_argument("--classifier-epochs", type=positive_int, default=40,
                        help="epochs of both classifiers (default %(default)s; 1 with --smoke)")
    args = gan_lab.parse_args(parser, argv)
    if args.smoke:  # a few seconds of training: one pass over the labelled digits, one generated per real
        args.classifier_epochs = 1
        args.synthetic_per_real = 1
    return args


def main(argv=None):
    args = parse_args(argv)
    with training.LabRun("28", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        x_labelled, y_labelled = labelled_subset(x_train, y_train, args.labelled, args.seed)
        scorer = train_feature_classifier(x_train, y_train, epochs=1 if args.smoke else 3, seed=args.seed)
        metrics = augmentation_experiment(run, x_labelled, y_labelled, x_test, y_test, scorer)
        stage1, stage2, losses = two_stage_generator(run, x_train, y_train)
        metrics.update(losses, **save_stages(run, stage1, stage2, scorer))
        run.finish(metrics=metrics, model=stage2, labelled=args.labelled,
                   synthetic_per_real=args.synthetic_per_real, latent_dim=args.latent_dim,
                   classifier_epochs=args.classifier_epochs,
                   scoring={"samples": args.score_samples, "noise_seed": args.seed + 1, "classifier_seed": args.seed,
                            "classifier_epochs": 1 if args.smoke else 3})


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
