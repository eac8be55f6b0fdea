"""Layer specifications, and the activation and initialiser registries.

Layers are plain, frozen specs; the parameters they describe live in the model's
one flat buffer (see :meth:`nnfast.Sequential.parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import _core
from ._validation import check_float, check_int, check_name

#: dict: activation name -> (core enum, default alpha: the leaky_relu slope or the elu scale)
ACTIVATIONS = {
    "identity": (_core.Activation.identity, 0.0),
    "relu": (_core.Activation.relu, 0.0),
    "leaky_relu": (_core.Activation.leaky_relu, 0.01),
    "elu": (_core.Activation.elu, 1.0),
    "sigmoid": (_core.Activation.sigmoid, 0.0),
    "tanh": (_core.Activation.tanh, 0.0),
    "softmax": (_core.Activation.softmax, 0.0),
}
#: tuple of str: the activations allowed in hidden layers (softmax belongs to the output)
HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "softmax")

#: dict: initialiser name -> core enum (the names ``init`` takes besides "auto")
INITIALIZERS = {name: getattr(_core.Init, name) for name in _core.Init.__members__}
#: tuple of str: the names ``init`` takes: "auto" (picked from the layer's activation)
#: and each of :data:`INITIALIZERS`
INIT_NAMES = ("auto", *INITIALIZERS)
#: initialisers that use the ``init_scale`` setting, and its default for each
SCALED_INITIALIZERS = {"constant": 0.0, "normal": 0.01, "uniform": 0.05}


def auto_init(activation: str) -> str:
    """The initialiser that suits ``activation``: He for the ReLU family, Xavier/Glorot otherwise.

    He et al. (2015) keep the variance of ReLU-family outputs constant across layers;
    Glorot and Bengio (2010) do the same for symmetric, saturating units (tanh, sigmoid)
    and for linear and softmax outputs.
    """
    return "he_normal" if activation in ("relu", "leaky_relu", "elu") else "xavier_normal"


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: ``a = activation(x @ W + b)``.

    Parameters
    ----------
    units : int
        Number of outputs.
    activation : str
        One of :data:`nnfast.layers.ACTIVATIONS`; ``softmax`` only in the last layer.
    init : str, optional
        Initialiser for W, of shape (fan_in, fan_out) = (inputs, units) (one of
        :data:`nnfast.layers.INIT_NAMES`); None takes the model's. Biases start at 0. The draws:

        ==================  ===========================================  ==========================
        ``zeros``           0
        ``constant``        ``init_scale``
        ``normal``          ``N(0, init_scale^2)``
        ``uniform``         ``U(-init_scale, init_scale)``
        ``xavier_normal``   ``N(0, 2 / (fan_in + fan_out))``             Glorot and Bengio (2010)
        ``xavier_uniform``  ``U(+-sqrt(6 / (fan_in + fan_out)))``        Glorot and Bengio (2010)
        ``he_normal``       ``N(0, 2 / fan_in)``                         He et al. (2015)
        ``he_uniform``      ``U(+-sqrt(6 / fan_in))``                    He et al. (2015)
        ``lecun_normal``    ``N(0, 1 / fan_in)``                         LeCun et al. (1998)
        ``lecun_uniform``   ``U(+-sqrt(3 / fan_in))``                    LeCun et al. (1998)
        ==================  ===========================================  ==========================

        (``N(0, v)`` has variance ``v``; not truncated.) Glorot and Bengio (2010),
        "Understanding the difficulty of training deep feedforward neural networks",
        AISTATS; He, Zhang, Ren and Sun (2015), "Delving Deep into Rectifiers", ICCV;
        LeCun, Bottou, Orr and Müller (1998), "Efficient BackProp", in *Neural Networks:
        Tricks of the Trade*. He and Xavier as PyTorch's ``kaiming_*_`` (``mode="fan_in"``,
        ReLU gain) and ``xavier_*_`` (gain 1), https://pytorch.org/docs/stable/nn.init.html
    alpha : float, optional
        Slope of ``leaky_relu`` (default 0.01) or scale of ``elu`` (default 1.0).
    """

    units: int
    activation: str = "relu"
    init: Optional[str] = None
    alpha: Optional[float] = None

    def __post_init__(self) -> None:
        check_int(self.units, "Dense units", low=1, high=2**31 - 1)
        check_name(self.activation, "activation", ACTIVATIONS)
        if self.init is not None:
            check_name(self.init, "init", INIT_NAMES)
        if self.alpha is not None:
            check_float(self.alpha, "alpha", low=0.0, low_open=True)

    @property
    def resolved_alpha(self) -> float:
        """float: ``alpha`` as the core uses it: the given value, else the activation's default."""
        return ACTIVATIONS[self.activation][1] if self.alpha is None else float(self.alpha)


@dataclass(frozen=True)
class Dropout:
    """Inverted dropout on the next layer's inputs, active only in training.

    A fraction ``rate`` of the inputs is zeroed and the rest scaled by ``1 / (1 - rate)``,
    so nothing changes at prediction time.
    """

    rate: float

    def __post_init__(self) -> None:
        check_float(self.rate, "Dropout rate", low=0.0, high=1.0, high_open=True)
