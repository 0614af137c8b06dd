"""Custom layers for Unit V (autoencoders): the VAE's reparameterisation layer, masking noise for
denoising autoencoders, and the KL and L1 sparsity penalties of sparse autoencoders.

All are registered under the package name ``"dlcourse"`` so a saved ``.h5`` that uses them
reloads with ``keras.saving.load_model(path)`` (``safe_mode=True``) after only ``import dlcourse``.
"""

import keras
import tensorflow as tf
from keras import ops

from dlcourse import compat

__all__ = ["Sampling", "LogVariance", "MaskingNoise", "KLSparsityRegularizer", "BatchMeanL1", "kl_sparsity", "replica_normal"]


def replica_normal(shape, seed, dtype="float32"):
    """``N(0, I)`` noise of ``shape`` (``(batch, ...)``) for this replica's share of the global batch.

    Each replica draws the whole global batch (``batch`` x replicas in sync) from the same stateless
    ``seed`` and keeps its own rows, so an example's noise does not depend on how many replicas (or
    workers) share the batch: N replicas draw what one would (for equal per-replica batches), and
    the replicas' draws are still independent of each other. Outside ``tf.distribute`` (one
    replica) this is ``tf.random.stateless_normal(shape, seed)``.
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas == 1:
        return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)
    shape = [tf.cast(size, tf.int32) for size in shape]
    draws = tf.random.stateless_normal(tf.stack([shape[0] * replicas, *shape[1:]]), seed=seed, dtype=dtype)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * shape[0]
    return draws[start:start + shape[0]]


@keras.saving.register_keras_serializable(package="dlcourse")
class LogVariance(keras.layers.Layer):
    """``log sigma^2 = 2 log sigma`` of a standard deviation ``sigma > 0``.

    The notes' VAE encoder outputs sigma (003 §5.2.1; docs/SOURCES.md, erratum B32):
    ``build_vae_encoder(encoder_output="sigma")`` keeps that head (softplus, so sigma > 0) and
    converts it here, so the encoder still returns ``[z_mean, z_log_var, z]`` for the VAE's loss.
    ``floor`` keeps the logarithm finite when softplus underflows.
    """

    def __init__(self, floor=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.floor = float(floor)

    def call(self, sigma):
        return 2.0 * ops.log(ops.maximum(sigma, self.floor))

    def get_config(self):
        return {**super().get_config(), "floor": self.floor}


@keras.saving.register_keras_serializable(package="dlcourse")
class Sampling(keras.layers.Layer):
    """The reparameterisation trick: ``z = mu + exp(0.5 * log_var) * epsilon``, ``epsilon ~ N(0, I)``.

    000 Unit V, "Variational AE" and handbook 003 §5.2.3 ("z = mu + sigma ⊙ epsilon").
    The encoder predicts ``log sigma^2`` rather than the notes' ``sigma`` (003 §5.2.1; docs/SOURCES.md,
    erratum B32): any real number is a valid log-variance, so no positivity constraint is needed. The noise is drawn from a
    ``keras.random.SeedGenerator``, so ``Sampling(seed=1)`` gives a reproducible stream of draws;
    under ``tf.distribute`` each replica keeps its rows of one global-batch draw
    (:func:`replica_normal`), so the noise does not depend on the number of replicas.

    Args:
        seed: optional integer seed for the noise.

    Call arguments:
        inputs: ``[z_mean, z_log_var]``, two tensors of the same shape ``(batch, latent_dim)``.

    Returns:
        ``z`` with the shape of ``z_mean``. It samples in training and in inference alike (a VAE
        encoder is a distribution); use ``z_mean`` for a deterministic code.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        # keras.random accepts only int or SeedGenerator seeds, so the stateless draw goes to TF.
        epsilon = replica_normal(ops.shape(z_mean), self.seed_generator.next(), dtype=z_mean.dtype)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="dlcourse")
class MaskingNoise(keras.layers.Layer):
    """Masking noise for a denoising autoencoder: set a random fraction ``rate`` of inputs to zero.

    Unit V, "Denoising AE" (notes 000: "Gaussian or masking noise"). Unlike ``Dropout`` the
    surviving values are NOT rescaled by ``1 / (1 - rate)``: the corruption should look like missing
    pixels, not like a brighter image. Like ``GaussianNoise`` it is active only in training, so a
    model ``fit(x, x)`` learns to restore clean targets from corrupted inputs.

    Args:
        rate: fraction of the input values set to zero, in ``[0, 1)``.
        seed: optional integer seed.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"MaskingNoise rate must be in [0, 1); got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return ops.where(keep, inputs, ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def kl_sparsity(rho, rho_hat):
    """``sum_j rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))`` (Keras ops).

    The KL divergence between a Bernoulli(``rho``) target and each unit's mean activation
    ``rho_hat_j``; zero when every ``rho_hat_j == rho``. ``rho_hat`` is clipped to ``(1e-7, 1 - 1e-7)``.
    """
    rho_hat = ops.clip(rho_hat, 1e-7, 1.0 - 1e-7)
    return ops.sum(rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat)))


@keras.saving.register_keras_serializable(package="dlcourse")
class KLSparsityRegularizer(keras.regularizers.Regularizer):
    """Activity regularizer of a sparse autoencoder: ``weight * KL(rho || rho_hat)``.

    Unit V, "Sparse AE" (notes 000: "L1 or KL-divergence sparsity term"; no equation is printed,
    this is the standard one). ``rho_hat_j`` is unit j's mean activation over the batch, so the
    layer's activations must lie in (0, 1) (a sigmoid layer). Use it as
    ``Dense(..., activation="sigmoid", activity_regularizer=KLSparsityRegularizer(0.05, 1e-3))``.

    The layer's added loss is exactly ``weight * KL`` on every Keras (Keras >= 3.14 divides
    activity penalties by the batch size; ``__call__`` then multiplies by it to cancel that).

    Args:
        rho: target mean activation, in (0, 1).
        weight: the penalty's coefficient (beta in the literature).
    """

    def __init__(self, rho=0.05, weight=1e-3):
        if not 0 < rho < 1:
            raise ValueError(f"rho must be in (0, 1); got {rho}")
        if weight < 0:
            raise ValueError(f"weight must be >= 0; got {weight}")
        self.rho = float(rho)
        self.weight = float(weight)

    def __call__(self, activations):
        flat = ops.reshape(activations, (-1, ops.shape(activations)[-1]))
        rho_hat = ops.mean(flat, axis=0)
        penalty = self.weight * kl_sparsity(self.rho, rho_hat)
        if compat.activity_penalties_averaged():
            # Keras divides every activity penalty by the batch size (a per-example mean, right for
            # L1); rho_hat is already a batch statistic, so undo that division.
            penalty = penalty * ops.cast(ops.shape(activations)[0], rho_hat.dtype)
        return penalty

    def get_config(self):
        return {"rho": self.rho, "weight": self.weight}


@keras.saving.register_keras_serializable(package="dlcourse")
class BatchMeanL1(keras.regularizers.L1):
    """``keras.regularizers.L1`` as an activity penalty that is the batch mean on every Keras.

    The layer's added loss is ``l1 * sum|a| / batch_size``, which is what ``L1(l1)`` gives on
    Keras >= 3.14; Keras <= 3.13 adds ``l1 * sum|a|`` summed over the batch, so this divides there
    (``dlcourse.compat.activity_penalties_averaged``). ``build_sparse_autoencoder`` uses it only on
    those older versions; a model saved with it means the same when loaded on a newer Keras.
    """

    def __call__(self, activations):
        penalty = super().__call__(activations)
        if compat.activity_penalties_averaged():
            return penalty
        return penalty / ops.cast(ops.shape(activations)[0], penalty.dtype)
