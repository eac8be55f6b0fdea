"""Each optimizer against its closed-form update, over several steps."""

import math

import numpy as np
import pytest

import nnfast as nf
from nnfast import _core
from nnfast import _reference as ref

CASES = {
    "sgd": (nf.SGD(lr=0.1), {}),
    "momentum": (nf.SGD(lr=0.1, momentum=0.9), {"momentum": 0.9}),
    "nesterov": (nf.SGD(lr=0.1, momentum=0.8, nesterov=True), {"momentum": 0.8, "nesterov": True}),
    "adagrad": (nf.Adagrad(lr=0.05, eps=1e-6), {"eps": 1e-6}),
    "rmsprop": (nf.RMSProp(lr=0.01, rho=0.8, eps=1e-6), {"rho": 0.8, "eps": 1e-6}),
    "adam": (nf.Adam(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-7), {"beta1": 0.8, "beta2": 0.95, "eps": 1e-7}),
    "adamw": (nf.AdamW(lr=0.01, weight_decay=0.1), {"weight_decay": 0.1}),
}
PENALTIES = {"none": {}, "l1+l2": {"l1": 0.01, "l2": 0.1}, "clipped": {"clip_norm": 0.5}}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("case", list(CASES))
def test_steps_match_numpy_closed_form(case, penalty, dtype):
    spec, settings = CASES[case]
    extra = PENALTIES[penalty]
    config = spec.config(extra.get("l1", 0.0), extra.get("l2", 0.0), extra.get("clip_norm"))
    rng = np.random.default_rng(0)
    n, n_decay = 50, 30
    p = rng.normal(size=n).astype(dtype)
    s1, s2 = np.zeros(n, dtype), np.zeros(n, dtype)
    q, r1, r2 = p.copy(), s1.copy(), s2.copy()
    for t in range(1, 6):
        g = rng.normal(size=n).astype(dtype)
        got = _core.optimizer_step(config, p, g, s1, s2, n_decay, t)
        want = ref.optimizer_step(spec.name, q, g, r1, r2, n_decay, t, lr=spec.lr, **settings, **extra)
        tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(p, q, **tol)
        np.testing.assert_allclose(s1, r1, **tol)
        np.testing.assert_allclose(s2, r2, **tol)
        assert got[0] == pytest.approx(want[0], rel=1e-6)
        assert (math.isnan(got[1]) and math.isnan(want[1])) or got[1] == pytest.approx(want[1], rel=1e-6)


def test_adam_first_step_worked_example():
    # t = 1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2, so w -= lr * g / (|g| + eps)
    p = np.array([1.0, -2.0, 0.5])
    g = np.array([0.2, -0.4, 0.0])
    s1, s2 = np.zeros(3), np.zeros(3)
    _core.optimizer_step(nf.Adam(lr=0.1, eps=1e-8).config(), p, g, s1, s2, 3, 1)
    np.testing.assert_allclose(p, [1.0 - 0.1 * 0.2 / (0.2 + 1e-8), -2.0 + 0.1 * 0.4 / (0.4 + 1e-8), 0.5])
    np.testing.assert_allclose(s1, [0.02, -0.04, 0.0])
    np.testing.assert_allclose(s2, [0.001 * 0.04, 0.001 * 0.16, 0.0])


def test_momentum_worked_example():
    # v1 = g1 = 1, w = 1 - 0.1 = 0.9; v2 = 0.9 * 1 + 2 = 2.9, w = 0.9 - 0.29 = 0.61
    p, s1, s2 = np.array([1.0]), np.zeros(1), np.zeros(1)
    config = nf.SGD(lr=0.1, momentum=0.9).config()
    _core.optimizer_step(config, p, np.array([1.0]), s1, s2, 1, 1)
    _core.optimizer_step(config, p, np.array([2.0]), s1, s2, 1, 2)
    assert p[0] == pytest.approx(0.61)


def test_clipping_rescales_to_the_norm_and_reports_it():
    p, s1, s2 = np.zeros(2), np.zeros(2), np.zeros(2)
    penalty, norm = _core.optimizer_step(nf.SGD(lr=1.0).config(clip_norm=1.0), p, np.array([3.0, 4.0]), s1, s2, 2, 1)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(p, [-0.6, -0.8])


def test_biases_are_not_penalised_or_decayed():
    p = np.ones(4)
    g, s1, s2 = np.zeros(4), np.zeros(4), np.zeros(4)
    _core.optimizer_step(nf.AdamW(lr=0.1, weight_decay=0.5).config(l2=1.0), p, g, s1, s2, 2, 1)
    assert (p[:2] < 1).all() and (p[2:] == 1).all()


@pytest.mark.parametrize("bad", [dict(lr=0), dict(lr=-1), dict(lr=float("nan")), dict(momentum=1.0),
                                 dict(momentum=-0.1), dict(nesterov=True)])
def test_sgd_rejects_bad_settings(bad):
    with pytest.raises((ValueError, TypeError)):
        nf.SGD(**bad)


def test_adam_rejects_bad_betas():
    with pytest.raises(ValueError, match="beta2"):
        nf.Adam(beta2=1.0)
    with pytest.raises(ValueError, match="eps"):
        nf.Adam(eps=0)
