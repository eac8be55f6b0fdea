"""Metrics that are right for any target: R^2 in float64, centred, merged over chunks and threads."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnfast as nf
from nnfast import _reference as ref

sklearn_metrics = pytest.importorskip("sklearn.metrics")

ROWS, WIDTH = 1000, 2500  # 2.5M multiply-adds a pass: evaluation splits the rows over 2 threads


@pytest.fixture
def two_threads():
    before = nf.get_num_threads()
    nf.set_num_threads(2)
    yield
    nf.set_num_threads(before)


def exact_r2(y: np.ndarray, a: np.ndarray, w=None) -> float:
    """R^2 of the float values given, in exact rational arithmetic (uniform over outputs)."""
    y, a = np.atleast_2d(y.T).T, np.atleast_2d(a.T).T
    weights = [Fraction(1)] * len(y) if w is None else [Fraction(float(v)) for v in w]
    total = sum(weights)
    scores = []
    for k in range(y.shape[1]):
        ys = [Fraction(float(v)) for v in y[:, k]]
        mean = sum(wi * yi for wi, yi in zip(weights, ys)) / total
        sst = sum(wi * (yi - mean) ** 2 for wi, yi in zip(weights, ys))
        sse = sum(wi * (yi - Fraction(float(ai))) ** 2 for wi, yi, ai in zip(weights, ys, a[:, k]))
        scores.append(float(1 - sse / sst) if sst else (1.0 if sse == 0 else 0.0))
    return float(np.mean(scores))


def linear_model(inputs: int, outputs: int, dtype: str) -> nf.Sequential:
    """A fitted linear model whose weights the test then sets: predictions it controls."""
    model = nf.Sequential([nf.Dense(outputs, "identity")], inputs=inputs, dtype=dtype)
    r = np.random.default_rng(5)
    y = r.normal(size=20) if outputs == 1 else r.normal(size=(20, outputs))  # 1-D y: 1-D predictions
    model.fit(r.normal(size=(20, inputs)), y, epochs=1, verbose=False)
    return model


@pytest.fixture(scope="module")
def wide():
    """X (ROWS, WIDTH) whose first columns are t and e, the rest zeros; weights; a model."""
    r = np.random.default_rng(0)
    X = np.zeros((ROWS, WIDTH))
    X[:, 0], X[:, 1] = r.normal(size=ROWS), r.normal(size=ROWS)
    return X, r.uniform(0.0, 2.0, ROWS), linear_model(WIDTH, 1, "float64")


def test_r2_of_a_target_whose_spread_is_small_next_to_its_mean():
    """The issue's example: y = 1e7 + N(0, 1) in float64 scored 0.0 (sum y^2 - (sum y)^2 / n lost every digit)."""
    r = np.random.default_rng(0)
    X = r.normal(size=(500, 3))
    y = 1e7 + X @ [0.3, 0.6, 0.9] + 0.05 * r.normal(size=500)
    model = linear_model(3, 1, "float64")
    P = model.parameters()
    P["W1"][:, 0], P["b1"][:] = [0.3, 0.6, 0.9], 1e7
    r2 = model.evaluate(X, y)["r2"]
    expected = sklearn_metrics.r2_score(y, model.predict(X))
    assert expected > 0.99
    assert r2 == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("offset", [0.0, -3e4, 1e8, 1e12])
@pytest.mark.parametrize("scale", [1e-8, 1e-4, 1.0, 1e4, 1e8])
def test_r2_is_exact_for_any_scale_and_offset(wide, two_threads, offset, scale):
    """float64 models: R^2 from evaluate equals the exact R^2 of the float values to 1e-12,
    weighted or not, over 2 threads and chunks of 256 rows; scikit-learn's r2_score, where
    its own mean is exact enough to be a reference (its error against the exact value
    below 1e-10: not at offsets 1e8 and 1e12 with spreads 1e-8 and 1e-4, where it is off by
    up to 18%), agrees to 1e-9."""
    X, w, model = wide
    t, e = X[:, 0], X[:, 1]
    y = offset + scale * (t + 0.3 * e)
    P = model.parameters()
    P["W1"][:] = 0.0
    P["W1"][0, 0], P["b1"][:] = scale, offset
    a = model.predict(X)
    for weights in (None, w):
        got = model.evaluate(X, y, sample_weight=weights)["r2"]
        exact = exact_r2(y, a, weights)
        assert got == pytest.approx(exact, rel=1e-12, abs=1e-15)
        assert ref.r2_score(y[:, None], a[:, None], weights) == pytest.approx(exact, rel=1e-12, abs=1e-15)
        theirs = sklearn_metrics.r2_score(y, a, sample_weight=weights)
        if abs(theirs - exact) <= 1e-10 * abs(exact):
            assert got == pytest.approx(theirs, rel=1e-9)


def test_float32_models_do_the_metric_arithmetic_in_float64():
    """The predictions and the targets the model sees are float32; the sums are float64.
    y = 1e5 + N(0, 1): the old sums lost 1e10 / 1 of their precision (relative error ~1e-6)."""
    r = np.random.default_rng(1)
    X = r.normal(size=(3000, 2)).astype(np.float32)
    y = (1e5 + X[:, 0] + 0.3 * X[:, 1]).astype(np.float32)
    model = linear_model(2, 1, "float32")
    P = model.parameters()
    P["W1"][:, 0], P["b1"][:] = [1.0, 0.0], 1e5
    a = model.predict(X)
    assert a.dtype == np.float32
    w = r.uniform(0, 2, len(y)).astype(np.float32)
    for weights in (None, w):
        got = model.evaluate(X, y, sample_weight=weights)["r2"]
        expected = sklearn_metrics.r2_score(y.astype(np.float64), a.astype(np.float64),
                                            sample_weight=None if weights is None else weights.astype(np.float64))
        assert got == pytest.approx(exact_r2(y, a, weights), rel=1e-12)
        assert got == pytest.approx(expected, rel=1e-9)


def test_multi_output_r2_is_the_uniform_average_and_constant_targets_follow_scikit_learn():
    r = np.random.default_rng(2)
    X = r.normal(size=(300, 2))
    model = linear_model(2, 3, "float64")
    P = model.parameters()
    P["W1"][:] = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    P["b1"][:] = [5.0, -1e9, 7.0]
    a = model.predict(X)
    noisy = a + r.normal(scale=0.5, size=a.shape) * [1.0, 1.0, 0.0]
    noisy[:, 2] = 7.0  # a constant target, predicted exactly: 1.0
    for weights in (None, r.uniform(0.5, 1.5, 300)):
        got = model.evaluate(X, noisy, sample_weight=weights)["r2"]
        expected = sklearn_metrics.r2_score(noisy, a, sample_weight=weights)  # uniform_average, force_finite
        assert got == pytest.approx(expected, rel=1e-12)
    constant = np.full((300, 3), 7.0)
    # constant targets: 1.0 only for the output predicted exactly (the third), else 0.0
    assert model.evaluate(X, constant)["r2"] == pytest.approx(sklearn_metrics.r2_score(constant, a)) == 1 / 3
    one = linear_model(2, 1, "float64")
    one.parameters()["W1"][:] = 0.0
    one.parameters()["b1"][:] = 3.25
    assert one.evaluate(X, np.full(300, 3.25))["r2"] == 1.0
    assert one.evaluate(X, np.full(300, 3.5))["r2"] == 0.0


def test_training_history_r2_is_merged_over_threads(two_threads):
    """The epoch's R^2 comes from every thread's batches: with a step too small to move the
    weights it equals the R^2 of the model's predictions, on data with offset 1e9."""
    r = np.random.default_rng(3)
    X = np.zeros((1200, WIDTH))
    X[:, 0], X[:, 1] = r.normal(size=1200), r.normal(size=1200)
    y = 1e9 + X[:, 0] + 0.5 * X[:, 1]
    model = linear_model(WIDTH, 1, "float64")
    P = model.parameters()
    P["W1"][:] = 0.0
    P["W1"][0, 0], P["b1"][:] = 1.0, 1e9
    history = model.fit(X, y, optimizer=nf.Adam(lr=1e-200), epochs=1, batch_size=None, shuffle=False, verbose=False)
    assert model._net.last_threads == 2
    expected = exact_r2(y, model.predict(X))
    assert expected > 0.7
    assert history["r2"][0] == pytest.approx(expected, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(offset=st.floats(-1e12, 1e12), log_scale=st.floats(-8, 8), rows=st.integers(2, 700),
       weighted=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_r2_property_matches_the_exact_value(offset, log_scale, rows, weighted, seed):
    r = np.random.default_rng(seed)
    X = r.normal(size=(rows, 2))
    scale = 10.0**log_scale
    y = offset + scale * (X[:, 0] + r.normal(size=rows))
    model = linear_model(2, 1, "float64")
    P = model.parameters()
    P["W1"][:, 0], P["b1"][:] = [scale, 0.0], offset
    w = r.uniform(0.1, 3.0, rows) if weighted else None
    got = model.evaluate(X, y, sample_weight=w)["r2"]
    exact = exact_r2(y, model.predict(X), w)
    assert got == pytest.approx(exact, rel=1e-10, abs=1e-12)
