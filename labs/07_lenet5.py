"""Lab 07 — LeNet-5 as the handbook tabulates it (Unit II; 003, chapter 2, §10.2 "Classic Network: LeNet-5").

Builds LeNet-5 layer by layer (003 L626-L801) with the handbook's parameter counts: C1 156, S2 12
(trainable subsampling), C3 1,516 (partial connectivity, Table I), S4 32, C5 48,120, F6 10,164 --
the 60,000 of its table -- plus the 850-weight softmax output it leaves uncounted. Prints each
layer's output size and parameters beside the handbook's, then trains on MNIST zero-padded from
28x28 to 32x32 (the handbook's input size; it does not say to pad: docs/SOURCES.md, erratum B22)
and saves ``lenet5.h5``.

``--keras-variant`` builds the common Keras version instead (full C3, ``AveragePooling2D``: 61,706
parameters). The handbook gives no optimizer or epochs; this lab uses Adam and 10 epochs.

What to observe: the sizes follow (W - F + 2P) / S + 1 (32 -> 28 -> 14 -> 10 -> 5 -> 1); C3 has 900
fewer weights than a full convolution, yet both versions learn about equally well (LeCun et al.,
1998, report 0.95% test error on MNIST; on the embedded ``digits`` sample, 10 epochs give ~96%).

Outputs (in <out>/07_lenet5/): lenet5.h5, lenet5_layers.csv, learning_curves.png,
confusion_matrix.png, history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import data, evaluation, training
from dlcourse.errors import report_user_errors
from dlcourse.models.lenet import LENET5_TABLE, build_lenet5


def pad_to_32(images):
    """(N, 28, 28, 1) uint8 -> (N, 32, 32, 1) floats in [0, 1], zero-padded by 2 on each side."""
    pad_height = (32 - images.shape[1]) // 2
    pad_width = (32 - images.shape[2]) // 2
    padded = np.pad(images, ((0, 0), (pad_height, 32 - images.shape[1] - pad_height),
                             (pad_width, 32 - images.shape[2] - pad_width), (0, 0)))
    return padded.astype("float32") / 255.0


def layer_table(model):
    """One row per LeNet-5 layer: our output shape and parameters beside the handbook's."""
    rows = []
    for key, (shape, parameters, connections) in LENET5_TABLE.items():
        layer = model.get_layer(f"{model.name}_{key}")
        rows.append({"layer": key.upper(), "type": type(layer).__name__,
                     "output_shape": "x".join(str(d) for d in layer.output.shape[1:]),
                     "handbook_output_shape": "x".join(str(d) for d in shape),
                     "parameters": layer.count_params(), "handbook_parameters": parameters,
                     "handbook_connections": connections,
                     "note": "derived, not in the handbook" if key == "output" else ""})
    return rows


def print_layer_table(model, rows):
    print(f"  {'layer':6s} {'output':>9s} {'handbook':>9s} {'params':>7s} {'handbook':>9s}")
    for row in rows:
        print(f"  {row['layer']:6s} {row['output_shape']:>9s} {row['handbook_output_shape']:>9s} "
              f"{row['parameters']:7d} {row['handbook_parameters']:9d}")
    print(f"  total {model.count_params()} (handbook C1..F6: "
          f"{sum(row['parameters'] for row in rows if row['layer'] != 'OUTPUT')})")


def evaluate(run, model, x_test, y_test):
    """Test loss and accuracy, and the confusion matrix."""
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy: {test_accuracy:.4f}")
    class_names = data.class_names(run.dataset)
    matrix = evaluation.confusion_matrix(y_test, evaluation.predict_classes(model, x_test), len(class_names))
    run.save_figure(evaluation.plot_confusion_matrix(matrix, class_names), "confusion_matrix.png")
    return test_loss, test_accuracy


def main(argv=None):
    parser = training.lab_parser("07", epochs=10, batch_size=128, learning_rate=(1e-3, "Adam's"),
                                 validation_split=0.1)
    parser.add_argument("--keras-variant", action="store_true",
                        help="build the common Keras LeNet-5 (full C3, plain average pooling)")
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("07", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        x_train, x_test = pad_to_32(x_train), pad_to_32(x_test)  # (N, 32, 32, 1)

        with run.strategy.scope():
            model = build_lenet5(faithful=not args.keras_variant)
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        rows = layer_table(model)
        run.save_csv(rows, "lenet5_layers.csv")
        print_layer_table(model, rows)

        run.fit(model, x_train, y_train, validation_split=args.validation_split, epochs=args.epochs,
                batch_size=args.batch_size)
        test_loss, test_accuracy = evaluate(run, model, x_test, y_test)
        run.save_model(model, "lenet5.h5")
        run.finish(metrics={"test_accuracy": test_accuracy, "test_loss": test_loss}, model=model,
                   variant="keras" if args.keras_variant else "handbook",
                   matches_handbook=all(row["parameters"] == row["handbook_parameters"] for row in rows))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
