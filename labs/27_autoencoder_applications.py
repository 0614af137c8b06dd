"""Lab 27 — what autoencoders are used for: features with few labels, data-specific codes, 2-D codes beside PCA, colouring (Unit V; 002; 004).

Four applications the notes list and the earlier labs do not build: the handwritten notes' (002)
"Applications of Autoencoders" (image colouring, dimensionality reduction), the slides' (004)
"Data-Specific" property, and 000's objective "utilize autoencoders for feature extraction and
dimensionality reduction" (000 L90). All start from the notes' dense
autoencoder (Listing V-A, 784-128-64-32-64-128-784, lab 16) trained on the unlabelled training digits:

1. Reuse the encoder: the notes say "only the encoder part is used" afterwards. A softmax layer on the
   FROZEN encoder (``build_linear_probe(encoder=...)``) is trained with ``--labels-per-class``
   labelled digits (10 by default, 100 labels in all) against the same softmax on the raw pixels.
2. "Data-specific": an autoencoder compresses well only data like its training data (002, 004). The
   digit autoencoder's reconstruction error on test digits, on the embedded ``shapes`` (grey, cropped
   to 28x28) and on uniform noise.
3. Dimensionality reduction: the same autoencoder with a 2-number code beside PCA with 2 components
   (scikit-learn): both 2-D maps side by side, with each one's reconstruction MSE and a 5-nearest-
   neighbour accuracy in the 2-D space. PCA is the best LINEAR 2-D projection; the autoencoder is not
   limited to one.
4. Colouring: a convolutional encoder-decoder (``build_colorization_autoencoder``) trained on grey ->
   colour pairs of digits coloured by class (one hue per digit, so colouring needs recognising the
   digit, as colouring a photograph needs recognising sky or grass), against the grey image repeated
   in the three channels.

What to observe:
- applications.csv / run.json: with 100 labels the frozen encoder's 32 numbers do about as well as
  the 784 pixels (they were learned from all the unlabelled digits); the reconstruction error is several times
  higher on shapes and noise than on digits (the "data-specific" property, which also makes
  autoencoders anomaly detectors, lab 17); the 2-D autoencoder reconstructs better than 2-D PCA and
  separates the classes far better; the colouring network beats the grey image by recognising digits.
- codes_vs_pca.png: the test digits in both 2-D maps, coloured by class (labels only colour the plot);
  the autoencoder's bottleneck is linear here (2 ReLU units lose too much).
- colorization.png: grey input, the colours the network guessed, the true colours.

Reference (embedded digits, ``--dataset sample --epochs 100 --batch-size 32``, 2-core CPU): with 100
labels, softmax on the frozen encoder 0.872 test accuracy against 0.897 on the pixels (the embedded
digits are easy for a linear model on the pixels); the digit autoencoder's reconstruction MSE 0.0028
on digits, 0.034 on shapes (12x), 0.137 on noise (49x); 2-D codes: the autoencoder's MSE 0.0204 and
5-NN accuracy 0.84 against PCA's 0.0323 and 0.49; colouring MSE 0.0048 against 0.0123 for the grey
image.

Outputs (in <out>/27_autoencoder_applications/): few_label_classifier.h5, pixel_classifier.h5,
autoencoder.h5, autoencoder_2d.h5, colorization_autoencoder.h5, applications.csv, codes_vs_pca.png,
colorization.png, history_<model>.csv, learning_curves_<model>.png, run.json.
"""

import sys

import keras
import matplotlib
import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from dlcourse import artifacts, data, training
from dlcourse.arguments import positive_int
from dlcourse.errors import report_user_errors
from dlcourse.models.autoencoder import (build_colorization_autoencoder, build_dense_autoencoder,
                                         build_linear_probe, choose_reconstruction_loss, extract_encoder)

COLUMNS = ("application", "method", "value", "measure")
PALETTE = matplotlib.colormaps["tab10"]  # the class colours of the colouring task
NEIGHBOURS = 5


def flat(images):
    """uint8 (N, 28, 28, 1) -> float32 (N, 784) in [0, 1], as Listing V-A feeds its autoencoder."""
    return images.reshape(len(images), -1).astype("float32") / 255.0


def train_autoencoder(run, args, x_train, code_size, tag, code_activation=None):
    """Listing V-A's autoencoder with a ``code_size`` bottleneck, trained on the unlabelled ``x_train``."""
    with run.strategy.scope():
        autoencoder = build_dense_autoencoder(input_dim=x_train.shape[1], encoder_units=(128, 64, code_size),
                                              code_activation=code_activation, name=f"autoencoder{tag}")
        autoencoder.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    run.fit(autoencoder, x_train, x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
            history_name=f"history_autoencoder{tag}.csv", curves_name=f"learning_curves_autoencoder{tag}.png")
    return autoencoder


def labelled_subset(y, per_class, seed):
    """Indices of ``per_class`` training examples of each class (fewer where a class has fewer)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(np.flatnonzero(y == label))[:per_class] for label in np.unique(y)])


def few_label_probes(run, args, encoder, x_train, y_train, x_test, y_test):
    """Softmax on the frozen encoder vs on the pixels, each trained on the same few labels; returns
    (rows, {features: test accuracy}) and saves both classifiers."""
    chosen = labelled_subset(y_train, args.labels_per_class, args.seed)
    rows, accuracies = [], {}
    for key, probe_encoder, filename in (("encoder", encoder, "few_label_classifier.h5"),
                                          ("pixels", None, "pixel_classifier.h5")):
        with run.strategy.scope():
            probe = build_linear_probe(input_shape=x_train.shape[1:], num_classes=10, encoder=probe_encoder,
                                       name=f"probe_{key}")
            probe.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
        run.fit(probe, x_train[chosen], y_train[chosen], epochs=args.probe_epochs, batch_size=32, shuffle=True,
                history_name=f"history_probe_{key}.csv", curves_name=f"learning_curves_probe_{key}.png")
        accuracies[key] = float(probe.evaluate(x_test, y_test, verbose=0)[1])
        run.save_model(probe, filename)
        rows.append(dict(application="few labels", method=f"softmax on {key} ({len(chosen)} labels)",
                         value=round(accuracies[key], 4), measure="test accuracy"))
    return rows, accuracies


def reconstruction_errors(autoencoder, x_test, seed):
    """The digit autoencoder's MSE on test digits, on grey ``shapes`` cropped to 28x28, and on noise."""
    shapes, _ = data.load("shapes", split="test")
    grey_shapes = flat(shapes.mean(axis=-1, keepdims=True)[:, 2:30, 2:30].round().astype("uint8"))
    noise = np.random.default_rng(seed).random(x_test.shape, dtype="float32")
    return {name: float(np.mean((autoencoder.predict(x, verbose=0) - x) ** 2))
            for name, x in (("digits", x_test), ("shapes", grey_shapes), ("noise", noise))}


def compare_with_pca(run, args, x_train, y_train, x_test, y_test):
    """2-D codes of an autoencoder and of PCA: their reconstruction MSE and 5-NN accuracy; codes_vs_pca.png."""
    autoencoder = train_autoencoder(run, args, x_train, 2, "_2d", code_activation="linear")
    encoder = extract_encoder(autoencoder, name="encoder_2d")
    pca = PCA(n_components=2, random_state=args.seed).fit(x_train)
    maps = {"autoencoder": (encoder.predict(x_train, verbose=0), encoder.predict(x_test, verbose=0),
                            autoencoder.predict(x_test, verbose=0)),
            "PCA": (pca.transform(x_train), pca.transform(x_test), pca.inverse_transform(pca.transform(x_test)))}
    figure, axes = artifacts.new_figure(1, 2, width=12, height=5.5)
    results = {}
    for axis, (name, (train_codes, test_codes, reconstructed)) in zip(axes, maps.items()):
        neighbours = KNeighborsClassifier(NEIGHBOURS).fit(train_codes, y_train)
        results[name] = {"mse": float(np.mean((reconstructed - x_test) ** 2)),
                         "knn_accuracy": float(neighbours.score(test_codes, y_test))}
        points = axis.scatter(test_codes[:, 0], test_codes[:, 1], c=y_test, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
        axis.set(title=f"{name}: MSE {results[name]['mse']:.4f}, {NEIGHBOURS}-NN accuracy "
                       f"{results[name]['knn_accuracy']:.2f}", xlabel="code[0]", ylabel="code[1]")
    figure.colorbar(points, ax=axes, ticks=range(10))
    run.save_figure(figure, "codes_vs_pca.png")
    run.save_model(autoencoder, "autoencoder_2d.h5")
    return results


def colour_by_class(images, labels):
    """Digits in colour, one hue per class (Matplotlib's tab10): the stroke takes the class's colour,
    the background stays black. A network can colour the grey version only by recognising the digit,
    as a colouriser of photographs must recognise sky or grass."""
    palette = np.asarray(PALETTE(np.arange(10))[:, :3], dtype="float32")
    return images.astype("float32") / 255.0 * palette[np.asarray(labels)][:, None, None, :]


def colourise(run, args, x_train, y_train, x_test, y_test):
    """Grey -> colour on class-coloured digits: the network's test MSE and that of repeating the grey
    image in the three channels; colorization.png."""
    colour_train, colour_test = colour_by_class(x_train, y_train), colour_by_class(x_test, y_test)
    grey_train, grey_test = colour_train.mean(axis=-1, keepdims=True), colour_test.mean(axis=-1, keepdims=True)
    with run.strategy.scope():
        model = build_colorization_autoencoder(input_shape=grey_train.shape[1:])
        # colours in [0, 1]: the notes' rule gives cross-entropy; with MSE the mostly-black targets
        # saturate the sigmoid output at 0 in the first epoch and the network stops learning
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                      loss=choose_reconstruction_loss(colour_train))
    run.fit(model, grey_train, colour_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
            history_name="history_colorization.csv", curves_name="learning_curves_colorization.png")
    coloured = model.predict(grey_test, verbose=0)
    shown = 10
    artifacts.image_grid(np.concatenate([np.repeat(grey_test[:shown], 3, axis=-1), coloured[:shown],
                                         colour_test[:shown]]),
                         run.path("colorization.png"), ncols=shown, value_range=(0.0, 1.0),
                         titles=["grey input"] * shown + ["coloured"] * shown + ["true colours"] * shown)
    run.save_model(model, "colorization_autoencoder.h5")
    return {"network": float(np.mean((coloured - colour_test) ** 2)),
            "grey": float(np.mean((np.repeat(grey_test, 3, axis=-1) - colour_test) ** 2))}


def main(argv=None):
    parser = training.lab_parser("27", epochs=20, batch_size=256, learning_rate=(1e-3, "Listing V-A's Adam()"))
    parser.add_argument("--labels-per-class", type=positive_int, default=10,
                        help="labelled training digits per class for the classifiers (default 10)")
    parser.add_argument("--probe-epochs", type=positive_int, default=100,
                        help="epochs of the few-label classifiers (default 100; 5 with --smoke)")
    args = training.parse_lab_args(parser, argv)
    if args.smoke:
        args.probe_epochs = min(args.probe_epochs, 5)
    with training.LabRun("27", args) as run:
        (images_train, y_train), (images_test, y_test) = run.load_splits()
        x_train, x_test = flat(images_train), flat(images_test)
        autoencoder = train_autoencoder(run, args, x_train, 32, "")
        rows, probes = few_label_probes(run, args, extract_encoder(autoencoder), x_train, y_train, x_test, y_test)
        errors = reconstruction_errors(autoencoder, x_test, args.seed)
        pca = compare_with_pca(run, args, x_train, y_train, x_test, y_test)
        colours = colourise(run, args, images_train, y_train, images_test, y_test)
        rows += [dict(application="data-specific", method=f"digit autoencoder on {name}", value=round(value, 5),
                     measure="reconstruction MSE") for name, value in errors.items()]
        rows += [dict(application="2-D codes", method=name, value=round(result[measure], 4), measure=label)
                 for name, result in pca.items()
                 for measure, label in (("mse", "reconstruction MSE"), ("knn_accuracy", f"{NEIGHBOURS}-NN accuracy"))]
        rows += [dict(application="colouring", method=name, value=round(value, 5), measure="test MSE")
                 for name, value in colours.items()]
        run.save_csv(rows, "applications.csv", fieldnames=COLUMNS)
        run.save_model(autoencoder, "autoencoder.h5")
        run.finish(metrics={"test_accuracy_encoder": probes["encoder"], "test_accuracy_pixels": probes["pixels"],
                            **{f"reconstruction_mse_{name}": value for name, value in errors.items()},
                            "reconstruction_mse_2d_autoencoder": pca["autoencoder"]["mse"],
                            "reconstruction_mse_2d_pca": pca["PCA"]["mse"],
                            "knn_accuracy_2d_autoencoder": pca["autoencoder"]["knn_accuracy"],
                            "knn_accuracy_2d_pca": pca["PCA"]["knn_accuracy"],
                            "test_mse_colorization": colours["network"], "test_mse_grey": colours["grey"]},
                   model=autoencoder, labelled_examples=int(10 * args.labels_per_class))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
