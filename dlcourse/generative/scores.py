"""Scoring generated images: a Fréchet distance and an Inception-Score-style score (003 §4.8.2).

The handbook (003 §4.8.2.1-§4.8.2.2) names the Inception Score (IS) and the Fréchet Inception Distance (FID)
but prints no formula. Standard definitions (Salimans et al. 2016; Heusel et al. 2017):

* Fréchet distance between Gaussians fitted to two feature sets,
  ``d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))``  (lower is better, 0 for equal statistics);
* Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` in ``[1, K]`` for K classes (higher is better:
  each sample confidently one class, all classes equally often).

IMPORTANT: the real FID / IS use features and class probabilities of the ImageNet Inception-v3
network. Here the features (``f"{name}_features"``, 128 units) and probabilities come from a SMALL
MNIST CLASSIFIER the package trains (:func:`train_feature_classifier`,
:func:`dlcourse.models.gan.build_gan_feature_classifier`). The numbers are therefore only comparable
between runs scored with the same classifier; they are NOT comparable with published FID / IS values.
That is why they are called ``frechet_classifier_distance`` and ``classifier_score``.

Precision and recall (003 §4.8.2.3; Kynkäänniemi et al. 2019's k-nearest-neighbour manifolds) work on any
feature vectors: :func:`precision_recall` (lab 25 scores 2-D points directly).
"""

import warnings

import keras
import numpy as np
import scipy.linalg

from dlcourse.data.pipeline import pipeline
from dlcourse.models.gan import build_gan_feature_classifier

__all__ = [
    "feature_statistics",
    "frechet_distance",
    "classifier_score",
    "train_feature_classifier",
    "feature_model",
    "score_images",
    "to_signed_unit",
    "knn_radii",
    "precision_recall",
]

SCORE_NOTE = ("Frechet distance and Inception-Score-style score use a small MNIST classifier trained by "
              "the package, not Inception-v3; not comparable with published FID/IS")


def to_signed_unit(images):
    """uint8 images in [0, 255] -> float32 in [-1, 1], the range of the tanh generators."""
    return np.asarray(images, dtype="float32") / 127.5 - 1.0


def feature_statistics(features):
    """Mean vector and covariance matrix (unbiased, ``n - 1``) of ``(n, d)`` features, as float64."""
    features = np.asarray(features, dtype="float64")
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least two feature vectors (n, d); got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def frechet_distance(mean_1, covariance_1, mean_2, covariance_2, *, epsilon=1e-6):
    """Squared Fréchet (2-Wasserstein) distance between N(mean_1, covariance_1) and N(mean_2, covariance_2).

    ``||mu_1 - mu_2||^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^(1/2))``, the matrix square root from
    ``scipy.linalg.sqrtm``. If the product is singular (e.g. fewer samples than feature dimensions),
    ``epsilon`` is added to both diagonals, as the reference FID implementation does; the tiny imaginary
    parts sqrtm returns for numerical reasons are dropped.
    """
    mean_1, mean_2 = np.atleast_1d(mean_1).astype("float64"), np.atleast_1d(mean_2).astype("float64")
    covariance_1 = np.atleast_2d(covariance_1).astype("float64")
    covariance_2 = np.atleast_2d(covariance_2).astype("float64")
    if mean_1.shape != mean_2.shape or covariance_1.shape != covariance_2.shape or \
            covariance_1.shape != (len(mean_1), len(mean_1)):
        raise ValueError("means must have shape (d,) and covariances (d, d), the same for both distributions")
    difference = mean_1 - mean_2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(covariance_1 @ covariance_2)
    if caught or not np.all(np.isfinite(root)):  # singular product: regularise both covariances
        offset = np.eye(len(mean_1)) * epsilon
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            root = scipy.linalg.sqrtm((covariance_1 + offset) @ (covariance_2 + offset))
    root = np.real(root)
    distance = difference @ difference + np.trace(covariance_1) + np.trace(covariance_2) - 2.0 * np.trace(root)
    return float(max(distance, 0.0))


def classifier_score(probabilities, *, splits=1):
    """Inception-Score formula ``exp(mean_x KL(p(y|x) || p(y)))`` for ``(n, K)`` class probabilities.

    ``p(y)`` is the mean prediction over the (split of the) samples. Returns the mean over ``splits``
    equal parts (the reference IS uses 10); 1 when every sample gets the same prediction, K when
    predictions are one-hot and the classes are used equally.
    """
    probabilities = np.asarray(probabilities, dtype="float64")
    if probabilities.ndim != 2 or len(probabilities) < splits or splits < 1:
        raise ValueError(f"need (n, classes) probabilities with n >= splits >= 1; got {probabilities.shape}")
    scores = []
    for part in np.array_split(probabilities, splits):
        part = np.clip(part, 1e-12, 1.0)
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part) - np.log(marginal)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores))


def _pairwise_distances(a, b):
    """Euclidean distances ``(len(a), len(b))`` between the rows of two float64 arrays."""
    squared = np.sum(a ** 2, axis=1)[:, None] + np.sum(b ** 2, axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))


def _as_features(features, name):
    features = np.asarray(features, dtype="float64")
    if features.ndim == 1:
        features = features[:, None]
    if features.ndim != 2 or not len(features):
        raise ValueError(f"{name} must be (n, d) features with n >= 1; got shape {features.shape}")
    return features.reshape(len(features), -1)


def knn_radii(features, *, k=3, batch_size=1024):
    """Distance from each of ``(n, d)`` features to its ``k``-th nearest OTHER feature (``n > k`` needed).

    The radius of each point's ball in Kynkäänniemi et al.'s (2019) k-NN estimate of a manifold.
    """
    features = _as_features(features, "features")
    if not 1 <= k < len(features):
        raise ValueError(f"need 1 <= k < number of features; got k={k}, n={len(features)}")
    radii = []
    for start in range(0, len(features), batch_size):
        distances = _pairwise_distances(features[start:start + batch_size], features)
        # column k of the sorted row: column 0 is the point itself (distance 0)
        radii.append(np.partition(distances, k, axis=1)[:, k])
    return np.concatenate(radii)


def _share_inside(points, centres, radii, batch_size):
    """Share of ``points`` within ``radii[j]`` of some ``centres[j]`` (inside the k-NN manifold)."""
    inside = []
    for start in range(0, len(points), batch_size):
        distances = _pairwise_distances(points[start:start + batch_size], centres)
        inside.append(np.any(distances <= radii[None, :] * (1.0 + 1e-9) + 1e-12, axis=1))
    return float(np.mean(np.concatenate(inside)))


def precision_recall(real_features, generated_features, *, k=3, batch_size=1024):
    """Precision and recall of generated samples (003 §4.8.2.3), Kynkäänniemi et al. 2019's k-NN version.

    The handbook names them (fidelity and coverage) without a definition. Each set's manifold is the
    union of balls around its points, of radius the distance to the point's ``k``-th nearest neighbour
    in the same set (:func:`knn_radii`; the paper uses k = 3). Then

    * ``precision`` = share of GENERATED samples inside the REAL manifold (are the samples realistic?);
    * ``recall`` = share of REAL samples inside the GENERATED manifold (is the data covered?).

    Features are any ``(n, d)`` vectors: points themselves for 2-D data, a network's features for images.
    Identical sets give (1, 1); samples of half of the real modes give precision 1, recall about 1/2.
    Returns a dict ``{"precision": p, "recall": r}`` of floats in [0, 1].
    """
    real = _as_features(real_features, "real_features")
    generated = _as_features(generated_features, "generated_features")
    if real.shape[1] != generated.shape[1]:
        raise ValueError(f"real and generated features differ in size: {real.shape[1]} vs {generated.shape[1]}")
    real_radii = knn_radii(real, k=k, batch_size=batch_size)
    generated_radii = knn_radii(generated, k=k, batch_size=batch_size)
    return {"precision": _share_inside(generated, real, real_radii, batch_size),
            "recall": _share_inside(real, generated, generated_radii, batch_size)}


def train_feature_classifier(images, labels, *, num_classes=10, epochs=3, batch_size=128, learning_rate=1e-3,
                             seed=0, verbose=0):
    """Train the scoring classifier on real images (uint8 or already in [-1, 1]) and integer labels.

    About 99% test accuracy on MNIST after 3 epochs (about 92% on the small ``digits`` sample).
    Returns the trained (compiled) classifier.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = to_signed_unit(images)
    keras.utils.set_random_seed(seed)
    classifier = build_gan_feature_classifier(image_shape=images.shape[1:], num_classes=num_classes)
    classifier.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                       metrics=["accuracy"])
    # a pipeline reshuffled every epoch: seeded, Keras' own array input repeats one order (data.pipeline)
    classifier.fit(pipeline(images, np.asarray(labels), batch_size=batch_size, seed=seed), epochs=epochs,
                   shuffle=False, verbose=verbose)
    return classifier


def feature_model(classifier):
    """``images -> [features, probabilities]`` sharing the classifier's weights (layer ``*_features``)."""
    features = [layer for layer in classifier.layers if layer.name.endswith("_features")]
    if len(features) != 1:
        raise ValueError(f"classifier {classifier.name!r} needs exactly one layer named '*_features'")
    return keras.Model(classifier.inputs[0], [features[0].output, classifier.outputs[0]],
                       name=f"{classifier.name}_scorer")


def score_images(classifier, real_images, generated_images, *, batch_size=256, splits=1):
    """Fréchet classifier distance (real vs generated) and classifier scores of both sets.

    Images are float in [-1, 1] (or uint8, converted). Returns a dict for run.json:
    ``frechet_classifier_distance``, ``classifier_score`` (generated), ``classifier_score_real``
    (the real images' score: the ceiling a perfect generator would reach with this classifier).
    """
    scorer = feature_model(classifier)

    def run(images):
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = to_signed_unit(images)
        images = images.astype("float32")
        # Eager calls batch by batch: no tf.function tracing for each new scorer / last-batch shape.
        outputs = [scorer(images[start:start + batch_size], training=False)
                   for start in range(0, len(images), batch_size)]
        return (np.concatenate([np.asarray(features) for features, _ in outputs]),
                np.concatenate([np.asarray(probabilities) for _, probabilities in outputs]))

    real_features, real_probabilities = run(real_images)
    fake_features, fake_probabilities = run(generated_images)
    distance = frechet_distance(*feature_statistics(real_features), *feature_statistics(fake_features))
    return {
        "frechet_classifier_distance": distance,
        "classifier_score": classifier_score(fake_probabilities, splits=splits),
        "classifier_score_real": classifier_score(real_probabilities, splits=splits),
    }
