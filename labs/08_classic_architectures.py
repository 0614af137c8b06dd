"""Lab 08 — VGG-16, GoogLeNet, ResNet, and the plain-vs-residual degradation experiment.

Unit II, "Popular CNN architectures: VGG, Google Net, ResNet" (notes 000) and the handbook's
"Comparative Table of Pretrained CNN Architectures" (003, Chapter 2 §9.3).

Part 1 builds the notes' architectures and prints their parameter counts beside the notes' numbers
(``architectures.csv``): VGG-16 (138,357,544: "over 138 million"; the notes' printed table, with two
convolutions in block 3, would have 137,767,464), GoogLeNet (6,998,552 against the handbook's ~6.8M),
ResNet-18/34/50 (ResNet-50 = ``keras.applications.ResNet50``, 25,636,712: "~25M") and the small CIFAR
networks trained below. Under ``--smoke`` the three full-size networks are not built (their counts
come from the library constants that the tests check).

Part 2 is the notes' "Need for ResNet" experiment (He et al., section 4.2): plain and residual
networks of two depths (default 20 and 56; 8 and 14 under ``--smoke``) trained the same way (SGD with
momentum 0.9), recording the *training* error per epoch.

What to observe:
- Degradation: the deeper *plain* network has the higher training error — not overfitting, since it
  fits its own training data worse. The residual networks do not degrade: the deeper one is at least
  as good. (It needs enough epochs to show; a 1-epoch smoke run only shows the mechanics.)
- Parameters: GoogLeNet has ~20x fewer parameters than VGG-16 (global average pooling instead of
  FC 4096-4096, 1x1 reductions); residual and plain networks have identical parameter counts
  (zero-padding shortcuts add none), so the difference is the shortcut alone.

Where it departs from the notes: the notes' VGG table (3x3 "relu" pooling, 12 convolutions, an
"FC 25088" row) and inception description (2x2 pooling path, 1x1 convolution after the concatenation)
are wrong; the builders follow the papers (see their docstrings). No data augmentation and fewer epochs
than the paper's 64k iterations: the point is the gap in training error, not the best test error.

Outputs (in <out>/08_classic_architectures/): architectures.csv, degradation.csv, degradation.png,
plain<depth>_cifar.h5 and resnet<depth>_cifar.h5 for both depths, <model>_history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, data, training
from dlcourse.errors import UserError, report_user_errors
from dlcourse.models.googlenet import GOOGLENET_PARAMETERS, build_cifar_googlenet, build_googlenet
from dlcourse.models.resnet import (
    RESNET_PARAMETERS, RESNET_STANDARD_PARAMETERS, build_cifar_resnet, build_resnet)
from dlcourse.models.vgg import NOTES_TABLE_STAGES, VGG16_PARAMETERS, build_vgg16

# Handbook 003, Ch. 2 §9.3, verbatim: architecture -> (year, parameters, ImageNet top-1).
HANDBOOK_TABLE = {
    "LeNet-5": ("1998", "~60K", "-"),
    "AlexNet": ("2012", "~60M", "63.3%"),
    "VGG-16": ("2014", "~138M", "74.4%"),
    "GoogLeNet": ("2014", "~6.8M", "74.8%"),
    "ResNet-50": ("2015", "~25M", "76.1%"),
    "DenseNet-121": ("2016", "~8M", "74.9%"),
    "MobileNetV2": ("2018", "~3.4M", "72.0%"),
    "EfficientNet-B0": ("2019", "~5.3M", "77.1%"),
}


def architecture_rows(*, full_size, depths, filters):
    """(model, our parameter count, the notes' number, note) for every architecture of the unit."""
    def count(build, constant, **kwargs):
        if not full_size:
            return constant, "library constant (not built under --smoke)"
        model = build(**kwargs)
        parameters = model.count_params()
        del model
        keras.backend.clear_session()
        return parameters, "built"

    vgg, vgg_source = count(build_vgg16, VGG16_PARAMETERS)
    googlenet, googlenet_source = count(build_googlenet, GOOGLENET_PARAMETERS)
    rows = [
        ("VGG-16", vgg, "over 138 million (000); ~138M (003)",
         f"13 conv + 3 FC, 2x2/2 pooling; = keras.applications.VGG16; {vgg_source}"),
        ("VGG-16 as the notes' table prints it", VGG16_PARAMETERS - 590_080, "-",
         f"stages={NOTES_TABLE_STAGES}: 12 conv (one 3x3x256x256 conv fewer); the notes say 13"),
        ("GoogLeNet (Inception v1)", googlenet, "~6.8M (003)",
         f"no auxiliary heads (+6,379,728 with them); paper table 1 sums to ~6.8M; {googlenet_source}"),
    ]
    for depth in (18, 34, 50):
        parameters, source = count(build_resnet, RESNET_PARAMETERS[depth], depth=depth)
        notes = "~25M (003)" if depth == 50 else "-"
        rows.append((f"ResNet-{depth}", parameters, notes,
                     f"{RESNET_STANDARD_PARAMETERS[depth]:,} trainable without conv biases (paper/torchvision)"
                     + ("; = keras.applications.ResNet50" if depth == 50 else "") + f"; {source}"))
    rows.append(("GoogLeNet, CIFAR-sized", build_cifar_googlenet().count_params(), "-",
                 "not in the notes: 5 inception modules at quarter width, 32x32 input"))
    for depth in depths:
        for residual in (False, True):
            model = build_cifar_resnet(depth=depth, residual=residual, filters=filters)
            trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
            paper = {20: "0.27M (He et al.)", 56: "0.85M (He et al.)"}.get(depth, "-") if residual else "-"
            rows.append((f"{'ResNet' if residual else 'plain'}-{depth} (CIFAR, filters {filters})",
                         model.count_params(), paper, f"{trainable:,} trainable; zero-padding shortcuts"))
    return [dict(model=model, parameters=int(parameters), notes=notes, note=note)
            for model, parameters, notes, note in rows]


def print_tables(rows):
    print("\nHandbook 003, Comparative Table of Pretrained CNN Architectures (quoted as printed):")
    print(f"  {'architecture':16s} {'year':5s} {'params':>7s} {'top-1':>6s}")
    for name, (year, parameters, top1) in HANDBOOK_TABLE.items():
        print(f"  {name:16s} {year:5s} {parameters:>7s} {top1:>6s}")
    print("\nParameters of the models built here:")
    for row in rows:
        print(f"  {row['model']:45s} {row['parameters']:>12,d}  notes: {row['notes']:35s} {row['note']}")


def cifar_arrays(run, smoke, train_samples):
    x_train, y_train = run.load_data("train")
    x_test, y_test = run.load_data("test")
    limit = 256 if smoke else train_samples
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    if smoke:
        x_test, y_test = x_test[:128], y_test[:128]
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    mean = x_train.mean(axis=(0, 1, 2))  # per-channel mean subtraction (the paper subtracts the pixel mean)
    return x_train - mean, y_train, x_test - mean, y_test


def plot_degradation(curves):
    """Training error (%) per epoch: plain dashed, residual solid, one colour per depth."""
    figure, axes = artifacts.new_figure(width=6.5, height=4.0)
    colours = {}
    for label, (depth, residual, errors) in curves.items():
        colour = colours.setdefault(depth, f"C{len(colours)}")
        epochs = np.arange(1, len(errors) + 1)
        axes.plot(epochs, 100 * np.asarray(errors), linestyle="-" if residual else "--", marker="o",
                  markersize=3, color=colour, label=label)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("epoch")
    axes.set_ylabel("training error (%)")
    axes.set_title("Plain (dashed) vs residual (solid) networks")
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def main(argv=None):
    parser = training.lab_parser("08", epochs=30, batch_size=128)
    parser.add_argument("--depths", type=training.positive_int, nargs=2, default=None, metavar=("SHALLOW", "DEEP"),
                        help="two depths 6n+2 for the plain/residual networks (default 20 56; 8 14 with --smoke)")
    parser.add_argument("--filters", type=training.positive_int, nargs=3, default=None, metavar=("F1", "F2", "F3"),
                        help="filters of the three stages (default 16 32 64, the paper; 4 8 16 with --smoke)")
    parser.add_argument("--learning-rate", type=training.positive_float, default=0.05,
                        help="SGD learning rate, momentum 0.9 (default 0.05; the paper uses 0.1 with warm-up)")
    parser.add_argument("--train-samples", type=training.positive_int, default=None,
                        help="train on the first N training images only (default: all)")
    parser.add_argument("--skip-full-size", action="store_true",
                        help="do not build VGG-16/GoogLeNet/ResNet at 224x224 (implied by --smoke)")
    args = training.parse_lab_args(parser, argv)
    depths = tuple(args.depths or ((8, 14) if args.smoke else (20, 56)))
    filters = tuple(args.filters or ((4, 8, 16) if args.smoke else (16, 32, 64)))
    for depth in depths:
        if depth < 8 or (depth - 2) % 6:
            raise UserError(f"--depths must be of the form 6n+2 (8, 14, 20, 32, 44, 56, ...), got {depth}")
    if depths[0] >= depths[1]:
        raise UserError(f"--depths takes the shallow depth first, then a deeper one; got {depths[0]} {depths[1]}")

    with training.LabRun("08", args) as run:
        rows = architecture_rows(full_size=not (args.smoke or args.skip_full_size), depths=depths, filters=filters)
        run.save_csv(rows, "architectures.csv", fieldnames=["model", "parameters", "notes", "note"])
        print_tables(rows)

        x_train, y_train, x_test, y_test = cifar_arrays(run, args.smoke, args.train_samples)
        curves, records, metrics, deepest = {}, [], {}, None
        for depth in depths:
            for residual in (False, True):
                label = f"{'resnet' if residual else 'plain'}{depth}"
                with run.strategy.scope():
                    model = build_cifar_resnet(depth=depth, residual=residual, filters=filters,
                                               num_classes=len(data.class_names(run.dataset)), name=f"{label}_cifar")
                    model.compile(optimizer=keras.optimizers.SGD(args.learning_rate, momentum=0.9),
                                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                                  run_eagerly=args.smoke)  # tracing 4 deep graphs costs more than 4 tiny steps
                print(f"\ntraining {label} ({model.count_params():,} parameters)")
                history = run.fit(model, x_train, y_train, validation_split=0.1, epochs=args.epochs,
                                  batch_size=args.batch_size, history_name=f"{label}_history.csv",
                                  curves_name=None)
                training_errors = [1.0 - accuracy for accuracy in history.history["accuracy"]]
                validation_errors = [1.0 - accuracy for accuracy in history.history["val_accuracy"]]
                _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
                curves[label] = (depth, residual, training_errors)
                for epoch, (train_error, validation_error) in enumerate(zip(training_errors, validation_errors), 1):
                    records.append(dict(model=label, depth=depth, residual=residual, epoch=epoch,
                                        training_error=round(train_error, 5),
                                        validation_error=round(validation_error, 5)))
                metrics[f"{label}_training_error"] = training_errors[-1]
                metrics[f"{label}_test_error"] = 1.0 - test_accuracy
                print(f"  {label}: training error {100 * training_errors[-1]:.1f}%, "
                      f"test error {100 * (1 - test_accuracy):.1f}%")
                run.save_model(model, f"{label}_cifar.h5")
                deepest = model

        run.save_csv(records, "degradation.csv")
        run.save_figure(plot_degradation(curves), "degradation.png")
        shallow, deep = depths
        plain_deep = metrics[f"plain{deep}_training_error"]
        metrics["plain_degradation"] = plain_deep - metrics[f"plain{shallow}_training_error"]
        metrics["residual_gain"] = plain_deep - metrics[f"resnet{deep}_training_error"]
        print(f"\nplain-{deep} minus plain-{shallow} training error: {100 * metrics['plain_degradation']:+.1f} points "
              f"(positive = degradation); plain-{deep} minus ResNet-{deep}: {100 * metrics['residual_gain']:+.1f}")
        run.finish(metrics=metrics, model=deepest, depths=list(depths), filters=list(filters))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
