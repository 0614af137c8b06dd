"""Lab 11 — the handbook's practical work: an image classifier, analysed, saved and tested with a GUI.

Unit II, "Practical Work: Image classification based on artificial neural networks". The steps of
the assignment and where this lab does them:

3. a CNN (``--model cnn``: the notes' CIFAR-10 CNN shape with Dropout before the output) or an MLP
   on flattened images (``--model mlp``), both with Dropout and EarlyStopping on a validation split
   (10% of the training set, patience 3, best weights restored);
4. ``learning_curves.png`` (training/validation loss and accuracy), ``confusion_matrix.png``, the
   per-class precision/recall/F1 report (``classification_report.txt``/``.json``) and the most
   confused class pairs (printed and in the report);
5. ``classifier.h5``, reloaded at once to check it gives the same predictions;
6. the GUI: ``dlcourse gui saved_models/11_image_classifier/classifier.h5`` (or, without a display,
   ``dlcourse predict ... sample_*.png``; a few test images are saved beside the model to try).

The assignment names no dataset, sizes or settings; this lab uses Fashion-MNIST (``--dataset
mnist``/``cifar10`` also work; the embedded ``digits`` with ``--smoke``), Adam 1e-3, batch 128.

What to observe: where validation loss stops falling and EarlyStopping stops; which classes the
confusion matrix mixes up (on Fashion-MNIST: shirt / T-shirt / pullover / coat); the MLP vs CNN
gap. Run: ``dlcourse run 11``, ``dlcourse run 11 --model mlp``, ``dlcourse run 11 --smoke``.
"""

import io
import re
import sys

import numpy as np

from dlcourse import training
from dlcourse.errors import report_user_errors

SAMPLE_IMAGES = 3


def _parser():
    parser = training.lab_parser("11", epochs=20, batch_size=128,
                                 datasets=["fashion_mnist", "mnist", "cifar10"])
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn",
                        help="option 1: CNN (default); option 2: MLP on flattened images")
    parser.add_argument("--dropout-rate", type=training.rate, default=0.5,
                        help="Dropout rate (default 0.5)")
    parser.add_argument("--patience", type=training.positive_int, default=3,
                        help="EarlyStopping patience in epochs on val_loss (default 3)")
    parser.add_argument("--validation-split", type=training.fraction, default=0.1,
                        help="share of the training set held out for validation (default 0.1)")
    parser.add_argument("--learning-rate", type=training.positive_float, default=1e-3,
                        help="Adam learning rate (default 1e-3)")
    return parser


def _build(kind, input_shape, num_classes, dropout_rate):
    """The classifier and whether it outputs logits."""
    if kind == "cnn":
        from dlcourse.models.cnn import build_cifar10_cnn
        return build_cifar10_cnn(input_shape=input_shape, num_classes=num_classes,
                                 dropout_rate=dropout_rate, name="classifier"), True
    from dlcourse.models.mlp import build_deep_ffn
    return build_deep_ffn(input_shape=input_shape, num_classes=num_classes,
                          dropout_rate=dropout_rate, name="classifier"), False


def _save_samples(run, images, labels, class_names):
    """A few test images as PNG beside the model, to try ``dlcourse predict`` and the GUI on."""
    from PIL import Image

    from dlcourse import artifacts

    names = []
    for index in range(min(SAMPLE_IMAGES, len(images))):
        label = re.sub(r"[^A-Za-z0-9]+", "-", str(class_names[labels[index]])).strip("-")
        buffer = io.BytesIO()
        Image.fromarray(np.squeeze(images[index]).astype(np.uint8)).save(buffer, format="PNG")
        name = f"sample_{index}_{label}.png"
        artifacts.write_bytes(buffer.getvalue(), run.path(name))
        names.append(name)
    return names


def _report_text(result):
    lines = [result["report_text"].rstrip(), "", "Most confused pairs (real -> predicted):"]
    lines += [f"  {pair['true']} -> {pair['predicted']}: {pair['count']} ({pair['rate']:.1%} of {pair['true']})"
              for pair in result["most_confused"]] or ["  none"]
    lines += ["", "Poorest classified classes (lowest F1):"]
    lines += [f"  {row['class']}: F1 {row['f1']:.3f} (precision {row['precision']:.3f}, recall {row['recall']:.3f})"
              for row in result["worst_classes"]]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = _parser()
    args = training.parse_lab_args(parser, argv)
    import keras

    from dlcourse import artifacts, data, evaluation

    with training.LabRun("11", args) as run:
        x_train, y_train = run.load_data("train")
        x_test, y_test = run.load_data("test")
        if args.smoke:
            x_train, y_train, x_test, y_test = x_train[:300], y_train[:300], x_test[:120], y_test[:120]
        class_names = data.class_names(run.dataset)
        with run.strategy.scope():
            model, logits = _build(args.model, x_train.shape[1:], len(class_names), args.dropout_rate)
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits),
                          metrics=["accuracy"])
        history = run.fit(model, x_train / 255.0, y_train, validation_split=args.validation_split,
                          epochs=args.epochs, batch_size=args.batch_size,
                          early_stopping=dict(patience=args.patience))
        test_loss, test_accuracy = model.evaluate(x_test / 255.0, y_test, verbose=0)

        predictions = evaluation.predict_classes(model, x_test / 255.0)
        result = evaluation.evaluate_classifier(y_test, predictions, class_names)
        run.save_figure(result.pop("figure"), "confusion_matrix.png")
        run.save_text(_report_text(result), "classification_report.txt")
        run.save_json({key: value for key, value in result.items() if key != "report_text"},
                      "classification_report.json")
        print(_report_text(result))
        samples = _save_samples(run, x_test, y_test, class_names)

        path = run.save_model(model, "classifier.h5")
        reloaded = artifacts.load_model(path)
        reload_difference = float(np.max(np.abs(
            reloaded.predict(x_test[:64] / 255.0, verbose=0) - model.predict(x_test[:64] / 255.0, verbose=0))))
        print(f"reloaded {path.name}: largest prediction difference {reload_difference:.2e}")
        epochs_run = len(history.epoch)
        run.finish(metrics={"test_accuracy": test_accuracy, "test_loss": test_loss,
                            "macro_f1": result["report"]["macro avg"]["f1-score"]},
                   model=model, class_names=class_names, pixel_scale=255.0, model_type=args.model,
                   outputs_logits=logits, epochs_run=epochs_run,
                   stopped_early=epochs_run < args.epochs, most_confused=result["most_confused"],
                   reload_max_difference=reload_difference, sample_images=samples)
    return 0


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
