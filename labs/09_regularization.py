"""Lab 09 — dropout, normalization and data augmentation (Unit II, "Dropout", "Normalization", "Data augmentation").

The main notes' "Dropout" (000 L1037-L1069), "Normalization" (000 L1070-L1101) and "Data
augmentation" (000 L1102-L1196). Trains the notes' CIFAR-10 CNN (Listing II-B) several ways and
compares them on the same split:
- normalization: batch (the listing), layer, instance, group, none;
- dropout: none, Dropout(0.5) before the output, plus SpatialDropout2D(0.2) after each pooling;
- augmentation: none, Listing II-C's settings as Keras layers, the notes' "combined" example
  (rotation + flip + brightness), random erasing, Mixup and CutMix;
- weight decay: none, L1 and L2 penalties on every kernel (``kernel_regularizer``; the handbook's
  L_total = L_data + λ Σ|w| and L_data + λ Σ w², no 1/2, 003 §1.4.5, 003 L300-L308), λ from
  ``--weight-decay`` (default 1e-4). Keras' ``L1``/``L2`` add exactly these terms (``model.losses``).
It also saves a grid of every augmentation kind (geometric, colour, kernel filters, erasing,
combined, Mixup, CutMix), the notes' dropout example and which axes each normalization standardises.

All variants train with one-hot labels and ``CategoricalCrossentropy(from_logits=True)`` (Mixup and
CutMix make soft labels) and validate on 10% of the training set (the notes validate on the test set:
docs/SOURCES.md, erratum A25). The notes' ``ImageDataGenerator`` (Listing II-C) is deprecated in
Keras 3 (erratum A23); augmentation_layers.json maps each of its settings to the preprocessing layer
used instead.

What to observe: dropout and augmentation lower training accuracy and narrow the train-validation
gap. Batch normalization trains fastest, but at inference it uses moving averages of the batch
statistics (momentum 0.99, variance starting at 1): on a small training set (the 2,000-image sample:
~30 steps per epoch) they are still far from the true values after 10 epochs and validation accuracy
stays near chance although training accuracy reaches 99%. On CIFAR-10 (700 steps per epoch) this
disappears; on the sample, compare dropout and augmentation with ``--base-normalization group``.
L1 pushes many kernel weights to (near) zero (the ``small_weight_fraction`` column: |w| < 1e-3),
L2 shrinks all of them; both lower ``weight_penalty``, the term added to the loss. On the sample,
10 epochs, ``--experiments weight_decay --base-normalization group``, λ = 1e-4 (train / validation /
test accuracy): none 0.987 / 0.680 / 0.692, L1 0.926 / 0.690 / 0.666 (10% of the kernel weights
below 1e-3, 1.3% without), L2 0.945 / 0.695 / 0.720: both narrow the train-validation gap.
Augmentations must keep the label: in the sample some classes are rotations of each other
(square/diamond, plus/cross), so Listing II-C's +-30 degree rotations hurt there.

``--experiments`` picks which comparisons to run.

Outputs (in <out>/09_regularization/): normalization_comparison.csv, dropout_comparison.csv,
augmentation_comparison.csv, weight_decay_comparison.csv (with the final ``weight_penalty`` and
``small_weight_fraction`` of each variant), comparison_curves.png, augmentation_grid.png,
augmentation_layers.json, regularization.json, history_<experiment>_<variant>.csv, run.json.
"""

import sys

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from dlcourse import arguments, artifacts, augmentation, data, normalization, training
from dlcourse.errors import report_user_errors
from dlcourse.models.cnn import build_cifar10_cnn

EXPERIMENTS = {
    "normalization": {name: {"normalization": None if name == "none" else name}
                      for name in ("batch", "layer", "instance", "group", "none")},
    "dropout": {"none": {}, "dropout_0.5": {"dropout_rate": 0.5},
                "spatial_0.2+dropout_0.5": {"dropout_rate": 0.5, "spatial_dropout_rate": 0.2}},
    "augmentation": {name: {"augment": name}
                     for name in ("none", "listing_ii_c", "combined", "erasing", "mixup", "cutmix")},
    "weight_decay": {name: {"kernel_regularizer": name} for name in ("none", "l1", "l2")},
}
REGULARIZERS = {"none": lambda lam: None, "l1": keras.regularizers.L1, "l2": keras.regularizers.L2}

# --smoke keeps one variant besides Listing II-B per comparison (plus CutMix), to stay within seconds.
SMOKE_VARIANTS = {"normalization": ("batch", "instance"), "dropout": ("none", "dropout_0.5"),
                  "augmentation": ("none", "combined", "cutmix"), "weight_decay": ("none", "l1", "l2")}


def _train_variant(run, name, options, split, args, num_classes):
    """Build, train and test one variant; returns a row for the comparison table."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split
    options = dict(options)
    augment = options.pop("augment", "none")
    options["kernel_regularizer"] = REGULARIZERS[options.pop("kernel_regularizer", "none")](args.weight_decay)
    one_hot = np.eye(num_classes, dtype="float32")
    with run.strategy.scope():
        model = build_cifar10_cnn(input_shape=x_train.shape[1:], num_classes=num_classes, **options)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    if augment in ("mixup", "cutmix"):
        inputs = augmentation.MixingDataset(x_train, y_train, batch_size=args.batch_size, method=augment,
                                            num_classes=num_classes, seed=args.seed, rescale=1 / 255)
    else:
        layer = None if augment == "none" else augmentation.build_augmentation(augment, seed=args.seed)

        def scale_and_augment(images):
            images = keras.ops.cast(images, "float32") / 255.0
            return images if layer is None else layer(images, training=True)

        inputs = data.pipeline(x_train, one_hot[y_train], batch_size=args.batch_size, seed=args.seed,
                               augment=scale_and_augment)
    # shuffle=False: the tf.data pipeline and MixingDataset shuffle themselves every epoch.
    history = run.fit(model, inputs, validation_data=(x_val / 255.0, one_hot[y_val]), epochs=args.epochs,
                      shuffle=False, history_name=f"history_{name}.csv", curves_name=None)
    predictions = np.argmax(model.predict(x_test / 255.0, batch_size=256, verbose=0), axis=-1)
    train_accuracy = history.history["accuracy"][-1]
    val_accuracy = history.history["val_accuracy"][-1]
    kernels = np.concatenate([keras.ops.convert_to_numpy(weight).ravel() for weight in model.weights
                              if weight.path.endswith("kernel")])
    penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)  # 0 without a regulariser
    return {"variant": name, "parameters": model.count_params(),
            "train_accuracy": round(float(train_accuracy), 4), "val_accuracy": round(float(val_accuracy), 4),
            "gap": round(float(train_accuracy - val_accuracy), 4),
            "test_accuracy": round(float(np.mean(predictions == y_test)), 4),
            "weight_penalty": round(penalty, 6),
            "small_weight_fraction": round(float(np.mean(np.abs(kernels) < 1e-3)), 4)}, history.history


def _canonical(options):
    """Options with the defaults filled in, so equal models compare equal."""
    return tuple(sorted({"normalization": "batch", "dropout_rate": 0.0, "spatial_dropout_rate": 0.0,
                         "augment": "none", "kernel_regularizer": "none", **options}.items(),
                        key=lambda item: item[0]))


def _curves(histories):
    figure, axes = artifacts.new_figure(1, len(histories), squeeze=False)
    for axis, (experiment, runs) in zip(axes[0], histories.items()):
        for variant, history in runs.items():
            epochs = np.arange(1, len(history["val_accuracy"]) + 1)
            axis.plot(epochs, history["val_accuracy"], marker="o", label=variant)
        axis.set_title(experiment)
        axis.set_xlabel("epoch")
        axis.set_ylabel("validation accuracy")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return figure


def save_illustrations(run, images, seed):
    """The augmentation grid, Listing II-C's layers and the dropout / normalization worked examples."""
    titles, rows = augmentation.augmentation_rows(images / 255.0, seed=seed)
    artifacts.image_grid(np.concatenate(rows), run.path("augmentation_grid.png"), ncols=8, row_titles=titles)
    run.save_json(augmentation.LISTING_II_C, "augmentation_layers.json")
    run.save_json({"dropout": normalization.dropout_example(seed=seed),
                   "normalization": normalization.normalization_statistics(seed=seed)},
                  "regularization.json")


def run_experiment(run, args, experiment, split, num_classes, trained):
    """One comparison: train its variants (``trained`` caches equal models); returns (rows, histories)."""
    rows, histories = [], {}
    for variant, options in EXPERIMENTS[experiment].items():
        if args.smoke and variant not in SMOKE_VARIANTS[experiment]:
            continue
        if experiment != "normalization":
            base = None if args.base_normalization == "none" else args.base_normalization
            options = {"normalization": base, **options}
        key = _canonical(options)
        if key not in trained:  # Listing II-B itself appears in every experiment: train it once
            trained[key] = _train_variant(run, f"{experiment}_{variant}", options, split, args, num_classes)
        row, history = dict(trained[key][0], variant=variant), trained[key][1]
        print(f"  {experiment:13s} {variant:24s} train {row['train_accuracy']:.3f} "
              f"val {row['val_accuracy']:.3f} test {row['test_accuracy']:.3f}")
        rows.append(row)
        histories[variant] = history
    run.save_csv(rows, f"{experiment}_comparison.csv")
    return rows, histories


def main(argv=None):
    parser = training.lab_parser("09", epochs=10, batch_size=64, learning_rate=(1e-3, "Adam's"), validation_split=0.1)
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS),
                        help="comma-separated subset of: " + ", ".join(EXPERIMENTS))
    parser.add_argument("--base-normalization", choices=("batch", "layer", "instance", "group", "none"),
                        default="batch", help="normalization of the model the dropout and augmentation "
                        "comparisons start from (default: batch, as Listing II-B)")
    parser.add_argument("--weight-decay", type=arguments.positive_float, default=1e-4, metavar="LAMBDA",
                        help="λ of the weight-decay comparison's L1 and L2 penalties (default 1e-4)")
    parser.add_argument("--train-size", type=arguments.positive_int, default=None,
                        help="use only this many training images (default: all)")
    args = training.parse_lab_args(parser, argv)
    chosen = [name.strip() for name in args.experiments.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(EXPERIMENTS))
    if unknown or not chosen:
        parser.error(f"--experiments: unknown {unknown}; choose from {', '.join(EXPERIMENTS)}")
    with training.LabRun("09", args) as run:
        # --smoke: 160/64 images, not 256/128: a smoke run trains five models
        (x_train, y_train), test = run.load_splits(smoke_train=160, smoke_test=64)
        if args.train_size:
            x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
        x_fit, x_val, y_fit, y_val = train_test_split(x_train, y_train, test_size=args.validation_split,
                                                      random_state=args.seed)
        split = ((x_fit, y_fit), (x_val, y_val), test)
        num_classes = len(data.class_names(run.dataset))
        save_illustrations(run, x_train[:8], args.seed)

        results, histories, trained = {}, {}, {}
        for experiment in chosen:
            rows, histories[experiment] = run_experiment(run, args, experiment, split, num_classes, trained)
            results[experiment] = {row["variant"]: row["test_accuracy"] for row in rows}
        run.save_figure(_curves(histories), "comparison_curves.png")
        run.finish(metrics={f"test_accuracy_{experiment}_{variant}": accuracy
                            for experiment, table in results.items() for variant, accuracy in table.items()},
                   base_normalization=args.base_normalization, weight_decay=args.weight_decay)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
