"""Lab 06 — the notes' CIFAR-10 CNN (Unit II, "Training of CNN in TensorFlow", Listing II-B).

Follows the listing (000 L772-L833): scale pixels to [0, 1], show ten training images with their
class names, build Conv(32)-BN-Pool-Conv(64)-BN-Pool-Conv(64)-Dense(64)-Dense(10) (122,954
parameters, logits), compile with Adam and ``SparseCategoricalCrossentropy(from_logits=True)``,
train 10 epochs, evaluate, print ``Test accuracy: 0.xx`` and save ``cnn_cifar10_model.h5``.

Where it departs from the notes (docs/SOURCES.md, erratum A25): the listing validates on the *test*
set, so the test score is no longer an unbiased estimate once you pick epochs or settings by it;
this lab holds out 10% of the training set for validation and touches the test set once, at the
end. It also fixes the lost indentation of the listing's plotting loop (``sample_images.png`` shows
all ten images).

What to observe: training accuracy keeps rising while validation accuracy levels off after a few
epochs (the gap is overfitting; lab 09 adds dropout and augmentation). TensorFlow's CNN tutorial,
the same network without batch normalization, reaches about 70% test accuracy after 10 epochs.

Outputs (in <out>/06_cifar10_cnn/): cnn_cifar10_model.h5, sample_images.png, learning_curves.png,
confusion_matrix.png, history.csv, run.json. Reload with ``dlcourse.artifacts.load_model(path)``.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, data, evaluation, training
from dlcourse.errors import report_user_errors
from dlcourse.models.cnn import build_cifar10_cnn


def build_and_compile(run, args, input_shape, num_classes):
    """Listing II-B's network and compile call (logits, from_logits=True)."""
    with run.strategy.scope():
        model = build_cifar10_cnn(input_shape=input_shape, num_classes=num_classes)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    return model


def evaluate(run, model, x_test, y_test, class_names):
    """The listing's evaluation and ``Test accuracy`` line, plus a confusion matrix."""
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=2)
    print(f"Test accuracy: {test_accuracy:.2f}")
    predictions = evaluation.predict_classes(model, x_test)
    matrix = evaluation.confusion_matrix(y_test, predictions, len(class_names))
    run.save_figure(evaluation.plot_confusion_matrix(matrix, class_names), "confusion_matrix.png")
    return test_loss, test_accuracy


def main(argv=None):
    parser = training.lab_parser("06", epochs=10, batch_size=32,  # the listing uses Keras' default 32
                                 learning_rate=(1e-3, "Keras' 1e-3, the listing's 'adam'"), validation_split=0.1)
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("06", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        x_train, x_test = x_train / 255.0, x_test / 255.0  # the listing's normalisation
        class_names = data.class_names(run.dataset)
        artifacts.image_grid(x_train[:10], run.path("sample_images.png"), ncols=10,
                             titles=[class_names[label] for label in y_train[:10]])

        model = build_and_compile(run, args, x_train.shape[1:], len(class_names))
        run.fit(model, x_train, y_train, validation_split=args.validation_split, epochs=args.epochs,
                batch_size=args.batch_size)
        test_loss, test_accuracy = evaluate(run, model, x_test, y_test, class_names)
        run.save_model(model, "cnn_cifar10_model.h5")
        run.finish(metrics={"test_accuracy": test_accuracy, "test_loss": test_loss},
                   model=model, non_trainable_parameters=int(sum(
                       np.prod(weight.shape) for weight in model.non_trainable_weights)))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
