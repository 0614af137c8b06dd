"""dlcourse.generative.classifiers (lab 24's generative classifiers) against scikit-learn and NumPy oracles,
and the discriminative MLP builder of dlcourse.models.discriminative."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.naive_bayes import GaussianNB

from dlcourse import data
from dlcourse.generative.classifiers import (GaussianMixtureClassifier, bayes_posterior, hide_inputs, mean_impute,
                                             naive_bayes_log_joint)
from dlcourse.models import count_parameters
from dlcourse.models.discriminative import build_discriminative_mlp

from contract import make_contract_test

# default: 784 * 128 + 128 + 128 * 10 + 10
CONTRACT_CASES = {"discriminative_mlp": (dict(input_dim=6, hidden_units=(4, 3), num_classes=3), 101_770)}
test_builder_contract = make_contract_test(CONTRACT_CASES)

VAR_SMOOTHING = 0.1  # the lab's default


def _flat(images):
    return images.reshape(len(images), -1).astype("float64") / 255.0


@pytest.fixture(scope="module")
def digits():
    """400 training and 120 test digits, flattened to [0, 1] (the embedded data, as lab 24 uses it)."""
    (x, y), (x_test, y_test) = data.load("digits"), data.load("digits", split="test")
    return _flat(x[:400]), y[:400], _flat(x_test[:120]), y_test[:120]


@pytest.fixture(scope="module")
def naive_bayes(digits):
    x, y, _, _ = digits
    return GaussianNB(var_smoothing=VAR_SMOOTHING).fit(x, y)


def _kept_columns(x, share, seed):
    """A fixed set of columns to keep (the same for every row) that includes the highest-variance one,
    so GaussianNB's smoothing (var_smoothing * largest variance) is the same after a refit on them."""
    keep = np.random.default_rng(seed).random(x.shape[1]) >= share
    keep[np.argmax(x.var(axis=0))] = True
    return keep


def test_naive_bayes_log_joint_without_a_mask_is_sklearns(digits, naive_bayes):
    _, _, x_test, _ = digits
    np.testing.assert_allclose(naive_bayes_log_joint(naive_bayes, x_test), naive_bayes.predict_joint_log_proba(x_test),
                               rtol=1e-10)


def test_missing_pixel_marginal_is_gaussian_nb_refit_on_the_kept_pixels(digits, naive_bayes):
    x, y, x_test, _ = digits
    keep = _kept_columns(x, 0.6, seed=3)
    missing = np.broadcast_to(~keep, x_test.shape)
    refit = GaussianNB(var_smoothing=VAR_SMOOTHING).fit(x[:, keep], y)
    expected = refit.predict_joint_log_proba(x_test[:, keep])
    np.testing.assert_allclose(naive_bayes_log_joint(naive_bayes, x_test, missing), expected, rtol=1e-9)
    mixture = GaussianMixtureClassifier(n_components=1, var_smoothing=VAR_SMOOTHING, random_state=0).fit(x, y)
    np.testing.assert_allclose(mixture.log_joint(x_test, missing), expected, rtol=1e-7)
    # hiding pixels changes the likelihood: the mask is not ignored
    assert not np.allclose(naive_bayes_log_joint(naive_bayes, x_test), expected)


def test_one_diagonal_component_per_class_is_gaussian_nb(digits, naive_bayes):
    x, y, x_test, _ = digits
    mixture = GaussianMixtureClassifier(n_components=1, covariance_type="diag", var_smoothing=VAR_SMOOTHING,
                                        random_state=0).fit(x, y)
    assert mixture.reg_covar_ == pytest.approx(naive_bayes.epsilon_, rel=1e-12)
    np.testing.assert_array_equal(mixture.predict(x_test), naive_bayes.predict(x_test))
    np.testing.assert_allclose(mixture.log_joint(x_test), naive_bayes.predict_joint_log_proba(x_test), rtol=1e-7)
    np.testing.assert_allclose(mixture.predict_proba(x_test), naive_bayes.predict_proba(x_test), atol=1e-6)
    np.testing.assert_allclose(mixture.class_prior_, naive_bayes.class_prior_)
    # free parameters: 10 classes x (784 means + 784 variances) + 9 priors, as GaussianNB's theta_ and var_
    assert mixture.n_parameters_ == naive_bayes.theta_.size + naive_bayes.var_.size + 9 == 15_689


@pytest.fixture(scope="module")
def mixture3(digits):
    x, y, _, _ = digits
    return GaussianMixtureClassifier(n_components=3, var_smoothing=VAR_SMOOTHING, random_state=0).fit(x, y)


def test_a_mask_hiding_nothing_is_sklearns_score_samples(digits, mixture3):
    _, _, x_test, _ = digits
    nothing = np.zeros(x_test.shape, dtype=bool)
    np.testing.assert_allclose(mixture3.class_log_likelihood(x_test, nothing), mixture3.class_log_likelihood(x_test),
                               rtol=1e-9)


def test_mixture_marginal_matches_a_scipy_oracle(digits, mixture3):
    _, _, x_test, _ = digits
    missing = hide_inputs(x_test.shape, 0.5, seed=7)
    ours = mixture3.class_log_likelihood(x_test[:3], missing[:3])
    for row in range(3):
        observed = ~missing[row]
        for label, gaussians in enumerate(mixture3.mixtures_):
            per_component = [np.log(weight) + norm.logpdf(x_test[row, observed], mean[observed],
                                                          np.sqrt(variance[observed])).sum()
                             for weight, mean, variance in zip(gaussians.weights_, gaussians.means_,
                                                               gaussians.covariances_)]
            assert ours[row, label] == pytest.approx(logsumexp(per_component), rel=1e-9)


def test_bayes_posteriors_sum_to_one_with_and_without_missing_pixels(digits, mixture3):
    _, _, x_test, y_test = digits
    for missing in (None, hide_inputs(x_test.shape, 0.75, seed=1)):
        posterior = mixture3.predict_proba(x_test, missing)
        assert posterior.shape == (len(x_test), 10) and np.all(posterior >= 0)
        np.testing.assert_allclose(posterior.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_array_equal(mixture3.predict(x_test, missing), np.argmax(posterior, axis=1))
    assert np.mean(mixture3.predict(x_test) == y_test) > 0.8
    # Bayes' rule by hand: p(y|x) = p(x,y) / sum_c p(x,c)
    log_joint = np.log([[0.1, 0.3], [2e-300, 6e-300]])
    np.testing.assert_allclose(bayes_posterior(log_joint), [[0.25, 0.75], [0.25, 0.75]], rtol=1e-12)


def test_samples_have_the_datas_shape_and_range(digits, mixture3):
    x, y, _, _ = digits
    images, labels = mixture3.sample(4, value_range=(0.0, 1.0))
    assert images.shape == (40, 784) and images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 4))
    many, many_labels = mixture3.sample(400)  # unclipped: their mean is the class's mixture mean
    for label in (0, 7):
        mixture_mean = mixture3.mixtures_[label].weights_ @ mixture3.mixtures_[label].means_
        assert np.abs(many[many_labels == label].mean(axis=0) - mixture_mean).max() < 0.1


def test_small_classes_get_one_component_per_example_and_full_covariance_refuses_a_mask(digits):
    x, y, x_test, _ = digits
    few = np.concatenate([np.flatnonzero(y == 0)[:2], np.flatnonzero(y == 1)[:30]])
    model = GaussianMixtureClassifier(n_components=5, var_smoothing=VAR_SMOOTHING, random_state=0).fit(x[few], y[few])
    assert model.components_ == [2, 5]
    spherical = GaussianMixtureClassifier(n_components=2, covariance_type="spherical", var_smoothing=VAR_SMOOTHING,
                                          random_state=0).fit(x[few], y[few])
    nothing = np.zeros((5, x.shape[1]), dtype=bool)
    np.testing.assert_allclose(spherical.log_joint(x_test[:5], nothing), spherical.log_joint(x_test[:5]), rtol=1e-9)
    tied = GaussianMixtureClassifier(n_components=1, covariance_type="tied", reg_covar=0.05).fit(x[few, :20], y[few])
    with pytest.raises(ValueError, match="diag"):
        tied.log_joint(x_test[:5, :20], nothing[:, :20])


def test_hidden_inputs_and_mean_imputation():
    mask = hide_inputs((200, 500), 0.3, seed=0)
    assert mask.dtype == bool and abs(mask.mean() - 0.3) < 0.01
    np.testing.assert_array_equal(mask, hide_inputs((200, 500), 0.3, seed=0))
    x = np.arange(6.0).reshape(2, 3)
    hidden = np.array([[True, False, False], [False, False, True]])
    np.testing.assert_array_equal(mean_impute(x, hidden, np.array([9.0, 8.0, 7.0])), [[9, 1, 2], [3, 4, 7]])


@pytest.mark.parametrize("hidden_units", [(128,), (16, 8), ()])
def test_mlp_parameter_count_by_formula(hidden_units):
    widths = (784, *hidden_units, 10)
    expected = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(widths[:-1], widths[1:]))
    assert count_parameters(build_discriminative_mlp, hidden_units=hidden_units) == expected
    model = build_discriminative_mlp(hidden_units=hidden_units)
    assert model.count_params() == expected and model.output_shape == (None, 10)
    assert model.layers[-1].get_config()["activation"] == "softmax"
