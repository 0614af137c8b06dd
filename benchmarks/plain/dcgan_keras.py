"""Plain-Keras DCGAN on MNIST, the benchmark's counterpart of lab 14.

Based on keras.io's "DCGAN to generate face images" (``GAN(keras.Model)`` overriding ``train_step``:
one discriminator step on the concatenated generated + real batch with noisy labels, then one
generator step with "misleading" labels; ``keras.losses.BinaryCrossentropy()``; ``fit`` on the
data), trained here on MNIST NumPy arrays scaled to [-1, 1] with ``fit(x, epochs=..., batch_size=128)``.
The networks are the TensorFlow DCGAN tutorial's MNIST sizes, layer for layer as lab 14 builds them
(7x7x256 projection, 5x5 transposed convolutions 128 -> 64 -> 1 with batch normalization and ReLU,
tanh; discriminator 5x5 stride-2 convolutions 64 -> 128 with LeakyReLU(0.2), batch normalization on
the second, one sigmoid unit), and Adam(2e-4, beta_1=0.5) from the DCGAN paper, as in the lab, so
both sides train the same networks. One change to the keras.io step: the networks are called with
``training=True`` (these have batch normalization; the keras.io networks have none).
Data source: ``mnist.npz`` from ``--data-dir`` with ``np.load``. Benchmark harness: wall time around
``fit`` only, and a final ``BENCHMARK_RESULT {json}`` line. ``d_loss`` here is keras.io's (the mean
over 2 x batch), half of lab 14's J_D (which sums the real and the fake term); ``g_loss`` is the same
quantity on both sides (-mean log D(G(z))).
"""

import argparse
import json
import os
import time

import numpy as np
import tensorflow as tf
import keras
from keras import layers, ops

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data-dir", required=True, help="folder holding mnist.npz")
parser.add_argument("--epochs", type=int, default=20)
args = parser.parse_args()

with np.load(os.path.join(args.data_dir, "mnist.npz")) as f:
    x_train = f["x_train"]
x_train = (np.expand_dims(x_train, -1).astype("float32") - 127.5) / 127.5  # [-1, 1]

latent_dim = 100

discriminator = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, kernel_size=5, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, kernel_size=5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dense(1, activation="sigmoid"),
    ],
    name="discriminator",
)
discriminator.summary()

generator = keras.Sequential(
    [
        keras.Input(shape=(latent_dim,)),
        layers.Dense(7 * 7 * 256, use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, kernel_size=5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Conv2DTranspose(64, kernel_size=5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Conv2DTranspose(1, kernel_size=5, strides=2, padding="same", activation="tanh"),
    ],
    name="generator",
)
generator.summary()


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        # Sample random points in the latent space
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)

        # Decode them to fake images
        generated_images = self.generator(random_latent_vectors, training=True)

        # Combine them with real images
        combined_images = ops.concatenate([generated_images, real_images], axis=0)

        # Assemble labels discriminating real from fake images
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        # Add random noise to the labels - important trick!
        labels += 0.05 * tf.random.uniform(tf.shape(labels))

        # Train the discriminator
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images, training=True)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        # Sample random points in the latent space
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)

        # Assemble labels that say "all real images"
        misleading_labels = ops.zeros((batch_size, 1))

        # Train the generator (note that we should *not* update the weights
        # of the discriminator)!
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors, training=True), training=True)
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        # Update metrics
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {
            "d_loss": self.d_loss_metric.result(),
            "g_loss": self.g_loss_metric.result(),
        }


gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
gan.compile(
    d_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5),
    g_optimizer=keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5),
    loss_fn=keras.losses.BinaryCrossentropy(),
)

started = time.perf_counter()
history = gan.fit(x_train, epochs=args.epochs, batch_size=128)
training_seconds = time.perf_counter() - started

print("BENCHMARK_RESULT " + json.dumps({
    "training_seconds": training_seconds, "samples": len(x_train) * args.epochs,
    "metrics": {"g_loss": float(history.history["g_loss"][-1]), "d_loss": float(history.history["d_loss"][-1])},
    "parameters": int(generator.count_params())}))
