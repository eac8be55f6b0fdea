"""Cost functions from Python, against values written out by hand."""

import math

import numpy as np
import pytest

import nnfast as nf


def test_values_by_hand():
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert nf.losses.mse(y, p) == pytest.approx(((0.04 + 0.04) / 2 + (0.16 + 0.16) / 2) / 2)
    assert nf.losses.mae(y, p) == pytest.approx((0.2 + 0.4) / 2)
    assert nf.losses.cross_entropy(y, p) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    bce = -(math.log(0.8) + math.log(0.8) + math.log(0.6) + math.log(0.6)) / 4
    assert nf.losses.binary_cross_entropy(y, p) == pytest.approx(bce)


def test_sample_weights_make_a_weighted_mean():
    y, p = np.array([0.0, 0.0]), np.array([1.0, 3.0])
    assert nf.losses.mse(y, p, sample_weight=[3, 1]) == pytest.approx((3 * 1 + 9) / 4)


def test_probabilities_of_zero_are_clipped_not_infinite():
    assert math.isfinite(nf.losses.cross_entropy([[1.0, 0.0]], [[0.0, 1.0]]))


@pytest.mark.parametrize("name", list(nf.losses.LOSSES))
def test_gradient_is_the_derivative(name):
    r = np.random.default_rng(0)
    y = r.uniform(size=(5, 3))
    if name == "cross_entropy":
        y /= y.sum(axis=1, keepdims=True)
    p = r.uniform(0.1, 0.9, size=(5, 3))
    g = nf.losses.gradient(name, y, p)
    h = 1e-6
    for i, j in [(0, 0), (2, 1), (4, 2)]:
        up, down = p.copy(), p.copy()
        up[i, j] += h
        down[i, j] -= h
        numeric = (nf.losses.loss(name, y, up) - nf.losses.loss(name, y, down)) / (2 * h)
        assert g[i, j] == pytest.approx(numeric, rel=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        nf.losses.mse([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="unknown loss"):
        nf.losses.loss("hinge", [1], [1])
    with pytest.raises(ValueError, match="missing values"):
        nf.losses.mse([np.nan], [1.0])
    with pytest.raises(ValueError, match="infinite values"):
        nf.losses.mse([1.0], [np.inf])


@pytest.mark.parametrize("name", list(nf.losses.LOSSES))
def test_every_loss_refuses_arrays_without_outputs(name):
    for call in (lambda: nf.losses.loss(name, np.zeros((4, 0)), np.zeros((4, 0))),
                 lambda: nf.losses.gradient(name, np.zeros((4, 0)), np.zeros((4, 0))),
                 lambda: getattr(nf.losses, name)(np.zeros((4, 0)), np.zeros((4, 0)))):
        with pytest.raises(ValueError, match="no outputs"):
            call()


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("which", ["y_true", "y_pred"])
@pytest.mark.parametrize("value", [1e38, 1.5, -0.1])
def test_cross_entropies_take_probabilities_only(name, which, value):
    y, p = np.array([[1.0, 0.0]]), np.array([[0.7, 0.3]])
    (y if which == "y_true" else p)[0, 0] = value
    for call in (lambda: getattr(nf.losses, name)(y, p), lambda: nf.losses.gradient(name, y, p)):
        with pytest.raises(ValueError, match=f"{which} must hold probabilities in \\[0, 1\\] for {name}"):
            call()


@pytest.mark.parametrize("name", ["mse", "mae"])
def test_losses_that_overflow_are_refused_not_infinite(name):
    with pytest.raises(ValueError, match=f"the {name} overflows float64"):
        getattr(nf.losses, name)(np.array([1.7e308]), np.array([-1.7e308]))
    if name == "mse":  # the gradient of mae is a sign
        with pytest.raises(ValueError, match="overflows float64"):
            nf.losses.gradient(name, np.array([1.7e308]), np.array([-1.7e308]))


@pytest.mark.parametrize("bad,error,message", [
    (None, TypeError, "y_true is None"), (["a", "b"], TypeError, "real numbers"),
    (np.array([1j, 2j]), TypeError, "real numbers"), ([[1.0], [1.0, 2.0]], ValueError, "cannot be read"),
    (np.array([None, 1.0]), ValueError, r"missing values .* in 1 of 2 rows \(the first at position 0\)"),
])
def test_loss_inputs_that_are_not_numbers(bad, error, message):
    for name in nf.losses.LOSSES:
        with pytest.raises(error, match=message):
            nf.losses.loss(name, bad, [0.5, 0.5])
