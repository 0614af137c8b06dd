"""The rows of training_benchmark.py: which lab, which plain script, which metric, sizes and FLOP rule.

Default sizes are chosen so that a full run (3 repeats of every row) takes well under an hour on a
2-core machine; ``--epochs`` / ``--images`` override them for every row. ``validation`` is the lab's
validation fraction: the test split is written with ``images * v / (1 - v)`` examples, so that the
plain scripts' validation on the test set inside ``fit`` costs what the lab's held-out split costs.
``models`` are the files the lab saves, with the weight of each model's forward FLOPs in one training
step per real sample (a GAN step runs G forward, D forward and backward on a real and a fake batch,
then G and D forward and backward again for G's update: about 4 x G + 8 x D).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Row:
    key: str
    title: str
    plain: str  # script in benchmarks/plain/
    plain_title: str
    kind: str  # benchdata kind: cifar10, mnist, imdb
    lab_metric: str  # key in run.json's metrics
    plain_metric: str  # key in the plain script's metrics
    metric: str  # the label in the table
    higher_is_better: bool  # None: not a quality measure (no metric check)
    epochs: int  # default epochs (the lab's own default is often too long for a 2-core benchmark)
    images: int  # default training images
    validation: float  # the lab's validation fraction; the test split is sized so that both validate alike
    models: tuple  # (role, file saved by the lab, weight in the training FLOPs)
    flop_rule: str
    target: float
    lab_args: tuple = ()
    quick_lab_args: tuple = ()
    quick_images: int = None


ROWS = {row.key: row for row in (
    Row("06", "lab 06 CIFAR-10 CNN", "listing_2b.py", "Listing II-B", "cifar10", "test_accuracy",
        "test_accuracy", "test acc", True, 10, 5000, 0.1, (("model", "cnn_cifar10_model.h5", 3),),
        "3 x forward", 2.0, lab_args=("--validate-on", "test")),  # the listing trains on all images, validates on test
    Row("07", "lab 07 LeNet-5", "lenet5_keras.py", "Keras LeNet-5", "mnist", "test_accuracy", "test_accuracy",
        "test acc", True, 5, 10000, 0.1, (("model", "lenet5.h5", 3),), "3 x forward", 1.5),
    Row("12", "lab 12 LSTM", "imdb_lstm.py", "keras.io IMDB LSTM", "imdb", "test_accuracy_lstm", "test_accuracy",
        "test acc", True, 2, 5000, 0.2, (("model", "sentiment_lstm.h5", 3),), "3 x forward", 1.5,
        lab_args=("--models", "lstm")),
    Row("14", "lab 14 DCGAN", "dcgan_keras.py", "keras.io DCGAN", "mnist", "g_loss", "g_loss", "g_loss", None,
        2, 2000, 0.1, (("generator", "dcgan_generator.h5", 4), ("discriminator", "dcgan_discriminator.h5", 8)),
        "4 x G + 8 x D forward", 1.5, quick_lab_args=("--score-samples", "64"), quick_images=256),
    Row("16", "lab 16 dense autoencoder", "dense_autoencoder.py", "Listing V-A", "mnist", "test_mse", "test_mse",
        "test MSE", False, 20, 10000, 0.1, (("model", "autoencoder.h5", 3),), "3 x forward", 1.5,
        lab_args=("--validate-on", "test")),  # as Listing V-A
    Row("18", "lab 18 VAE", "vae_keras.py", "keras.io VAE", "mnist", "test_loss", "test_loss", "test loss", False,
        10, 10000, 0.1, (("encoder", "vae_encoder.h5", 3), ("decoder", "vae_decoder.h5", 3)),
        "3 x (encoder + decoder) forward", 1.5),
)}
