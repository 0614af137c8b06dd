"""Custom layers for Unit V (autoencoders): the VAE's reparameterisation layer, masking noise for
denoising autoencoders, and the KL sparsity penalty of sparse autoencoders.

All three are registered under the package name ``"dlcourse"`` so a saved ``.h5`` that uses them
reloads with ``keras.saving.load_model(path)`` (``safe_mode=True``) after only ``import dlcourse``.
"""

import keras
import tensorflow as tf
from keras import ops

__all__ = ["Sampling", "MaskingNoise", "KLSparsityRegularizer", "kl_sparsity"]


@keras.saving.register_keras_serializable(package="dlcourse")
class Sampling(keras.layers.Layer):
    """The reparameterisation trick: ``z = mu + exp(0.5 * log_var) * epsilon``, ``epsilon ~ N(0, I)``.

    Unit V, "Variational AE" (handbook 000) and handbook 003, ch. 5 §2.3 ("z = mu + sigma ⊙ epsilon").
    The encoder predicts ``log sigma^2`` rather than the notes' ``sigma`` (003 §2.1): any real number
    is a valid log-variance, so no positivity constraint is needed. The noise is drawn from a
    ``keras.random.SeedGenerator``, so ``Sampling(seed=1)`` gives a reproducible stream of draws;
    under ``tf.distribute`` each replica offsets the seed by its id so their draws are independent.

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
        seed = self.seed_generator.next()
        replica_context = tf.distribute.get_replica_context()
        if replica_context is not None:  # the seed state is mirrored: decorrelate the replicas' noise
            seed = seed + ops.cast(replica_context.replica_id_in_sync_group, seed.dtype) * 7919
        # keras.random accepts only int or SeedGenerator seeds, so the per-replica seed goes to TF.
        epsilon = tf.random.stateless_normal(ops.shape(z_mean), seed=seed, dtype=z_mean.dtype)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="dlcourse")
class MaskingNoise(keras.layers.Layer):
    """Masking noise for a denoising autoencoder: set a random fraction ``rate`` of inputs to zero.

    Unit V, "Denoising AE" (handbook 000: "Gaussian or masking noise"). Unlike ``Dropout`` the
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

    Unit V, "Sparse AE" (handbook 000: "L1 or KL-divergence sparsity term"; no equation is printed,
    this is the standard one). ``rho_hat_j`` is unit j's mean activation over the batch, so the
    layer's activations must lie in (0, 1) (a sigmoid layer). Use it as
    ``Dense(..., activation="sigmoid", activity_regularizer=KLSparsityRegularizer(0.05, 1e-3))``.

    The layer's added loss is exactly ``weight * KL`` (Keras 3 divides activity penalties by the
    batch size; ``__call__`` multiplies by it to cancel that).

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
        # Keras 3 divides every activity penalty by the batch size (a per-example mean, right for L1);
        # rho_hat is already a batch statistic, so undo that division.
        batch_size = ops.cast(ops.shape(activations)[0], rho_hat.dtype)
        return self.weight * kl_sparsity(self.rho, rho_hat) * batch_size

    def get_config(self):
        return {"rho": self.rho, "weight": self.weight}
