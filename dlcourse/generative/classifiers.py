"""Generative classifiers for lab 24: Bayes' rule over class-conditional densities, with missing inputs.

000 Unit IV, "Comparison between discriminative and generative models" (000 L1892-L1907): a
generative model learns p(x, y) = p(x | y) p(y) and classifies by Bayes' rule,
p(y | x) = p(x | y) p(y) / sum_c p(x | c) p(c); a discriminative one learns p(y | x) directly. The
densities are scikit-learn's (``GaussianNB``; one ``GaussianMixture`` per class); this module adds
what the comparison needs on top of them:

- :class:`GaussianMixtureClassifier`: one Gaussian mixture per class plus the class priors;
  ``predict``, ``predict_proba``, ``sample`` (new inputs of a chosen class) and the class
  log-likelihoods with a ``missing`` mask.
- :func:`naive_bayes_log_joint`: a fitted ``GaussianNB``'s log p(x_observed, y) with a ``missing`` mask.
- Missing inputs: for diagonal Gaussians the marginal of the observed dimensions is the same
  Gaussian with the hidden dimensions dropped, so log p(x_observed | y) is the sum over observed
  dimensions only (exact marginalisation, no imputation). A discriminative model has no p(x) to
  marginalise and gets the hidden inputs imputed (:func:`mean_impute`).
"""

import time

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

__all__ = ["GaussianMixtureClassifier", "naive_bayes_log_joint", "bayes_posterior", "hide_inputs",
           "mean_impute", "fit_seconds"]

MARGINAL_COVARIANCES = ("diag", "spherical")  # those whose marginals drop dimensions independently
LOG_2PI = np.log(2.0 * np.pi)


def _observed(x, missing):
    """The observed-input mask (float, shape of ``x``) for a ``missing`` mask (None: all observed)."""
    if missing is None:
        return np.ones_like(x, dtype="float64")
    missing = np.asarray(missing, dtype=bool)
    if missing.shape != x.shape:
        raise ValueError(f"missing mask has shape {missing.shape}, inputs {x.shape}")
    return (~missing).astype("float64")


def _diagonal_log_density(x, observed, means, variances):
    """sum over observed d of log N(x_d; mean_d, variance_d): shape (n,) for one Gaussian."""
    terms = (x - means) ** 2 / variances + LOG_2PI + np.log(variances)
    return -0.5 * np.sum(observed * terms, axis=1)


def bayes_posterior(log_joint):
    """Bayes' rule: p(y | x) = p(x, y) / sum_c p(x, c) from log p(x, y) of shape (n, classes)."""
    log_joint = np.asarray(log_joint, dtype="float64")
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))


def naive_bayes_log_joint(model, x, missing=None):
    """log p(x_observed, y) of a fitted ``sklearn.naive_bayes.GaussianNB``, shape (n, classes).

    With ``missing=None`` this is ``model.predict_joint_log_proba(x)``; with a boolean mask the hidden
    inputs are dropped from each class's diagonal Gaussian (their exact marginalisation).
    """
    x = np.asarray(x, dtype="float64")
    observed = _observed(x, missing)
    columns = [np.log(prior) + _diagonal_log_density(x, observed, mean, variance)
               for prior, mean, variance in zip(model.class_prior_, model.theta_, model.var_)]
    return np.stack(columns, axis=1)


class GaussianMixtureClassifier(ClassifierMixin, BaseEstimator):
    """One ``sklearn.mixture.GaussianMixture`` per class and the class frequencies as priors.

    Args:
        n_components: mixture components per class; a class with fewer training examples gets one
            component per example (``components_`` records what each class got).
        covariance_type: scikit-learn's ``"diag"`` (default), ``"spherical"``, ``"tied"`` or ``"full"``;
            a ``missing`` mask needs ``"diag"`` or ``"spherical"``.
        var_smoothing: as ``GaussianNB``: ``var_smoothing * max(per-input variance of all training
            inputs)`` is added to every variance (``reg_covar_``), so with one diagonal component per
            class the classifier IS ``GaussianNB(var_smoothing=...)``.
        reg_covar: a fixed value added to the variances instead (overrides ``var_smoothing``).
        max_iter, n_init, random_state: passed to every ``GaussianMixture``.

    ``predict_proba`` is Bayes' rule over ``log p(x | y) + log p(y)``.
    """

    def __init__(self, n_components=1, covariance_type="diag", var_smoothing=1e-9, reg_covar=None,
                 max_iter=100, n_init=1, random_state=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.var_smoothing = var_smoothing
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, x, y):
        x, y = np.asarray(x, dtype="float64"), np.asarray(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.class_prior_ = counts / counts.sum()
        self.reg_covar_ = (float(self.reg_covar) if self.reg_covar is not None
                           else float(self.var_smoothing * np.var(x, axis=0).max()))
        self.components_ = [int(min(self.n_components, count)) for count in counts]
        self.mixtures_ = [
            GaussianMixture(n_components=components, covariance_type=self.covariance_type,
                            reg_covar=self.reg_covar_, max_iter=self.max_iter, n_init=self.n_init,
                            random_state=self.random_state).fit(x[y == label])
            for label, components in zip(self.classes_, self.components_)]
        self.n_features_in_ = x.shape[1]
        return self

    def _component_variances(self, mixture):
        if self.covariance_type == "diag":
            return mixture.covariances_
        if self.covariance_type == "spherical":
            return np.repeat(mixture.covariances_[:, None], self.n_features_in_, axis=1)
        raise ValueError(f"marginalising a missing mask needs covariance_type in {MARGINAL_COVARIANCES}, "
                         f"not {self.covariance_type!r}")

    def class_log_likelihood(self, x, missing=None):
        """log p(x_observed | y) for every class, shape (n, classes).

        ``missing=None`` is scikit-learn's ``score_samples``; with a boolean mask (True = hidden) each
        component's hidden dimensions are dropped before the mixture's log-sum-exp: the exact
        marginal likelihood of the observed inputs.
        """
        x = np.asarray(x, dtype="float64")
        if missing is None:
            return np.stack([mixture.score_samples(x) for mixture in self.mixtures_], axis=1)
        observed = _observed(x, missing)
        columns = []
        for mixture in self.mixtures_:
            variances = self._component_variances(mixture)
            per_component = np.stack([np.log(weight) + _diagonal_log_density(x, observed, mean, variance)
                                      for weight, mean, variance in zip(mixture.weights_, mixture.means_,
                                                                        variances)], axis=1)
            columns.append(logsumexp(per_component, axis=1))
        return np.stack(columns, axis=1)

    def log_joint(self, x, missing=None):
        """log p(x_observed, y) = log p(x_observed | y) + log p(y), shape (n, classes)."""
        return self.class_log_likelihood(x, missing) + np.log(self.class_prior_)

    def predict_proba(self, x, missing=None):
        """p(y | x_observed) by Bayes' rule; rows sum to 1."""
        return bayes_posterior(self.log_joint(x, missing))

    def predict(self, x, missing=None):
        return self.classes_[np.argmax(self.log_joint(x, missing), axis=1)]

    def sample(self, samples_per_class, *, value_range=None):
        """``samples_per_class`` new inputs from each class's mixture (scikit-learn's ``sample``).

        Returns ``(x, y)``: x of shape (classes * samples_per_class, features), clipped to
        ``value_range`` (low, high) if given; y the class of each row, in class order.
        """
        samples = [mixture.sample(samples_per_class)[0] for mixture in self.mixtures_]
        x = np.concatenate(samples)
        if value_range is not None:
            x = np.clip(x, *value_range)
        return x, np.repeat(self.classes_, samples_per_class)

    @property
    def n_parameters_(self):
        """Free parameters: every mixture's (scikit-learn's count) plus classes - 1 priors."""
        return int(sum(mixture._n_parameters() for mixture in self.mixtures_) + len(self.classes_) - 1)


def hide_inputs(shape, share, seed):
    """A boolean mask of ``shape``: each input hidden (True) independently with probability ``share``."""
    return np.random.default_rng(seed).random(shape) < share


def mean_impute(x, missing, means):
    """``x`` with its hidden inputs replaced by ``means`` (per input, e.g. the training means)."""
    return np.where(missing, np.broadcast_to(means, np.shape(x)), x)


def fit_seconds(estimator, x, y):
    """``estimator.fit(x, y)`` on one BLAS thread and the seconds it took (for the comparison table; a
    lab wraps the call in ``run.timed`` so run.json's training time counts it too).

    One thread because these fits are small: OpenBLAS threads spin against each other on a shared
    CPU (``LogisticRegression`` on 1,437 digits took 25 s with 2 threads, 1.6 s with 1, on a loaded
    2-core machine), and one thread makes the models' seconds comparable.
    """
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        estimator.fit(x, y)
        return time.perf_counter() - started
