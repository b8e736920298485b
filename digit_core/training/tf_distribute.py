"""The TensorFlow side of ``digit_core.training.distribute``: the strategies, and the ``tf.data`` input they read.

Kept apart because importing it imports TensorFlow, which ``distribute`` does only when a strategy is
actually made.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from digit_core.data.augment import augment_images
from digit_core.training.keras_hooks import one_hot, prepare_images


class KerasMultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy as Keras 3's ``fit`` calls it.

    Across workers Keras 3.15 asks ``reduce`` for a mean of a whole (images, labels) batch, and of
    scalar metrics along axis 0, which TensorFlow refuses (keras-team/keras#20585). Each tensor is
    reduced on its own here, scalars over replicas only; everything else is TensorFlow's.
    """

    def reduce(self, reduce_op, value, axis):  # noqa: D102 (tf.distribute.Strategy.reduce)
        def reduce_one(tensor):
            local = tensor.values[0] if isinstance(tensor, tf.distribute.DistributedValues) else tensor
            scalar = tf.convert_to_tensor(local).shape.rank == 0
            return super(KerasMultiWorkerStrategy, self).reduce(reduce_op, tensor, None if scalar else axis)

        return tf.nest.map_structure(reduce_one, value)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``mirrored`` over every local GPU (else every logical CPU), or ``multi-worker`` from TF_CONFIG."""
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi-worker":
        try:
            # Ring all-reduce on CPUs, NCCL on GPUs: TensorFlow chooses (CommunicationOptions' AUTO).
            return KerasMultiWorkerStrategy(communication_options=tf.distribute.experimental.CommunicationOptions())
        except RuntimeError as error:
            raise ValueError("multi-worker training must start before TensorFlow runs anything in the process "
                             f"(start it from the command line, one process per worker): {error}") from None
    raise ValueError(f"No tf.distribute strategy is called {name!r}.")


def training_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, normalization: str, seed: int,
                     augment: bool) -> tf.data.Dataset:
    """Global batches of (images (batch, 28, 28, 1) float32, one-hot labels (batch, 10)), reshuffled each epoch.

    Every worker shuffles alike (the same seed), so sharding by data gives each its own share of
    every batch. Augmentation runs in the pipeline, on uint8 images, as ``digit_core.data.augment`` does.
    """
    if augment:
        dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    else:
        dataset = tf.data.Dataset.from_tensor_slices((prepare_images(images, normalization), one_hot(labels)))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augment:
        dataset = dataset.map(_augmenter(normalization, seed))
    return _sharded_by_data(dataset.prefetch(tf.data.AUTOTUNE))


def validation_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int,
                       normalization: str) -> tf.data.Dataset:
    """The validation images in global batches, each worker evaluating its share."""
    dataset = tf.data.Dataset.from_tensor_slices((prepare_images(images, normalization), one_hot(labels)))
    return _sharded_by_data(dataset.batch(batch_size))


def _augmenter(normalization: str, seed: int):
    rng = np.random.default_rng(seed)

    def augment_batch(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return prepare_images(augment_images(images, rng), normalization), one_hot(labels)

    def augment(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        prepared, targets = tf.numpy_function(augment_batch, [images, labels], (tf.float32, tf.float32))
        prepared.set_shape([None, 28, 28, 1])  # (batch, 28, 28, 1)
        targets.set_shape([None, 10])
        return prepared, targets

    return augment


def _sharded_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    # The images are in memory, not in files, so each worker takes its share of the elements.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
