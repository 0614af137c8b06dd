"""Classifier evaluation against the handbook's Exercise 02 (Cat/Dog/Rabbit confusion matrix)."""

from fractions import Fraction

import numpy as np
import pytest

from dlcourse import artifacts, evaluation

CLASSES = ["Cat", "Dog", "Rabbit"]
EXERCISE_MATRIX = [[50, 5, 3],   # real Cat
                   [10, 60, 5],  # real Dog
                   [2, 4, 40]]   # real Rabbit
# The answers to 003 Practical Exercises 01, Exercise 02, as exact fractions.
EXPECTED = {
    "Cat": (Fraction(25, 31), Fraction(25, 29), Fraction(5, 6), 58),
    "Dog": (Fraction(20, 23), Fraction(4, 5), Fraction(5, 6), 75),
    "Rabbit": (Fraction(5, 6), Fraction(20, 23), Fraction(40, 47), 46),
}


@pytest.fixture(scope="module")
def exercise():
    y_true, y_pred = evaluation.labels_from_confusion_matrix(EXERCISE_MATRIX)
    return evaluation.evaluate_classifier(y_true, y_pred, CLASSES)


def test_exercise_accuracy(exercise):
    assert exercise["accuracy"] == pytest.approx(150 / 179)
    assert round(exercise["accuracy"], 4) == 0.8380
    assert exercise["confusion_matrix"] == EXERCISE_MATRIX


def test_exercise_per_class_precision_recall_f1(exercise):
    report = exercise["report"]
    for name, (precision, recall, f1, support) in EXPECTED.items():
        assert report[name]["precision"] == pytest.approx(float(precision), abs=1e-12)
        assert report[name]["recall"] == pytest.approx(float(recall), abs=1e-12)
        assert report[name]["f1-score"] == pytest.approx(float(f1), abs=1e-12)
        assert report[name]["support"] == support
    assert round(report["Cat"]["precision"], 6) == 0.806452
    assert round(report["Cat"]["recall"], 6) == 0.862069
    assert round(report["Cat"]["f1-score"], 6) == 0.833333


def test_exercise_averages(exercise):
    report = exercise["report"]
    assert report["macro avg"]["f1-score"] == pytest.approx(355 / 423)
    assert round(report["macro avg"]["f1-score"], 6) == 0.839243
    assert round(report["macro avg"]["precision"], 6) == 0.836450
    assert round(report["macro avg"]["recall"], 6) == 0.843878
    assert report["weighted avg"]["f1-score"] == pytest.approx(42295 / 50478)
    assert round(report["weighted avg"]["precision"], 6) == 0.839804
    assert report["weighted avg"]["recall"] == pytest.approx(150 / 179)  # weighted recall = accuracy
    assert "0.8380" in exercise["report_text"] and "Rabbit" in exercise["report_text"]


def test_exercise_most_confused_pairs(exercise):
    pairs = exercise["most_confused"]
    # Dog -> Cat (10 of 75 dogs) is the worst error; the two 5s tie and follow in class order.
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [
        ("Dog", "Cat", 10), ("Cat", "Dog", 5), ("Dog", "Rabbit", 5), ("Rabbit", "Dog", 4),
        ("Cat", "Rabbit", 3)]
    assert pairs[0]["rate"] == pytest.approx(10 / 75)
    assert len(evaluation.most_confused_pairs(EXERCISE_MATRIX, CLASSES, top=10)) == 6


def test_exercise_worst_classes(exercise):
    # Cat and Dog tie at F1 5/6, Rabbit is best (40/47): "fairly balanced".
    worst = exercise["worst_classes"]
    assert [row["class"] for row in worst] == ["Cat", "Dog", "Rabbit"]
    assert worst[0]["f1"] == pytest.approx(5 / 6) and worst[2]["f1"] == pytest.approx(40 / 47)


def test_confusion_matrix_orientation():
    # rows = real class, columns = predicted class
    matrix = evaluation.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    text, report = evaluation.classification_report([0, 0], [0, 0], ["a", "b"])
    assert report["accuracy"] == 1.0 and report["b"]["support"] == 0


def test_labels_from_confusion_matrix_validates():
    y_true, y_pred = evaluation.labels_from_confusion_matrix([[1, 2], [0, 3]])
    assert y_true.tolist() == [0, 0, 0, 1, 1, 1] and y_pred.tolist() == [0, 1, 1, 1, 1, 1]
    with pytest.raises(ValueError):
        evaluation.labels_from_confusion_matrix([[1, 2, 3]])
    with pytest.raises(ValueError):
        evaluation.labels_from_confusion_matrix([[1, -1], [0, 1]])


def test_confusion_matrix_plot(exercise, tmp_path):
    figure = exercise["figure"]
    axis = figure.axes[0]
    assert [text.get_text() for text in axis.texts] == ["50", "5", "3", "10", "60", "5", "2", "4", "40"]
    assert [label.get_text() for label in axis.get_yticklabels()] == CLASSES
    assert axis.get_ylabel() == "real class" and axis.get_xlabel() == "predicted class"
    path = artifacts.save_figure(figure, tmp_path / "confusion_matrix.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_classes_uses_argmax():
    class Fake:
        def predict(self, x, batch_size, verbose):
            return np.array([[0.1, 2.0, -1.0], [5.0, 0.0, 0.0]])

    assert evaluation.predict_classes(Fake(), np.zeros((2, 1))).tolist() == [1, 0]
