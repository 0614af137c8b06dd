"""The training loop ``LabRun.fit`` uses where ``model.fit`` cannot run: MultiWorkerMirroredStrategy.

Keras 3's ``fit`` and ``evaluate`` fail under ``MultiWorkerMirroredStrategy`` ("Attempt to convert a
value (PerReplica...) with an unsupported type", keras-team/keras#20585, on Keras 3.10 and 3.15), so
under it :meth:`dlcourse.training.LabRun.fit` calls :func:`fit` here instead: TensorFlow's documented
custom-loop pattern (tensorflow.org/tutorials/distribute/multi_worker_with_ctl), with the model's own
``train_step`` / ``test_step`` run on every replica by ``strategy.run``:

* input: arrays are batched with the GLOBAL batch size in an order fixed by the seed and the epoch
  (the same on every worker, and on a resumed run), tf.data pipelines are used as they are; both go
  through ``strategy.experimental_distribute_dataset`` with the auto-shard policy set to DATA, so
  each worker trains on its part of every global batch;
* losses: Keras' compiled losses and the GAN / VAE / AAE wrappers (``gan.global_average``) already
  scale each replica's loss by 1 / global batch, and the optimizers sum the replicas' gradients;
* metrics: Keras' metric variables aggregate on read, so the epoch's logs are exact global means,
  the same on every worker; validation (``validation_split`` as Keras splits it, or
  ``validation_data``) runs ``test_step`` the same way;
* Keras callbacks (``CSVLogger``, ``EarlyStopping``, the labs' own) get the same calls as under
  ``fit``; a non-finite training loss stops the run before that epoch is logged or checkpointed;
* checkpoints: :class:`LoopBackup`, a ``tf.train.CheckpointManager`` in the ``backup/`` folder of
  :mod:`dlcourse.resume`'s layout (every model variable incl. noise-generator states, every
  optimizer's state, the epoch).

After training under MultiWorkerMirroredStrategy the model (and the models inside it) are detached
from the strategy, so a lab's later ``evaluate`` / ``predict`` run on each worker on its own.
"""

import json
import math
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from dlcourse import artifacts
from dlcourse.resume import METADATA_FILE  # the checkpoint metadata resume.py reads

__all__ = ["fit", "LoopBackup", "optimizers_of", "from_chief"]



def optimizers_of(model):
    """Every optimizer a model trains with: ``model.optimizer`` and any other attribute (GAN, AAE)."""
    found = [model.optimizer] if getattr(model, "optimizer", None) is not None else []
    for value in vars(model).values():
        if isinstance(value, keras.optimizers.Optimizer) and all(value is not other for other in found):
            found.append(value)
    return found


def _build_optimizers(model, strategy):
    # built outside a replica, in the strategy's scope, as fit's symbolic build does; a checkpoint
    # needs every optimizer variable to exist before it is restored
    with strategy.scope():
        for optimizer in optimizers_of(model):
            if not optimizer.built:
                optimizer.build(model.trainable_variables if optimizer is model.optimizer else [])


class LoopBackup:
    """The custom loop's checkpoint: ``tf.train.CheckpointManager`` files plus ``training_metadata.json``
    (``{"epoch": epochs done, "batch": steps into the next epoch, "checkpoint": "ckpt-N"}``), written
    after the checkpoint, so a kill at any moment leaves metadata naming a complete checkpoint.

    Args:
        directory: ``.checkpoint/<history stem>/backup``.
        every: also save every this many training steps (``--checkpoint-every``).
        on_save: called before each save (writes the run's state.json).
    """

    def __init__(self, directory, *, every=None, on_save=None):
        self.directory = pathlib.Path(directory)
        self.every = every
        self.on_save = on_save
        self.saved_epoch = None
        self._checkpoint = None
        self._manager = None
        self._epoch = None

    def attach(self, model):
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        optimizers = {f"optimizer_{index}": list(optimizer.variables)
                      for index, optimizer in enumerate(optimizers_of(model))}
        self._checkpoint = tf.train.Checkpoint(variables=list(model.variables), epoch=self._epoch, **optimizers)
        self._manager = tf.train.CheckpointManager(self._checkpoint, str(self.directory), max_to_keep=2,
                                                   checkpoint_name="ckpt")

    def metadata(self):
        try:
            return json.loads((self.directory / METADATA_FILE).read_text())
        except (OSError, ValueError):
            return None

    def restore(self):
        """Load the last complete checkpoint; returns its epochs done (0 when there is none)."""
        metadata = self.metadata()
        if not metadata or "checkpoint" not in metadata:
            return 0
        self._checkpoint.restore(str(self.directory / metadata["checkpoint"])).assert_existing_objects_matched()
        self.saved_epoch = int(metadata["epoch"])
        return self.saved_epoch

    def save(self, epoch, batch=0):
        if self.on_save is not None:
            self.on_save()
        self._epoch.assign(epoch)
        path = pathlib.Path(self._manager.save())
        artifacts.write_text(json.dumps({"epoch": epoch, "batch": batch, "checkpoint": path.name}),
                             self.directory / METADATA_FILE)
        self.saved_epoch = epoch


def from_chief(strategy, values):
    """``values`` (a list of numbers) as the chief has them, on every worker (a masked all-reduce)."""
    def replica_values(values):
        first = tf.equal(tf.distribute.get_replica_context().replica_id_in_sync_group, 0)
        return values * tf.cast(first, tf.float64)

    @tf.function
    def broadcast(values):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_values, args=(values,)), axis=None)

    return [float(value) for value in broadcast(tf.constant(values, dtype=tf.float64)).numpy()]


def _data_options():
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _as_tensors(arrays):
    def convert(array):
        array = np.asarray(array)
        if array.dtype == np.float64:  # as Keras' array adapter does: float64 -> floatx
            array = array.astype(keras.backend.floatx())
        return tf.convert_to_tensor(array)

    return tf.nest.map_structure(convert, arrays)


def _length(arrays):
    return int(tf.nest.flatten(arrays)[0].shape[0])


def _take(arrays, start, stop):
    return tf.nest.map_structure(lambda array: array[start:stop], arrays)


class _Input:
    """One epoch's distributed batches of arrays (seeded order) or of a tf.data pipeline."""

    def __init__(self, strategy, x, y, *, batch_size, shuffle, seed):
        self.strategy = strategy
        self.shuffle = shuffle
        self.seed = seed
        self.batch_size = batch_size
        if hasattr(x, "element_spec"):
            self.dataset, self.arrays = x.with_options(_data_options()), None
            self._distributed = strategy.experimental_distribute_dataset(self.dataset)
        else:
            self.dataset, self.arrays = None, x if y is None else (x, y)
            self.count = _length(self.arrays)

    def epoch(self, epoch):
        if self.arrays is None:
            return self._distributed
        order = np.arange(self.count)
        if self.shuffle:  # the same order on every worker, and for this epoch on a resumed run
            order = np.random.default_rng([int(self.seed), int(epoch)]).permutation(self.count)
        tensors = self.arrays if isinstance(self.arrays, tuple) else (self.arrays,)
        dataset = tf.data.Dataset.from_tensor_slices(order).batch(self.batch_size).map(
            lambda index: tf.nest.map_structure(lambda array: tf.gather(array, index), tensors))
        return self.strategy.experimental_distribute_dataset(dataset.with_options(_data_options()))


def _finite(logs):
    return all(math.isfinite(float(value)) for key, value in logs.items()
               if not key.startswith("val_") and np.ndim(value) == 0)


def _pythonify(logs):
    return {key: float(np.asarray(value)) for key, value in logs.items()}


def fit(model, x=None, y=None, *, strategy, callbacks=(), epochs=1, batch_size=None, validation_split=0.0,
        validation_data=None, shuffle=True, verbose=0, seed=0, backup=None, **unsupported):
    """Train ``model`` like ``model.fit`` but with ``strategy.run``; returns the ``History``.

    Args:
        model: a compiled Keras model (its ``train_step`` / ``test_step`` are used, also custom ones).
        x, y: arrays (or a structure of arrays) or, with ``y=None``, a batched tf.data pipeline.
        strategy: the ``tf.distribute`` strategy the model was built under.
        callbacks: Keras callbacks, called as ``fit`` calls them (epoch and train begin/end).
        batch_size: the GLOBAL batch size for arrays (default 32, as ``fit``).
        validation_split, validation_data: as in ``fit`` (the split takes the last samples).
        shuffle: reorder arrays every epoch (seeded by ``seed`` and the epoch).
        backup: a :class:`LoopBackup` (resumes from it and saves every epoch), or None.
    """
    unknown = {key: value for key, value in unsupported.items()
               if value is not None and key not in ("validation_batch_size", "initial_epoch")}
    if unknown:
        raise ValueError(f"the custom training loop does not support {sorted(unknown)}")
    batch_size = batch_size or 32
    dataset_input = hasattr(x, "element_spec")
    if not dataset_input:
        x = _as_tensors(x)
        y = None if y is None else _as_tensors(y)
        if validation_split and validation_data is None:
            split_at = int(math.floor(_length(x) * (1.0 - validation_split)))  # Keras' split: the last samples
            validation_data = (_take(x, split_at, None),) if y is None else (_take(x, split_at, None),
                                                                             _take(y, split_at, None))
            x, y = _take(x, 0, split_at), None if y is None else _take(y, 0, split_at)
    training = _Input(strategy, x, y, batch_size=batch_size, shuffle=shuffle and not dataset_input, seed=seed)
    validation = None
    if validation_data is not None:
        if hasattr(validation_data, "element_spec"):
            validation = _Input(strategy, validation_data, None, batch_size=batch_size, shuffle=False, seed=seed)
        else:
            parts = _as_tensors(tuple(validation_data))
            validation = _Input(strategy, parts[0], parts[1] if len(parts) > 1 else None,
                                batch_size=unsupported.get("validation_batch_size") or batch_size,
                                shuffle=False, seed=seed)

    _build_optimizers(model, strategy)
    initial_epoch = 0
    if backup is not None:
        backup.attach(model)
        initial_epoch = backup.restore()

    @tf.function
    def train_step(batch):
        strategy.run(model.train_step, args=(batch,))

    @tf.function
    def test_step(batch):
        strategy.run(model.test_step, args=(batch,))

    steps = None if dataset_input else -(-training.count // batch_size)
    callback_list = keras.callbacks.CallbackList(list(callbacks), add_history=True, model=model, verbose=0,
                                                 epochs=epochs, steps=steps)
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    step = 0
    for epoch in range(initial_epoch, epochs):
        started = time.perf_counter()
        callback_list.on_epoch_begin(epoch)
        model.reset_metrics()
        for batch_index, batch in enumerate(training.epoch(epoch)):
            train_step(batch)
            step += 1
            if backup is not None and backup.every and step % backup.every == 0:
                backup.save(epoch, batch_index + 1)
        logs = _pythonify(model.get_metrics_result())
        if not _finite(logs):
            raise RuntimeError(f"NaN or infinite loss in epoch {epoch + 1} ({logs}); training stopped")
        if validation is not None:
            model.reset_metrics()
            for batch in validation.epoch(0):
                test_step(batch)
            logs.update({f"val_{key}": value for key, value in _pythonify(model.get_metrics_result()).items()})
        callback_list.on_epoch_end(epoch, logs)
        if backup is not None:
            backup.save(epoch + 1)
        if verbose:
            values = " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
            print(f"epoch {epoch + 1}/{epochs} - {time.perf_counter() - started:.1f}s - {values}", flush=True)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _detach(model)
    return model.history


def _detach(model):
    """Let ``evaluate`` / ``predict`` of the model and the models inside it run on each worker alone
    (Keras 3's distributed evaluate fails under MultiWorkerMirroredStrategy, like fit)."""
    for layer in [model, *model._flatten_layers(include_self=False)]:
        if isinstance(layer, keras.Model) and hasattr(layer, "_distribute_strategy"):
            layer._distribute_strategy = None
