"""Lab 10 — transfer learning with ResNet50: feature extraction, then fine-tuning (Unit II; 003 §2.9).

The handbook (003), chapter 2, "9. Transfer Learning" and "9.5 Transfer Learning Implementation in
Keras" (003 L539-L612). The handbook's listing builds the model and compiles both phases but never
calls ``fit`` (docs/SOURCES.md, erratum B19); this lab trains both:

1. feature extraction: the ImageNet base is frozen, only the new head (GAP -> Dense 256 ->
   Dropout 0.5 -> softmax: 4 variables) learns, with Adam (1e-3);
2. fine-tuning: the base's last 20 layers are unfrozen -- except BatchNormalization, which stays
   frozen and in inference mode -- and training continues with Adam(1e-5).

What to observe: the trainable-variable counts of the two phases (4, then 16 for ResNet50: six
convolutions' kernels and biases plus the head; the listing, which also unfreezes BatchNorm,
would give 28); how far the frozen ImageNet features alone get on the flowers; that fine-tuning
with a tiny learning rate improves a little and does not wreck them. With ``--weights none`` the
"pretrained" base is random and both phases do much worse -- that gap is what ImageNet buys.

Outputs (in <out>/10_transfer_learning/): <base>_transfer.h5 (resnet50_transfer.h5 by default),
history.csv, learning_curves.png (phase 1), history_fine_tune.csv, learning_curves_fine_tune.png
(phase 2), run.json.

Run: ``dlcourse run 10`` (flowers, downloads 218 MiB of photos and 90 MiB of ImageNet weights once),
``dlcourse run 10 --dataset cifar10 --image-size 96``, ``dlcourse run 10 --smoke``.
"""

import sys

import keras
import tensorflow as tf
from sklearn.model_selection import train_test_split

from dlcourse import arguments, data, training, weights
from dlcourse.errors import report_user_errors
from dlcourse.models.transfer import build_transfer_model, unfreeze_top

DEFAULT_IMAGE_SIZE = 224
SMOKE_IMAGE_SIZE = 32


def _parser():
    parser = training.lab_parser("10", epochs=5, batch_size=32, datasets=["flowers", "cifar10"],
                                 learning_rate=(1e-3, "Adam's, phase 1; Keras' 'adam'"),
                                 validation_split=(0.1, "it watches both phases"))
    parser.add_argument("--base", choices=["resnet50", "vgg16", "mobilenetv2"], default="resnet50",
                        help="pretrained base (default resnet50, the notes')")
    parser.add_argument("--weights", choices=["imagenet", "none"], default="imagenet",
                        help="base weights: imagenet (looked up / downloaded) or none (random)")
    parser.add_argument("--alpha", type=arguments.positive_float, default=1.0,
                        help="MobileNetV2 width multiplier (default 1.0)")
    parser.add_argument("--image-size", type=arguments.positive_int, default=None,
                        help=f"square input size (default {DEFAULT_IMAGE_SIZE}; {SMOKE_IMAGE_SIZE} with --smoke)")
    parser.add_argument("--fine-tune-epochs", type=arguments.positive_int, default=5,
                        help="epochs of phase 2 (default 5; 1 with --smoke)")
    parser.add_argument("--unfreeze", type=arguments.positive_int, default=20,
                        help="base layers unfrozen for fine-tuning (default 20, the notes')")
    parser.add_argument("--fine-tune-learning-rate", type=arguments.positive_float, default=1e-5,
                        help="Adam learning rate of phase 2 (default 1e-5, the notes')")
    return parser


def _batches(x, y, size, batch_size, seed, shuffle):
    """A tf.data pipeline of float images resized to ``size`` x ``size`` (CIFAR-10 upscaled)."""
    def to_float(images):
        images = tf.cast(images, "float32")
        return images if tuple(x.shape[1:3]) == (size, size) else tf.image.resize(images, (size, size))

    return data.pipeline(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed, augment=to_float)


def _compile(model, learning_rate):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def base_weights_for(args, size):
    """The base's weights, "imagenet" or None: a smoke run without cached ImageNet weights uses random ones."""
    base_weights = None if args.weights == "none" else "imagenet"
    if args.smoke and base_weights and not weights.weights_available(
            args.base, alpha=args.alpha, rows=size, data_dir=args.data_dir):
        print(f"smoke run: no cached ImageNet weights for {args.base}, using random weights")
        base_weights = None
    return base_weights


def input_pipelines(run, args, size):
    """(train, validation, test) tf.data pipelines; the validation split of the training data watches both phases."""
    options = {"image_size": (size, size)} if run.dataset == "flowers" else {}
    # --smoke: 96/48 images, not 256/128: ResNet50 trains twice
    (x_train, y_train), (x_test, y_test) = run.load_splits(smoke_train=96, smoke_test=48, **options)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=args.validation_split,
                                                      random_state=args.seed)
    return (_batches(x_train, y_train, size, args.batch_size, args.seed, shuffle=True),
            _batches(x_val, y_val, size, args.batch_size, args.seed, shuffle=False),
            _batches(x_test, y_test, size, args.batch_size, args.seed, shuffle=False))


def extract_features(run, args, model, train, validation, test):
    """Phase 1: only the new head trains; returns (trainable variables, test accuracy)."""
    trainable = len(model.trainable_variables)
    print(f"phase 1 (feature extraction): {trainable} trainable variables")
    run.fit(model, train, validation_data=validation, epochs=args.epochs, shuffle=False)
    _, test_accuracy = model.evaluate(test, verbose=0)
    return trainable, test_accuracy


def fine_tune(run, args, model, train, validation, test):
    """Phase 2: the base's last layers (BatchNorm kept frozen) train too; returns (trainable, test loss, accuracy)."""
    with run.strategy.scope():
        unfreeze_top(model, args.unfreeze)
        _compile(model, args.fine_tune_learning_rate)
    trainable = len(model.trainable_variables)
    print(f"phase 2 (fine-tuning the last {args.unfreeze} layers, BatchNorm frozen): {trainable} trainable variables")
    run.fit(model, train, validation_data=validation, epochs=args.fine_tune_epochs, shuffle=False,
            history_name="history_fine_tune.csv", curves_name="learning_curves_fine_tune.png")
    test_loss, test_accuracy = model.evaluate(test, verbose=0)
    return trainable, test_loss, test_accuracy


def main(argv=None):
    parser = _parser()
    args = training.parse_lab_args(parser, argv)
    if args.image_size is not None and args.image_size < 32:
        parser.error(f"--image-size must be at least 32 (the bases' minimum), got {args.image_size}")
    if args.smoke:
        args.fine_tune_epochs = min(args.fine_tune_epochs, 1)
    size = args.image_size or (SMOKE_IMAGE_SIZE if args.smoke else DEFAULT_IMAGE_SIZE)
    base_weights = base_weights_for(args, size)
    with training.LabRun("10", args) as run:
        train, validation, test = input_pipelines(run, args, size)
        class_names = data.class_names(run.dataset)
        with run.strategy.scope():
            model = build_transfer_model(base=args.base, weights=base_weights, num_classes=len(class_names),
                                         input_shape=(size, size, 3), alpha=args.alpha, data_dir=args.data_dir)
            _compile(model, args.learning_rate)
        trainable_phase1, phase1_accuracy = extract_features(run, args, model, train, validation, test)
        trainable_phase2, test_loss, test_accuracy = fine_tune(run, args, model, train, validation, test)

        run.save_model(model, f"{args.base}_transfer.h5")
        run.finish(metrics={"test_accuracy_feature_extraction": phase1_accuracy,
                            "test_accuracy": test_accuracy, "test_loss": test_loss},
                   model=model, class_names=class_names, pixel_scale=1.0, base=args.base,
                   base_weights=base_weights or "none", image_size=size,
                   trainable_variables={"feature_extraction": trainable_phase1,
                                        "fine_tuning": trainable_phase2})


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
