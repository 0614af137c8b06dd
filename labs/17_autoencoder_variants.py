"""Lab 17 — convolutional, denoising and sparse autoencoders, anomaly detection (Unit V, AE variants; 002; 004).

Unit V, "Architecture and components of auto-encoders": variants 1, 2 and 4, with the handwritten
notes 002 and the slides 004. Six autoencoders are trained on the same images, each with the loss the
notes' rule picks (002 "Hyperparameters of auto-encoders": inputs in [0, 1] -> binary cross-entropy,
otherwise MSE; a heuristic, docs/SOURCES.md, erratum B17), and compared on the same test images:
  conv_transpose     convolutional AE, decoder with Conv2DTranspose (learned upsampling)
  conv_upsampling    the same with UpSampling2D(size=(2, 2)) + Conv2D (slides 004), same parameters
  denoise_gaussian   GaussianNoise(0.3) on the input during training, clean targets
  denoise_masking    30% of the pixels set to 0 during training (masking noise), clean targets
  sparse_l1          784 -> 128 sigmoid code with an L1 activity penalty -> 784
  sparse_kl          the same with the KL sparsity penalty (target mean activation rho = 0.05)
Then anomaly detection by reconstruction error (as the handbook does, 003 §5.4.5; only 000 says
"anomalies trigger more neuron activations", erratum A45): the notes' dense autoencoder (Listing V-A, a 32-number
code) trained WITHOUT one digit class scores held-out test images; the left-out class should
reconstruct worse (ROC AUC well above 0.5). The convolutional AE, whose 7x7x8 code is half the input
size, is a poor detector: it learns to copy ANY image (try it: AUC about 0.6 on the digits sample).

What to observe:
  * autoencoder_variants.png (grey scale fixed to 0..1): originals, each variant's reconstructions,
    corrupted inputs and their denoised outputs. Conv2DTranspose decoders often show a checkerboard
    pattern that UpSampling2D + Conv2D avoids.
  * comparison.csv: on clean inputs (clean_mse) the plain conv AEs are best; on corrupted inputs
    (gaussian_mse, masked_mse) the denoising AEs win; the Gaussian denoiser never saw a clean image and
    does worse on them. mean_code_activation of the sparse AEs is small (KL pulls it towards rho).
  * anomaly_scores.png / run.json anomaly_auc: how well reconstruction error separates the left-out class.

Outputs (in <out>/17_autoencoder_variants/): conv_autoencoder.h5, conv_upsampling_autoencoder.h5,
denoising_autoencoder.h5, denoising_masking_autoencoder.h5, sparse_autoencoder.h5 (KL),
sparse_l1_autoencoder.h5, anomaly_autoencoder.h5, comparison.csv, autoencoder_variants.png,
anomaly_scores.png, history_<variant>.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import anomaly, artifacts, training
from dlcourse.arguments import fraction, positive_float
from dlcourse.errors import report_user_errors
from dlcourse.layers.sampling import MaskingNoise
from dlcourse.models.autoencoder import (build_conv_autoencoder, build_dense_autoencoder,
                                         build_denoising_autoencoder, build_sparse_autoencoder,
                                         choose_reconstruction_loss)

# variant -> (builder, keyword arguments, saved file name, flattened input?)
VARIANTS = {
    "conv_transpose": (build_conv_autoencoder, dict(upsampling="transpose"), "conv_autoencoder.h5", False),
    "conv_upsampling": (build_conv_autoencoder, dict(upsampling="upsampling", name="conv_upsampling_autoencoder"),
                        "conv_upsampling_autoencoder.h5", False),
    "denoise_gaussian": (build_denoising_autoencoder, dict(noise="gaussian"), "denoising_autoencoder.h5", False),
    "denoise_masking": (build_denoising_autoencoder, dict(noise="masking", name="denoising_masking_autoencoder"),
                        "denoising_masking_autoencoder.h5", False),
    "sparse_l1": (build_sparse_autoencoder, dict(sparsity="l1", name="sparse_l1_autoencoder"),
                  "sparse_l1_autoencoder.h5", True),
    "sparse_kl": (build_sparse_autoencoder, dict(sparsity="kl"), "sparse_autoencoder.h5", True),
}
SHOWN = 8  # test images per row of autoencoder_variants.png
# a denoiser's extra rows in the figure: (its corruption, that corruption's title)
DENOISER_ROWS = {"denoise_gaussian": ("gaussian", "gaussian noise"), "denoise_masking": ("masked", "masking noise")}


def scale(images):
    """uint8 images -> float32 in [0, 1], shape kept (N, 28, 28, 1)."""
    return images.astype("float32") / 255.0


def corrupt(args, x_test):
    """The test images with Gaussian noise and with masking noise, the corruptions the denoisers train on."""
    gaussian = keras.layers.GaussianNoise(args.noise_stddev, seed=args.seed)(x_test, training=True)
    masked = MaskingNoise(args.mask_rate, seed=args.seed)(x_test, training=True)
    return {"gaussian": np.asarray(gaussian), "masked": np.asarray(masked)}


def _mean_mse(model, x, target, flat):
    shape = (len(x), -1) if flat else x.shape
    prediction = model.predict(x.reshape(shape), verbose=0).reshape(target.shape)
    return float(np.mean((prediction - target) ** 2)), prediction


def train_variant(run, args, variant, x_train, loss):
    """Build, train and save one of the six autoencoders (history_<variant>.csv, its .h5 file)."""
    build, kwargs, filename, flat = VARIANTS[variant]
    if variant.startswith("denoise"):
        kwargs = {**kwargs, "noise_stddev": args.noise_stddev, "mask_rate": args.mask_rate, "seed": args.seed}
    inputs = x_train.reshape(len(x_train), -1) if flat else x_train
    with run.strategy.scope():
        model = build(**kwargs)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=loss)
    run.fit(model, inputs, inputs, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
            validation_split=0.1, history_name=f"history_{variant}.csv", curves_name=None)
    run.save_model(model, filename)
    return model


def compare_variant(model, variant, x_test, corrupted):
    """``variant``'s comparison.csv row (MSE on clean and corrupted test images) and its figure rows
    ``[(title, images), ...]``: its reconstructions, and for a denoiser its corrupted inputs and outputs."""
    _, _, filename, flat = VARIANTS[variant]
    clean_mse, clean = _mean_mse(model, x_test, x_test, flat)
    gaussian_mse, denoised_gaussian = _mean_mse(model, corrupted["gaussian"], x_test, flat)
    masked_mse, denoised_masked = _mean_mse(model, corrupted["masked"], x_test, flat)
    row = {"variant": variant, "file": filename, "parameters": model.count_params(), "clean_mse": clean_mse,
           "gaussian_mse": gaussian_mse, "masked_mse": masked_mse, "mean_code_activation": ""}
    if flat:
        encoder = keras.Model(model.input, model.get_layer(f"{model.name}_code").output)
        row["mean_code_activation"] = float(np.mean(encoder.predict(x_test.reshape(len(x_test), -1), verbose=0)))
    shown = [(variant, clean[:SHOWN])]
    if variant in DENOISER_ROWS:
        corruption, title = DENOISER_ROWS[variant]
        denoised = denoised_gaussian if corruption == "gaussian" else denoised_masked
        shown += [(title, corrupted[corruption][:SHOWN]), ("denoised", denoised[:SHOWN])]
    return row, shown


def detect_anomalies(run, args, train, test, loss):
    """Train Listing V-A's autoencoder without ``--anomaly-class``; score held-out normal vs left-out test
    images by reconstruction error (anomaly_scores.png, anomaly_autoencoder.h5); returns the report."""
    (x_train, y_train), (x_test, y_test) = train, test
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    normal_train, _ = anomaly.split_normal_anomalous(flat_train, y_train, [args.anomaly_class])
    normal_test, anomalous_test = anomaly.split_normal_anomalous(flat_test, y_test, [args.anomaly_class])
    with run.strategy.scope():
        detector = build_dense_autoencoder(input_dim=flat_train.shape[1], name="anomaly_autoencoder")
        detector.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=loss)
    run.fit(detector, normal_train, normal_train, epochs=args.epochs, batch_size=args.batch_size,
            shuffle=True, validation_split=0.1, history_name="history_anomaly.csv", curves_name=None)
    normal_errors = anomaly.reconstruction_errors(detector, normal_test)
    anomalous_errors = anomaly.reconstruction_errors(detector, anomalous_test)
    report = anomaly.detection_report(normal_errors, anomalous_errors)
    anomaly.plot_error_histograms(normal_errors, anomalous_errors, run.path("anomaly_scores.png"),
                                  threshold=report["threshold"],
                                  title=f"anomaly = class {args.anomaly_class}, AUC {report['auc']:.3f}")
    run.save_model(detector, "anomaly_autoencoder.h5")
    return report


def save_variant_grid(run, shown):
    """autoencoder_variants.png: one titled row of test images per entry of ``shown``, grey scale 0..1."""
    titles, rows = zip(*shown)
    artifacts.image_grid(np.concatenate(rows), run.path("autoencoder_variants.png"), ncols=SHOWN,
                         value_range=(0.0, 1.0), tiled=True, row_titles=titles)


def main(argv=None):
    parser = training.lab_parser("17", epochs=10, batch_size=128, datasets=["mnist", "fashion_mnist"],
                                 learning_rate=(1e-3, "Adam"))
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--noise-stddev", type=positive_float, default=0.3,
                        help="Gaussian noise added in training, in pixel units of [0, 1] images (at most 1)")
    parser.add_argument("--mask-rate", type=fraction, default=0.3,
                        help="share of pixels set to 0 by masking noise in training")
    parser.add_argument("--anomaly-class", type=int, choices=range(10), default=7,
                        help="the digit class left out of training and treated as the anomaly (7)")
    args = training.parse_lab_args(parser, argv)
    if args.noise_stddev > 1:
        parser.error(f"argument --noise-stddev: must be at most 1 (pixels are in [0, 1]), got {args.noise_stddev:g}")
    with training.LabRun("17", args) as run:
        (x_train, y_train), (x_test, y_test) = run.load_splits()
        x_train, x_test = scale(x_train), scale(x_test)
        loss = choose_reconstruction_loss(x_train)  # the notes' rule: binary cross-entropy here
        corrupted = corrupt(args, x_test)
        table, shown = [], [("original", x_test[:SHOWN])]
        for variant in args.variants:
            row, rows_shown = compare_variant(train_variant(run, args, variant, x_train, loss), variant, x_test,
                                              corrupted)
            table.append(row)
            shown += rows_shown
        report = detect_anomalies(run, args, (x_train, y_train), (x_test, y_test), loss)
        run.save_csv(table, "comparison.csv")
        save_variant_grid(run, shown)
        metrics = {f"clean_mse_{row['variant']}": row["clean_mse"] for row in table}
        run.finish(metrics={**metrics, "anomaly_auc": report["auc"]}, model=None, loss=loss,
                   anomaly_class=args.anomaly_class, anomaly=report, comparison=table)


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
