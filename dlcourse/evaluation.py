"""Evaluating a classifier: confusion matrix, per-class precision/recall/F1, most-confused pairs.

Unit II, "Practical Work: Image classification", step 4 "Performance Analysis" (confusion matrix;
frequent errors, poorly classified classes) and the end-of-handbook "Exercise 02: Evaluating the
Performance of a Neural Network" (Cat/Dog/Rabbit matrix, rows = real class, columns = predicted).
The exercise asks for "the accuracy (Precision)" -- a translation slip: accuracy and precision
are different quantities; both are reported here. The metrics are scikit-learn's.
"""

import time

import numpy as np
from sklearn import metrics

from dlcourse import artifacts

__all__ = ["confusion_matrix", "labels_from_confusion_matrix", "classification_report",
           "most_confused_pairs", "worst_classes", "plot_confusion_matrix", "evaluate_classifier", "predict_classes",
           "forward_seconds"]


def confusion_matrix(y_true, y_pred, num_classes):
    """``(num_classes, num_classes)`` counts; row = real class, column = predicted class."""
    return metrics.confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))


def labels_from_confusion_matrix(matrix):
    """``(y_true, y_pred)`` integer vectors that have ``matrix`` as their confusion matrix.

    Lets the handbook's exercise, which only gives the matrix, go through the same functions as a
    trained model's predictions.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or (matrix < 0).any():
        raise ValueError(f"expected a square matrix of non-negative counts, got shape {matrix.shape}")
    rows, columns = np.indices(matrix.shape)
    counts = matrix.ravel()
    return np.repeat(rows.ravel(), counts), np.repeat(columns.ravel(), counts)


def classification_report(y_true, y_pred, class_names, digits=4):
    """Per-class precision, recall, F1 and support, plus accuracy and macro/weighted averages.

    Returns ``(text, report)``: scikit-learn's printed table and its ``output_dict`` form, keyed by
    class name, ``"accuracy"``, ``"macro avg"`` and ``"weighted avg"``.
    """
    class_names = [str(name) for name in class_names]
    labels = np.arange(len(class_names))
    kwargs = dict(labels=labels, target_names=class_names, zero_division=0)
    text = metrics.classification_report(y_true, y_pred, digits=digits, **kwargs)
    report = metrics.classification_report(y_true, y_pred, output_dict=True, **kwargs)
    # scikit-learn drops "accuracy" when some label is absent from y_true/y_pred; keep it always.
    report.setdefault("accuracy", float(metrics.accuracy_score(y_true, y_pred)))
    return text, report


def most_confused_pairs(matrix, class_names, top=5):
    """The ``top`` largest off-diagonal cells as dicts ``{true, predicted, count, rate}``.

    ``rate`` is the share of the real class that went to the predicted class (count / row sum).
    Ties are broken by class order, so the result is deterministic.
    """
    matrix = np.asarray(matrix)
    totals = matrix.sum(axis=1)
    cells = [(int(matrix[i, j]), i, j) for i in range(len(matrix)) for j in range(len(matrix))
             if i != j and matrix[i, j] > 0]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [{"true": str(class_names[i]), "predicted": str(class_names[j]), "count": count,
             "rate": count / totals[i]} for count, i, j in cells[:top]]


def worst_classes(report, class_names, top=3):
    """The ``top`` poorest-classified classes: ``[{"class", "f1", "precision", "recall"}]`` by F1."""
    rows = [{"class": str(name), "f1": report[str(name)]["f1-score"],
             "precision": report[str(name)]["precision"], "recall": report[str(name)]["recall"]}
            for name in class_names]
    return sorted(rows, key=lambda row: row["f1"])[:top]


def plot_confusion_matrix(matrix, class_names, title="Confusion matrix"):
    """A Matplotlib figure of ``matrix`` (counts, with row-normalised shading); save with
    :func:`dlcourse.artifacts.save_figure`."""
    matrix = np.asarray(matrix)
    size = len(class_names)
    figure, axis = artifacts.new_figure(width=max(4.5, 0.55 * size + 2.5), height=max(4.0, 0.5 * size + 2))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, label="share of the real class")
    axis.set_xticks(range(size), [str(name) for name in class_names], rotation=45, ha="right")
    axis.set_yticks(range(size), [str(name) for name in class_names])
    axis.set_xlabel("predicted class")
    axis.set_ylabel("real class")
    axis.set_title(title)
    for i in range(size):
        for j in range(size):
            axis.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                      color="white" if rates[i, j] > 0.5 else "black")
    return figure


def predict_classes(model, x, batch_size=256):
    """Arg-max class of each sample (works for logits and probabilities alike)."""
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    return np.argmax(outputs, axis=-1)


def forward_seconds(function, *inputs, repeats=3, warmup=1):
    """Median wall-clock seconds of ``function(*inputs)`` over ``repeats`` calls, after ``warmup`` untimed
    calls (tracing, first allocations). The result is converted to NumPy inside the timed call, so work
    still running on an accelerator is counted. Lab 23 times forward passes against sequence length
    with it (labs do not time themselves)."""
    for _ in range(warmup):
        np.asarray(function(*inputs))
    seconds = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        np.asarray(function(*inputs))
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds))


def evaluate_classifier(y_true, y_pred, class_names, top=5):
    """Everything step 4 of the practical work asks for, as one dict.

    Returns ``{"accuracy", "confusion_matrix" (list of lists), "report" (the dict of
    :func:`classification_report`), "report_text", "most_confused" (list), "worst_classes"
    (list), "figure"}``.
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    text, report = classification_report(y_true, y_pred, class_names)
    return {
        "accuracy": float(report["accuracy"]),
        "confusion_matrix": matrix.tolist(),
        "report": report,
        "report_text": text,
        "most_confused": most_confused_pairs(matrix, class_names, top=top),
        "worst_classes": worst_classes(report, class_names, top=3),
        "figure": plot_confusion_matrix(matrix, class_names),
    }
