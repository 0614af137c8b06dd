"""Weight tying for a language model (lab 22): one matrix both embeds the input and projects the output.

:class:`TiedEmbedding` owns an embedding matrix ``E`` of shape ``(vocab_size, dim)`` and an output
bias ``b`` of shape ``(vocab_size,)``. Called on integer ids it looks rows of ``E`` up, as
``keras.layers.Embedding`` does; called on vectors with ``reverse=True`` it returns the logits
``h @ E.T + b``: the output projection is the embedding matrix transposed, so the model saves the
``vocab_size x dim`` weights of a separate ``Dense(vocab_size)`` kernel (Press and Wolf, "Using the
Output Embedding to Improve Language Models", 2017; Inan et al., 2017). The same layer object is
called twice in the functional graph, and ``reverse`` is a plain call argument, so a saved ``.h5``
reloads with ``safe_mode=True`` after ``import dlcourse``.
"""

import keras
from keras import ops

__all__ = ["TiedEmbedding"]


@keras.saving.register_keras_serializable(package="dlcourse")
class TiedEmbedding(keras.layers.Layer):
    """An embedding whose transpose is also the output projection (``reverse=True``), plus a bias."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim), name="embeddings",
                                          initializer=self.embeddings_initializer)
        self.bias = self.add_weight(shape=(self.input_dim,), name="bias", initializer="zeros")
        self.built = True

    def call(self, inputs, reverse=False):
        if reverse:
            return ops.matmul(inputs, ops.transpose(self.embeddings)) + self.bias
        if "int" not in str(inputs.dtype):
            inputs = ops.cast(inputs, "int32")
        return ops.take(self.embeddings, inputs, axis=0)

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, output_dim=self.output_dim,
                      embeddings_initializer=keras.initializers.serialize(self.embeddings_initializer))
        return config
