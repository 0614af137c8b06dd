"""Lab 06 — the notes' CIFAR-10 CNN (Unit II, "Training of CNN in TensorFlow", Listing II-B).

Follows the listing (000 L772-L833): scale pixels to [0, 1], show ten training images with their
class names, build Conv(32)-BN-Pool-Conv(64)-BN-Pool-Conv(64)-Dense(64)-Dense(10) (122,954
parameters, logits), compile with Adam and ``SparseCategoricalCrossentropy(from_logits=True)``,
train 10 epochs, evaluate, print ``Test accuracy: 0.xx`` and save ``cnn_cifar10_model.h5``.

Where it departs from the notes (docs/SOURCES.md, erratum A25): the listing validates on the *test*
set, so the test score is no longer an unbiased estimate once you pick epochs or settings by it;
this lab holds out 10% of the training set for validation and touches the test set once, at the
end (``--validate-on test`` validates on the test set, as the listing does). It also fixes the lost indentation of the listing's plotting loop (``sample_images.png`` shows
all ten images).

``--listing a`` trains Listing II-A instead ("Simple CNN model", 000 L740-L764: Conv2D(32) ->
MaxPool -> Dense(128) -> softmax; on 32x32x3 images 923,914 parameters, 3,938,570 on the listing's
64x64x3) with the listing's ``compile(optimizer='adam', loss='categorical_crossentropy')``. The
notes feed it the integer labels ``keras.datasets`` returns (docs/SOURCES.md, erratum A24): the lab
first makes that call and prints Keras' error (the loss needs one-hot targets of shape (batch, 10),
it gets (batch,)), then fixes it the way the listing's loss asks, with
``keras.utils.to_categorical`` labels, and trains; the listing's undefined ``val_images`` become
the 10% validation split. On the sample, 10 epochs, it reached training accuracy 0.79,
validation 0.43 and test 0.49: one convolution and a 921,728-weight dense layer overfit.

What to observe: training accuracy keeps rising while validation accuracy levels off after a few
epochs (the gap is overfitting; lab 09 adds dropout and augmentation). TensorFlow's CNN tutorial,
the same network without batch normalization, reaches about 70% test accuracy after 10 epochs.

Outputs (in <out>/06_cifar10_cnn/): cnn_cifar10_model.h5, sample_images.png, learning_curves.png,
confusion_matrix.png, history.csv, run.json (with ``--listing a``: simple_cnn_model.h5 instead of
cnn_cifar10_model.h5, and run.json's ``listing_a_error``, the notes' call's error). Reload with
``dlcourse.artifacts.load_model(path)``.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, data, evaluation, training
from dlcourse.errors import report_user_errors
from dlcourse.models.cnn import build_cifar10_cnn, build_simple_cnn


def build_and_compile(run, args, input_shape, num_classes):
    """Listing II-B's network and compile call (logits, from_logits=True)."""
    with run.strategy.scope():
        model = build_cifar10_cnn(input_shape=input_shape, num_classes=num_classes)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    return model


def listing_a_as_written(run, input_shape, num_classes, x_train, y_train):
    """Listing II-A with the notes' compile call on integer labels; returns Keras' error message.

    The loss is computed the way ``fit`` would (``evaluate`` on 32 images, so no weight changes);
    Keras rejects integer targets for ``categorical_crossentropy`` (erratum A24).
    """
    with run.strategy.scope():
        model = build_simple_cnn(input_shape=input_shape, num_classes=num_classes)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])  # as the notes
    try:
        loss = model.evaluate(x_train[:32], y_train[:32], verbose=0)[0]
    except ValueError as error:  # Keras 3: "Arguments `target` and `output` must have the same shape"
        message = " ".join(str(error).split())[:300]
        print(f"  Listing II-A as written (integer labels, categorical_crossentropy) fails: {message}")
        return message
    message = f"no error, but the loss {loss:.4f} is not the cross-entropy of the integer labels"
    print(f"  Listing II-A as written: {message}")
    return message


def build_listing_a(run, args, input_shape, num_classes):
    """Listing II-A's network and its compile call, for one-hot labels (the fix)."""
    with run.strategy.scope():
        model = build_simple_cnn(input_shape=input_shape, num_classes=num_classes)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="categorical_crossentropy",
                      metrics=["accuracy"])
    return model


def evaluate(run, model, x_test, y_test, class_names, targets=None):
    """The listing's evaluation and ``Test accuracy`` line, plus a confusion matrix.

    ``targets``: what the loss compares with (one-hot labels for Listing II-A); default ``y_test``.
    """
    test_loss, test_accuracy = model.evaluate(x_test, y_test if targets is None else targets, verbose=2)
    print(f"Test accuracy: {test_accuracy:.2f}")
    predictions = evaluation.predict_classes(model, x_test)
    matrix = evaluation.confusion_matrix(y_test, predictions, len(class_names))
    run.save_figure(evaluation.plot_confusion_matrix(matrix, class_names), "confusion_matrix.png")
    return test_loss, test_accuracy


def main(argv=None):
    parser = training.lab_parser("06", epochs=10, batch_size=32,  # the listing uses Keras' default 32
                                 learning_rate=(1e-3, "Keras' 1e-3, the listing's 'adam'"), validation_split=0.1,
                                 validate_on_test=True)
    parser.add_argument("--listing", choices=("a", "b"), default="b",
                        help="b: Listing II-B, the CIFAR-10 CNN (default); a: Listing II-A, its compile "
                        "call shown failing on integer labels, then trained with one-hot labels")
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("06", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        x_train, x_test = x_train / 255.0, x_test / 255.0  # the listing's normalisation
        class_names = data.class_names(run.dataset)
        artifacts.image_grid(x_train[:10], run.path("sample_images.png"), ncols=10,
                             titles=[class_names[label] for label in y_train[:10]])

        extra = {"listing": args.listing}
        if args.listing == "a":
            extra["listing_a_error"] = listing_a_as_written(run, x_train.shape[1:], len(class_names),
                                                            x_train, y_train)
            targets = keras.utils.to_categorical(y_train, len(class_names)), \
                keras.utils.to_categorical(y_test, len(class_names))  # the fix: one-hot labels
            model = build_listing_a(run, args, x_train.shape[1:], len(class_names))
        else:
            targets = y_train, None
            model = build_and_compile(run, args, x_train.shape[1:], len(class_names))
        validation = run.validation(x_test, y_test if targets[1] is None else targets[1])  # --validate-on
        run.fit(model, x_train, targets[0], epochs=args.epochs, batch_size=args.batch_size, **validation)
        test_loss, test_accuracy = evaluate(run, model, x_test, y_test, class_names, targets=targets[1])
        run.save_model(model, "simple_cnn_model.h5" if args.listing == "a" else "cnn_cifar10_model.h5")
        run.finish(metrics={"test_accuracy": test_accuracy, "test_loss": test_loss},
                   model=model, non_trainable_parameters=int(sum(
                       np.prod(weight.shape) for weight in model.non_trainable_weights)), **extra)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
