"""The core's kernels against their NumPy twins in nnfast._reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfast import _core
from nnfast import _reference as ref
from nnfast.layers import ACTIVATIONS
from nnfast.losses import LOSSES

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def act(name):
    return ACTIVATIONS[name][0]


def alpha_of(name):
    return ACTIVATIONS[name][1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_forward_and_backward_match_reference(name, dtype, rng):
    z = (rng.normal(size=(7, 5)) * 3).astype(dtype)
    b = rng.normal(size=5).astype(dtype)
    alpha = alpha_of(name)
    a = _core.bias_activation_forward(z, b, act(name), alpha)
    np.testing.assert_allclose(a, ref.bias_activation_forward(z, b, name, alpha), **TOL[dtype])
    da = rng.normal(size=(7, 5)).astype(dtype)
    dz = _core.activation_backward(da, a, act(name), alpha)
    np.testing.assert_allclose(dz, ref.activation_backward(da, a, name, alpha), **TOL[dtype])


EXACT = {"tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "elu": lambda z: np.where(z > 0, z, np.expm1(z))}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(EXACT))
def test_vectorised_transcendentals_are_accurate_to_a_few_ulp(name, dtype):
    # the core's own exp/expm1/tanh (csrc/vmath.hpp) against libm in float64, over the whole
    # useful range and near zero, where relative accuracy is the hard part
    z = np.concatenate([np.linspace(-60, 60, 200_001), np.geomspace(1e-30, 1e-2, 400), -np.geomspace(1e-30, 1e-2, 400),
                        [-1e30, -1000.0, -800.0, -100.0, 100.0, 800.0, 1000.0, 1e30]])
    z = z.astype(dtype).reshape(1, -1)
    a = _core.bias_activation_forward(z, np.zeros(z.shape[1], dtype), act(name), 1.0).astype(np.float64)
    with np.errstate(over="ignore"):  # the reference overflows to inf on the way to 0 or 1
        exact = EXACT[name](z.astype(np.float64))
    eps = np.finfo(dtype).eps
    # below the smallest normal number results may flush to 0 (atol); nothing else is lost
    np.testing.assert_allclose(a, exact, rtol=4 * eps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transcendentals_at_infinities_and_signed_zero(dtype):
    def f(name, values):
        z = np.array([values], dtype=dtype)
        bias = np.full(z.shape[1], -0.0, dtype)  # -0 + b keeps the sign of zero only for b = -0
        return _core.bias_activation_forward(z, bias, act(name), 1.0)[0]

    inf = np.inf
    np.testing.assert_array_equal(f("tanh", [-inf, inf]), [-1.0, 1.0])
    np.testing.assert_array_equal(f("sigmoid", [-inf, -1000.0, inf]), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(f("elu", [-inf]), [-1.0])
    assert f("softmax", [-inf, 0.0, 0.0])[0] == 0.0  # a masked logit gets exactly nothing
    zeros = f("tanh", [0.0, -0.0])
    assert zeros.tolist() == [0.0, 0.0] and not np.signbit(zeros[0]) and np.signbit(zeros[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "softmax"])
def test_activations_pass_nan_through(name, dtype):
    z = np.array([[0.5, np.nan, -0.5, 2.0, -3.0]], dtype=dtype)
    a = _core.bias_activation_forward(z, np.zeros(5, dtype), act(name), alpha_of(name))
    assert np.isnan(a[0, 1]) and (np.isnan(a).all() if name == "softmax" else np.isfinite(a[0, [0, 2, 3, 4]]).all())


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "tanh", "elu"])
def test_activations_stay_finite_at_extreme_inputs(name):
    z = np.array([[-1000.0, 0.0, 1000.0], [800.0, -800.0, 1e-300]])
    a = _core.bias_activation_forward(z, np.zeros(3), act(name), alpha_of(name))
    assert np.isfinite(a).all()
    if name == "softmax":
        np.testing.assert_allclose(a.sum(axis=1), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [1, 3, 64])
def test_dense_forward_and_backward_match_reference(rows, dtype, rng):
    x = rng.normal(size=(rows, 6)).astype(dtype)
    w = rng.normal(size=(6, 4)).astype(dtype)
    np.testing.assert_allclose(_core.dense_forward(x, w), ref.dense_forward(x, w), rtol=1e-5)
    dz = rng.normal(size=(rows, 4)).astype(dtype)
    got = _core.dense_backward(dz, x, w, True)
    want = ref.dense_backward(dz, x, w, True)
    for g, r in zip(got, want):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    assert _core.dense_backward(dz, x, w, False)[0] is None


OUTPUTS = {"mse": "identity", "mae": "identity", "binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("out", ["identity", "sigmoid", "softmax", "tanh"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_loss_matches_reference(loss, out, weighted, dtype, rng):
    z = rng.normal(size=(9, 4)).astype(dtype)
    a = ref.activate(z, out).astype(dtype)
    y = rng.uniform(size=(9, 4)).astype(dtype)
    if loss == "cross_entropy":
        y /= y.sum(axis=1, keepdims=True)
    w = rng.uniform(0.1, 2, size=9).astype(dtype) if weighted else None
    total, dz = _core.loss_forward_backward(LOSSES[loss], act(out), 0.0, z, a, y, w, True, 0.25)
    want_total, want_dz = ref.loss_forward_backward(loss, out, 0.0, z, a, y, w, True, 0.25)
    np.testing.assert_allclose(total, want_total, rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(dz, want_dz, **TOL[dtype])


def test_fused_cross_entropy_is_exact_where_probabilities_round_to_zero():
    z = np.array([[200.0, 0.0, -200.0]])
    a = ref.activate(z, "softmax")
    y = np.array([[0.0, 0.0, 1.0]])
    total, _ = _core.loss_forward_backward(LOSSES["cross_entropy"], act("softmax"), 0.0, z, a, y, None, False)
    assert total == pytest.approx(400.0)


def test_loss_refuses_missing_logits_for_fused_pair():
    a = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="logits"):
        _core.loss_forward_backward(LOSSES["cross_entropy"], act("softmax"), 0.0, None, a, a, None, False)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), inputs=st.integers(1, 30), outputs=st.integers(1, 12),
       dtype=st.sampled_from(DTYPES), name=st.sampled_from(sorted(ACTIVATIONS)), seed=st.integers(0, 2**32 - 1))
def test_dense_layer_property_against_numpy(rows, inputs, outputs, dtype, name, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=(rows, inputs)).astype(dtype)
    w = r.normal(size=(inputs, outputs)).astype(dtype)
    b = r.normal(size=outputs).astype(dtype)
    a = _core.bias_activation_forward(_core.dense_forward(x, w), b, act(name), alpha_of(name))
    want = ref.bias_activation_forward(x.astype(np.float64) @ w + b, b * 0, name, alpha_of(name))
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a, want, **tol)


def test_kernels_refuse_wrong_dtype_and_shape():
    x = np.ones((3, 4), dtype=np.float32)
    w = np.ones((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="inputs"):
        _core.dense_forward(x, w)
    with pytest.raises(TypeError):  # no silent conversion from float64
        _core.dense_forward(x, np.ones((4, 2)))
