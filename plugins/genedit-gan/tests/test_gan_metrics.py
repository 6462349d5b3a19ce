"""FID, KID, IS and histogram maths, checked against direct scipy/numpy computations."""

from __future__ import annotations

import numpy as np
import pytest

from genedit_core.metrics_generative import class_histogram, fid, frechet_distance, inception_score, kid


def _scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("shift", [0.0, 0.5, 3.0])
def test_fid_matches_scipy_sqrtm(shift):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 12)) @ rng.normal(size=(12, 12))
    b = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12)) + shift
    assert fid(a, b) == pytest.approx(_scipy_fid(a, b), rel=1e-6, abs=1e-6)


def test_fid_of_gaussians_has_the_closed_form():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(
        np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])
    ) == pytest.approx(4.0 + 1.0)
    x = np.random.default_rng(0).normal(size=(500, 5))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same, _ = kid(a, b, subsets=20, subset_size=300)
    diff, _ = kid(a, b + 1.0, subsets=20, subset_size=300)
    assert abs(same) < 0.05
    assert diff > 20 * max(abs(same), 1e-3)


def test_kid_matches_a_direct_unbiased_mmd():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 0.3
    k = lambda x, y: (x @ y.T / 4 + 1) ** 3  # noqa: E731
    m = 50
    expected = (
        (k(a, a).sum() - np.trace(k(a, a))) / (m * (m - 1))
        + (k(b, b).sum() - np.trace(k(b, b))) / (m * (m - 1))
        - 2 * k(a, b).mean()
    )
    got, std = kid(a, b, subsets=3, subset_size=50)
    assert got == pytest.approx(expected, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)  # every subset is the whole set


def test_inception_score_bounds_and_histogram():
    onehot = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(onehot)[0] == pytest.approx(10.0, rel=1e-6)
    collapsed = np.eye(10)[np.zeros(1000, dtype=int)]
    assert inception_score(collapsed)[0] == pytest.approx(1.0, rel=1e-6)
    uniform = np.full((100, 10), 0.1)
    assert inception_score(uniform)[0] == pytest.approx(1.0, rel=1e-6)
    mean, std = inception_score(onehot, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-9)
    hist = class_histogram(np.eye(3)[[0, 0, 1, 2]])
    np.testing.assert_allclose(hist, [0.5, 0.25, 0.25])
