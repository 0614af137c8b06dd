"""Lab 08 — VGG-16, GoogLeNet, ResNet, and the plain-vs-residual degradation experiment (Unit II, 000 L838-L1036).

Unit II, "Popular CNN architectures: VGG, Google Net, ResNet" (the main notes, 000 L838-L1036) and the
handbook's "Comparative Table of Pretrained CNN Architectures" (003, chapter 2 §9.3, 003 L551-L561).

Part 1 builds the notes' architectures and prints their parameter counts beside the notes' numbers
(``architectures.csv``): VGG-16 (138,357,544: "over 138 million"; the notes' printed table, with two
convolutions in block 3, would have 137,767,464), GoogLeNet (6,998,552 against the handbook's ~6.8M),
ResNet-18/34/50 (ResNet-50 = ``keras.applications.ResNet50``, 25,636,712: "~25M") and the small CIFAR
networks trained below. Under ``--smoke`` (or ``--skip-full-size``) the full-size networks are built
from their layers' shapes only (``dlcourse.models.count_parameters``: the same layers, no weight
allocated), so their counts take a second instead of 2 GB of weights.

Part 2 is the notes' "Need for ResNet" experiment (000 L976-L1036; He et al., section 4.2): plain and
residual networks of two depths (default 20 and 56; 8 and 14 under ``--smoke``) trained the same way
(SGD with momentum 0.9), recording the *training* error per epoch.

What to observe:
- Degradation: the deeper *plain* network has the higher training error — not overfitting, since it
  fits its own training data worse. The residual networks do not degrade: the deeper one is at least
  as good. (It needs enough epochs to show; a 1-epoch smoke run only shows the mechanics.)
- Parameters: GoogLeNet has ~20x fewer parameters than VGG-16 (global average pooling instead of
  FC 4096-4096, 1x1 reductions). The notes' naive inception module (figure (a), no reductions)
  costs 387,296 parameters and 387,072 multiplications per position for module 3a, against
  163,696 and 163,328 with the 1x1 reductions (figure (b)), and passes all 192 input channels on
  (416 out instead of 256); residual and plain networks have identical parameter counts
  (zero-padding shortcuts add none), so the difference is the shortcut alone.

Where it departs from the notes: the notes' VGG table (3x3 "relu" pooling, 12 convolutions, an
"FC 25088" row; docs/SOURCES.md, errata A13 and A16) and inception description (2x2 pooling path,
1x1 convolution after the concatenation; erratum A19) are wrong; the builders follow the papers (see
their docstrings). The handbook's table is quoted as printed (its top-1 figures vary by source:
erratum B25). No data augmentation and fewer epochs than the paper's 64k iterations: the point is
the gap in training error, not the best test error.

Outputs (in <out>/08_classic_architectures/): architectures.csv, degradation.csv, degradation.png,
plain<depth>_cifar.h5 and resnet<depth>_cifar.h5 for both depths, <model>_history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import arguments, artifacts, data, training
from dlcourse.errors import UserError, report_user_errors
from dlcourse.models import count_parameters
from dlcourse.models.googlenet import (GOOGLENET_MODULES, build_cifar_googlenet, build_googlenet,
                                       build_inception_block, inception_multiplications)
from dlcourse.models.resnet import build_cifar_resnet, build_resnet
from dlcourse.models.vgg import NOTES_TABLE_STAGES, build_vgg16

# Handbook 003, Ch. 2 §9.3 (003 L551-L561), verbatim: architecture -> (year, parameters, ImageNet top-1).
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

SHAPES_ONLY = "counted from the layers' shapes, weights not allocated"


def parse_sizes(args):
    """The two depths and three stage widths of part 2 (smaller under --smoke), checked."""
    depths = tuple(args.depths or ((8, 14) if args.smoke else (20, 56)))
    filters = tuple(args.filters or ((4, 8, 16) if args.smoke else (16, 32, 64)))
    for depth in depths:
        if depth < 8 or (depth - 2) % 6:
            raise UserError(f"--depths must be of the form 6n+2 (8, 14, 20, 32, 44, 56, ...), got {depth}")
    if depths[0] >= depths[1]:
        raise UserError(f"--depths takes the shallow depth first, then a deeper one; got {depths[0]} {depths[1]}")
    return depths, filters


def parameter_count(build, *, full_size, trainable_only=False, **kwargs):
    """(parameters of ``build(**kwargs)``, how they were counted): a real build, or its shapes only."""
    if not full_size:
        return count_parameters(build, trainable_only=trainable_only, **kwargs), SHAPES_ONLY
    model = build(**kwargs)
    weights = model.trainable_weights if trainable_only else model.weights
    parameters = sum(int(np.prod(weight.shape)) for weight in weights)
    del model
    keras.backend.clear_session()
    return parameters, "built"


def architecture_rows(*, full_size, depths, filters):
    """(model, our parameter count, the notes' number, note) for every architecture of the unit."""
    vgg, vgg_source = parameter_count(build_vgg16, full_size=full_size)
    vgg_notes, vgg_notes_source = parameter_count(build_vgg16, full_size=full_size, stages=NOTES_TABLE_STAGES)
    googlenet, googlenet_source = parameter_count(build_googlenet, full_size=full_size)
    rows = [
        ("VGG-16", vgg, "over 138 million (000); ~138M (003)",
         f"13 conv + 3 FC, 2x2/2 pooling; = keras.applications.VGG16; {vgg_source}"),
        ("VGG-16 as the notes' table prints it", vgg_notes, "-",
         f"stages={NOTES_TABLE_STAGES}: 12 conv (one 3x3x256x256 conv fewer); the notes say 13; {vgg_notes_source}"),
        ("GoogLeNet (Inception v1)", googlenet, "~6.8M (003)",
         f"no auxiliary heads (+6,379,728 with them); paper table 1 sums to ~6.8M; {googlenet_source}"),
    ]
    for depth in (18, 34, 50):
        parameters, source = parameter_count(build_resnet, full_size=full_size, depth=depth)
        standard, _ = parameter_count(build_resnet, full_size=full_size, trainable_only=True, depth=depth,
                                      use_bias=False)
        notes = "~25M (003)" if depth == 50 else "-"
        rows.append((f"ResNet-{depth}", parameters, notes,
                     f"{standard:,} trainable without conv biases (paper/torchvision)"
                     + ("; = keras.applications.ResNet50" if depth == 50 else "") + f"; {source}"))
    rows.append(("GoogLeNet, CIFAR-sized", build_cifar_googlenet().count_params(), "-",
                 "not in the notes: 5 inception modules at quarter width, 32x32 input"))
    for naive in (True, False):  # the notes' two inception figures, GoogLeNet's module 3a on 28x28x192
        multiplications = inception_multiplications(192, GOOGLENET_MODULES[0][1], naive=naive)
        rows.append((f"Inception 3a, {'naive (figure (a))' if naive else 'with 1x1 reductions (figure (b))'}",
                     build_inception_block(naive=naive).count_params(), "-",
                     f"{416 if naive else 256} channels out; {multiplications:,} multiplications per position"))
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


def cifar_arrays(run, train_samples):
    """CIFAR-10 (or the sample) in [0, 1] minus the training set's per-channel mean."""
    (x_train, y_train), (x_test, y_test) = run.load_splits()
    if train_samples:
        x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    mean = x_train.mean(axis=(0, 1, 2))  # per-channel mean subtraction (the paper subtracts the pixel mean)
    return (x_train - mean, y_train), (x_test - mean, y_test)


def train_network(run, args, label, *, depth, residual, filters, splits):
    """Train one plain or residual CIFAR network; returns (training errors, validation errors, test accuracy, model)."""
    (x_train, y_train), (x_test, y_test) = splits
    with run.strategy.scope():
        model = build_cifar_resnet(depth=depth, residual=residual, filters=filters,
                                   num_classes=len(data.class_names(run.dataset)), name=f"{label}_cifar")
        model.compile(optimizer=keras.optimizers.SGD(args.learning_rate, momentum=0.9),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      run_eagerly=args.smoke)  # tracing 4 deep graphs costs more than 4 tiny steps
    print(f"\ntraining {label} ({model.count_params():,} parameters)")
    history = run.fit(model, x_train, y_train, validation_split=args.validation_split, epochs=args.epochs,
                      batch_size=args.batch_size, history_name=f"{label}_history.csv", curves_name=None)
    training_errors = [1.0 - accuracy for accuracy in history.history["accuracy"]]
    validation_errors = [1.0 - accuracy for accuracy in history.history["val_accuracy"]]
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"  {label}: training error {100 * training_errors[-1]:.1f}%, test error {100 * (1 - test_accuracy):.1f}%")
    run.save_model(model, f"{label}_cifar.h5")
    return training_errors, validation_errors, test_accuracy, model


def degradation_experiment(run, args, depths, filters):
    """Part 2: plain and residual networks of both depths; writes degradation.csv/.png, returns (metrics, model)."""
    splits = cifar_arrays(run, args.train_samples)
    curves, records, metrics, deepest = {}, [], {}, None
    for depth in depths:
        for residual in (False, True):
            label = f"{'resnet' if residual else 'plain'}{depth}"
            training_errors, validation_errors, test_accuracy, deepest = train_network(
                run, args, label, depth=depth, residual=residual, filters=filters, splits=splits)
            curves[label] = (depth, residual, training_errors)
            for epoch, (train_error, validation_error) in enumerate(zip(training_errors, validation_errors), 1):
                records.append(dict(model=label, depth=depth, residual=residual, epoch=epoch,
                                    training_error=round(train_error, 5),
                                    validation_error=round(validation_error, 5)))
            metrics[f"training_error_{label}"] = training_errors[-1]
            metrics[f"test_error_{label}"] = 1.0 - test_accuracy
    run.save_csv(records, "degradation.csv")
    run.save_figure(plot_degradation(curves), "degradation.png")
    shallow, deep = depths
    plain_deep = metrics[f"training_error_plain{deep}"]
    metrics["plain_degradation"] = plain_deep - metrics[f"training_error_plain{shallow}"]
    metrics["residual_gain"] = plain_deep - metrics[f"training_error_resnet{deep}"]
    print(f"\nplain-{deep} minus plain-{shallow} training error: {100 * metrics['plain_degradation']:+.1f} points "
          f"(positive = degradation); plain-{deep} minus ResNet-{deep}: {100 * metrics['residual_gain']:+.1f}")
    return metrics, deepest


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
    parser = training.lab_parser(
        "08", epochs=30, batch_size=128, validation_split=0.1,
        learning_rate=(0.05, "SGD with momentum 0.9; the paper uses 0.1 with warm-up"))
    parser.add_argument("--depths", type=arguments.positive_int, nargs=2, default=None, metavar=("SHALLOW", "DEEP"),
                        help="two depths 6n+2 for the plain/residual networks (default 20 56; 8 14 with --smoke)")
    parser.add_argument("--filters", type=arguments.positive_int, nargs=3, default=None, metavar=("F1", "F2", "F3"),
                        help="filters of the three stages (default 16 32 64, the paper; 4 8 16 with --smoke)")
    parser.add_argument("--train-samples", type=arguments.positive_int, default=None,
                        help="train on the first N training images only (default: all)")
    parser.add_argument("--skip-full-size", action="store_true",
                        help="count VGG-16/GoogLeNet/ResNet at 224x224 from their layers' shapes instead of "
                             "building them (implied by --smoke)")
    args = training.parse_lab_args(parser, argv)
    depths, filters = parse_sizes(args)
    with training.LabRun("08", args) as run:
        rows = architecture_rows(full_size=not (args.smoke or args.skip_full_size), depths=depths, filters=filters)
        run.save_csv(rows, "architectures.csv", fieldnames=["model", "parameters", "notes", "note"])
        print_tables(rows)
        metrics, deepest = degradation_experiment(run, args, depths, filters)
        run.finish(metrics=metrics, model=deepest, depths=list(depths), filters=list(filters))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
