"""Every gradient the core computes, against central differences of its own cost (float64),
and against backpropagation written independently in NumPy (nnfast._reference)."""

import numpy as np
import pytest

from nnfast import _core
from nnfast import _reference as ref
from nnfast.layers import ACTIVATIONS, HIDDEN_ACTIVATIONS, INITIALIZERS
from nnfast.losses import DEFAULT_OUTPUT, LOSSES

REGULARISATION = {"none": (0.0, 0.0), "l1": (0.01, 0.0), "l2": (0.0, 0.05), "l1+l2": (0.01, 0.05)}
SIZES = (4, 5, 3, 3)  # inputs, hidden, hidden, outputs
ROWS = 6


def make_net(hidden, output, l1=0.0, l2=0.0, dropout=(0.0, 0.0, 0.0), seed=0):
    acts = [hidden, hidden, output]
    specs = [_core.LayerSpec(units, ACTIVATIONS[a][0], ACTIVATIONS[a][1], d)
             for units, a, d in zip(SIZES[1:], acts, dropout)]
    net = _core.Network64(SIZES[0], specs)
    net.initialize([INITIALIZERS["xavier_normal"]] * 3, [0.0] * 3, seed)
    params = net.params
    params[net.n_weights:] = np.random.default_rng(seed + 1).normal(scale=0.3, size=params.size - net.n_weights)
    config = _core.OptimizerConfig()
    config.l1, config.l2 = l1, l2
    net.configure(config)
    return net, acts


def targets(loss, rng):
    if loss == "cross_entropy":
        return np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], ROWS)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(ROWS, SIZES[-1])).astype(np.float64)
    return rng.normal(size=(ROWS, SIZES[-1]))


def relative_error(net, X, Y, w, loss, dropout_seed=-1, h=1e-6):
    net.cost_and_gradient(X, Y, w, LOSSES[loss], dropout_seed)
    analytic = net.grads.copy()
    params = net.params
    numeric = np.empty_like(analytic)
    for i in range(params.size):
        keep = params[i]
        params[i] = keep + h
        up = net.cost_and_gradient(X, Y, w, LOSSES[loss], dropout_seed)
        params[i] = keep - h
        down = net.cost_and_gradient(X, Y, w, LOSSES[loss], dropout_seed)
        params[i] = keep
        numeric[i] = (up - down) / (2 * h)
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric), 1e-12)
    return np.linalg.norm(analytic - numeric) / scale


@pytest.mark.parametrize("dropout", [False, True], ids=["no-dropout", "dropout"])
@pytest.mark.parametrize("reg", list(REGULARISATION))
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_gradient_matches_central_differences(hidden, loss, reg, dropout):
    rng = np.random.default_rng(0)
    l1, l2 = REGULARISATION[reg]
    rates = (0.25, 0.5, 0.2) if dropout else (0.0, 0.0, 0.0)
    net, _ = make_net(hidden, DEFAULT_OUTPUT[loss], l1, l2, rates)
    X = rng.normal(size=(ROWS, SIZES[0]))
    Y = targets(loss, rng)
    w = rng.uniform(0.5, 2.0, size=ROWS)
    assert relative_error(net, X, Y, w, loss, dropout_seed=11 if dropout else -1) < 1e-6


@pytest.mark.parametrize("output", list(ACTIVATIONS))
def test_gradient_through_every_output_activation(output):
    rng = np.random.default_rng(1)
    net, _ = make_net("tanh", output, l2=0.01)
    X = rng.normal(size=(ROWS, SIZES[0]))
    assert relative_error(net, X, rng.normal(size=(ROWS, SIZES[-1])), None, "mse") < 1e-6


@pytest.mark.parametrize("loss,output", [("cross_entropy", "sigmoid"), ("binary_cross_entropy", "softmax")])
def test_gradient_of_unfused_cross_entropies(loss, output):
    rng = np.random.default_rng(2)
    net, _ = make_net("relu", output)
    X = rng.normal(size=(ROWS, SIZES[0]))
    assert relative_error(net, X, targets(loss, rng), None, loss) < 1e-6


@pytest.mark.parametrize("reg", list(REGULARISATION))
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_gradient_matches_numpy_backprop(hidden, loss, reg):
    rng = np.random.default_rng(3)
    l1, l2 = REGULARISATION[reg]
    net, acts = make_net(hidden, DEFAULT_OUTPUT[loss], l1, l2)
    X = rng.normal(size=(ROWS, SIZES[0]))
    Y = targets(loss, rng)
    w = rng.uniform(0.5, 2.0, size=ROWS)
    cost = net.cost_and_gradient(X, Y, w, LOSSES[loss], -1)
    views = [net.layer_views(l) for l in range(3)]
    want_cost, dWs, dbs = ref.network_cost_and_gradient(
        X, Y, [W for W, _ in views], [b for _, b in views], acts, loss, [ACTIVATIONS[a][1] for a in acts], w, l1, l2)
    assert cost == pytest.approx(want_cost, rel=1e-12)
    grads = net.grads
    start = 0
    for dW in dWs:
        np.testing.assert_allclose(grads[start:start + dW.size].reshape(dW.shape), dW, rtol=1e-10, atol=1e-12)
        start += dW.size
    for db in dbs:
        np.testing.assert_allclose(grads[start:start + db.size], db, rtol=1e-10, atol=1e-12)
        start += db.size


def test_dropout_masks_follow_the_seed():
    rng = np.random.default_rng(4)
    net, _ = make_net("relu", "identity", dropout=(0.5, 0.5, 0.5))
    X, Y = rng.normal(size=(ROWS, SIZES[0])), rng.normal(size=(ROWS, SIZES[-1]))
    a = net.cost_and_gradient(X, Y, None, LOSSES["mse"], 5)
    b = net.cost_and_gradient(X, Y, None, LOSSES["mse"], 5)
    c = net.cost_and_gradient(X, Y, None, LOSSES["mse"], 6)
    off = net.cost_and_gradient(X, Y, None, LOSSES["mse"], -1)
    assert a == b and a != c and a != off
