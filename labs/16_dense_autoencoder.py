"""Lab 16 — the notes' dense MNIST autoencoder (Unit V, "Training an auto-encoder ...", Listing V-A).

784 -> 128 -> 64 -> 32 -> 64 -> 128 -> 784 (sigmoid), 222,384 parameters, MSE, Adam, 20 epochs,
batch 256, shuffled: exactly the listing ("Training an auto-encoder for data compression and
reconstruction", 000 L2084-L2151). Images are flattened to 784 values in [0, 1], as the listing
does. Two departures from the notes (docs/SOURCES.md, erratum A51): the validation data is 10% of
the TRAINING set (the listing validates on the test set, which then no longer measures
generalisation; ``--validate-on test`` does what the listing does), and the encoder is extracted as its own model and saved (the notes say "only the
encoder part is used" afterwards but never build it).

What to observe:
  * reconstructions.png: the notes' figure, 10 test digits (top, "Original") and their reconstructions
    from a 32-number code (bottom, "Reconstructed"): 24.5x compression, blurred but recognisable.
  * learning_curves.png: training and validation MSE fall together (no labels, so little overfitting).
  * run.json: test MSE (about 0.01 after 20 epochs on MNIST); ``--code-size 8`` compresses more and
    reconstructs worse, ``--loss auto`` applies the notes' rule (inputs in [0, 1] -> cross-entropy).

Outputs (in <out>/16_dense_autoencoder/): autoencoder.h5, encoder.h5, reconstructions.png,
learning_curves.png, history.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, training
from dlcourse.arguments import positive_int
from dlcourse.errors import report_user_errors
from dlcourse.models.autoencoder import build_dense_autoencoder, choose_reconstruction_loss, extract_encoder

SMOKE_TRAIN = 512  # two Adam steps of the listing's batch of 256 (256 images less the 10% validation make one)
NOTES_DEPARTURES = ["encoder extracted and saved as encoder.h5"]
VALIDATION_DEPARTURE = "validation on 10% of the training set, not the test set"  # unless --validate-on test


def flatten(images):
    """uint8 images -> (N, 784) float32 in [0, 1], as the listing feeds them."""
    return images.reshape(len(images), -1).astype("float32") / 255.0


def train_autoencoder(run, args, x_train, x_test, loss):
    """Listing V-A's autoencoder (``--code-size`` units in the middle), trained to reproduce ``x_train``."""
    with run.strategy.scope():
        autoencoder = build_dense_autoencoder(input_dim=x_train.shape[1], encoder_units=(128, 64, args.code_size))
        autoencoder.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=loss, metrics=["mse"])
    history = run.fit(autoencoder, x_train, x_train, epochs=args.epochs, batch_size=args.batch_size,
                      shuffle=True, **run.validation(x_test, x_test))  # --validate-on test: the listing's
    return autoencoder, history


def notes_departures(args):
    """run.json's ``notes_departures``: the validation one only when the lab validates on a split."""
    return ([VALIDATION_DEPARTURE] if args.validate_on == "split" else []) + NOTES_DEPARTURES


def save_reconstructions(run, autoencoder, x_test):
    """reconstructions.png: ten test digits over their reconstructions, as the notes' figure."""
    originals = x_test[:10]
    reconstructed = autoencoder.predict(originals, verbose=0)
    side = int(np.sqrt(x_test.shape[1]))
    artifacts.image_grid(np.concatenate([originals, reconstructed]).reshape(-1, side, side),
                         run.path("reconstructions.png"), ncols=10,
                         titles=["Original"] * len(originals) + ["Reconstructed"] * len(originals))


def main(argv=None):
    parser = training.lab_parser("16", epochs=20, batch_size=256, datasets=["mnist", "fashion_mnist"],
                                 learning_rate=(1e-3, "the listing's Adam() default"),
                                 validation_split=(0.1, "--validate-on test validates on the test set as the listing"),
                                 validate_on_test=True)
    parser.add_argument("--code-size", type=positive_int, default=32, help="bottleneck units (32)")
    parser.add_argument("--loss", choices=["mse", "binary_crossentropy", "auto"], default="mse",
                        help="reconstruction loss: mse (the listing) or auto (the notes' rule)")
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("16", args) as run:
        (x_train, _), (x_test, _) = run.load_splits(smoke_train=SMOKE_TRAIN)
        x_train, x_test = flatten(x_train), flatten(x_test)
        loss = choose_reconstruction_loss(x_train) if args.loss == "auto" else args.loss
        autoencoder, history = train_autoencoder(run, args, x_train, x_test, loss)
        test_loss, test_mse = autoencoder.evaluate(x_test, x_test, verbose=0)
        save_reconstructions(run, autoencoder, x_test)
        encoder = extract_encoder(autoencoder, name="encoder")
        run.save_model(encoder, "encoder.h5")
        run.save_model(autoencoder, "autoencoder.h5")
        run.finish(metrics={"test_mse": test_mse, "validation_loss": history.history["val_loss"][-1]},
                   model=autoencoder, loss=loss, code_size=args.code_size,
                   encoder_parameters=int(encoder.count_params()),
                   compression_ratio=round(x_train.shape[1] / args.code_size, 2), notes_departures=notes_departures(args))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
