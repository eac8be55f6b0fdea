"""Optimizers: frozen specs of the fused update that the core runs on the flat buffer.

Each step reads the cost gradient ``g`` (penalties added: ``g + l2 w + l1 sign(w)`` on
weights), optionally rescales it to a global norm of at most ``clip_norm`` (``g *=
clip_norm / |g|_2`` when the norm over all parameters at once exceeds it: Pascanu,
Mikolov and Bengio (2013), "On the difficulty of training recurrent neural networks",
ICML, Algorithm 1; as PyTorch's ``clip_grad_norm_``), then

=========== ==================================================================
``sgd``     ``v = momentum v + g``; ``w -= lr (g + momentum v)`` with Nesterov,
            ``w -= lr v`` without; plain ``w -= lr g`` when momentum is 0
``adagrad`` ``s += g^2``; ``w -= lr g / (sqrt(s) + eps)``
``rmsprop`` ``s = rho s + (1 - rho) g^2``; ``w -= lr g / (sqrt(s) + eps)``
``adam``    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
            ``w -= lr m_hat / (sqrt(v_hat) + eps)`` with bias-corrected m_hat, v_hat
``adamw``   Adam after the decoupled decay ``w -= lr weight_decay w`` (weights only)
=========== ==================================================================

Batch, mini-batch and stochastic gradient descent are SGD with a batch size of all
the samples, a few, or one.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Union

import numpy as np

from . import _core
from ._validation import check_float, check_for_dtype

__all__ = ["SGD", "Adagrad", "RMSProp", "Adam", "AdamW", "OPTIMIZERS", "Optimizer", "make_optimizer"]


class _Base:
    name: ClassVar[str] = ""
    kind: ClassVar[_core.Optimizer] = _core.Optimizer.sgd
    if TYPE_CHECKING:
        # every subclass is a frozen dataclass (what `fields` needs) with a learning rate
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
        lr: float

    def __post_init__(self) -> None:
        check_float(self.lr, "lr", low=0.0, low_open=True)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("beta1", "beta2", "rho", "momentum"):
                check_float(value, f.name, low=0.0, high=1.0, high_open=True)
            elif f.name == "eps":
                check_float(value, "eps", low=0.0, low_open=True)
            elif f.name == "weight_decay":
                check_float(value, "weight_decay", low=0.0)

    def check_dtype(self, dtype: type[np.floating[Any]]) -> None:
        """Refuse settings that the core's step, which runs in ``dtype``, would see as 0,
        subnormal, infinite or (rates of decay) exactly 1.

        Raises
        ------
        ValueError
            Naming the setting, e.g. ``eps=1e-300 is 0 in float32; use float64 or eps >= 1.18e-38``.
        """
        check_for_dtype(self.lr, "lr", dtype)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("beta1", "beta2", "rho", "momentum"):
                check_for_dtype(value, f.name, dtype, below_one=True)
            elif f.name in ("eps", "weight_decay"):
                check_for_dtype(value, f.name, dtype)
        if isinstance(self, (Adam, AdamW)):  # the first step is lr / (1 - beta1), computed then cast
            check_for_dtype(self.lr / (1.0 - self.beta1), "the first Adam step lr / (1 - beta1)", dtype)
        if isinstance(self, AdamW) and self.weight_decay:  # the decay lr * weight_decay is one number in the step
            check_for_dtype(self.lr * self.weight_decay, "lr * weight_decay", dtype)

    def config(self, l1: float = 0.0, l2: float = 0.0, clip_norm: float | None = None) -> _core.OptimizerConfig:
        """The core's settings for this optimizer with the given penalties and clipping.

        ``l1``, ``l2``: penalty coefficients (see :meth:`nnfast.Sequential.fit`);
        ``clip_norm``: the global gradient norm bound (None or 0: no clipping), see
        :mod:`nnfast.optimizers` for the formula and its source.
        """
        c = _core.OptimizerConfig()
        c.kind = self.kind
        for f in fields(self):
            setattr(c, f.name, getattr(self, f.name))
        c.l1, c.l2, c.clip_norm = float(l1), float(l2), float(clip_norm or 0.0)
        return c


@dataclass(frozen=True)
class SGD(_Base):
    """Gradient descent, with optional (Nesterov) momentum.

    ``v = momentum v + g``; ``w -= lr v``, or ``w -= lr (g + momentum v)`` with
    ``nesterov=True``; ``momentum`` in [0, 1). Momentum: Polyak (1964), "Some methods of
    speeding up the convergence of iteration methods"; Nesterov momentum in the form of
    Sutskever, Martens, Dahl and Hinton (2013), "On the importance of initialization and
    momentum in deep learning", ICML; both as PyTorch's ``SGD`` (dampening 0),
    https://pytorch.org/docs/stable/generated/torch.optim.SGD.html

    Raises
    ------
    TypeError, ValueError
        For a setting of the wrong type or outside its range (``lr`` > 0, ``momentum``
        in [0, 1)); ValueError also for ``nesterov=True`` with ``momentum == 0``.
    """

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    name = "sgd"
    kind = _core.Optimizer.sgd

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")


@dataclass(frozen=True)
class Adagrad(_Base):
    """Adagrad: ``s += g^2``; ``w -= lr g / (sqrt(s) + eps)``.

    Duchi, Hazan and Singer (2011), "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization", JMLR 12; as PyTorch's ``Adagrad`` (no lr decay),
    https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html

    Raises
    ------
    TypeError, ValueError
        For a setting of the wrong type or outside its range (``lr`` > 0; ``eps`` > 0).
    """

    lr: float = 0.01
    eps: float = 1e-8
    name = "adagrad"
    kind = _core.Optimizer.adagrad


@dataclass(frozen=True)
class RMSProp(_Base):
    """RMSProp: ``s = rho s + (1 - rho) g^2``; ``w -= lr g / (sqrt(s) + eps)``.

    Tieleman and Hinton (2012), Coursera "Neural Networks for Machine Learning", lecture
    6.5; as PyTorch's ``RMSprop`` (``alpha`` = ``rho``, no momentum, not centred),
    https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html

    Raises
    ------
    TypeError, ValueError
        For a setting of the wrong type or outside its range (``lr`` > 0; ``rho`` in [0, 1), ``eps`` > 0).
    """

    lr: float = 0.001
    rho: float = 0.9
    eps: float = 1e-8
    name = "rmsprop"
    kind = _core.Optimizer.rmsprop


@dataclass(frozen=True)
class Adam(_Base):
    """Adam: bias-corrected moment estimates, ``w -= lr m_hat / (sqrt(v_hat) + eps)``.

    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2``,
    ``m_hat = m / (1 - beta1^t)``, ``v_hat = v / (1 - beta2^t)`` at step ``t`` (1-based,
    counted in updates, i.e. batches). Kingma and Ba (2015), "Adam: A Method for Stochastic
    Optimization", ICLR, Algorithm 1, https://arxiv.org/abs/1412.6980

    Raises
    ------
    TypeError, ValueError
        For a setting of the wrong type or outside its range (``lr`` > 0; ``beta1``, ``beta2`` in [0, 1), ``eps`` > 0).
    """

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name = "adam"
    kind = _core.Optimizer.adam


@dataclass(frozen=True)
class AdamW(_Base):
    """Adam with decoupled weight decay: ``w -= lr weight_decay w`` (weights, not biases), then Adam.

    Loshchilov and Hutter (2019), "Decoupled Weight Decay Regularization", ICLR,
    Algorithm 2, https://arxiv.org/abs/1711.05101; as PyTorch's ``AdamW``,
    https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html

    Raises
    ------
    TypeError, ValueError
        For a setting of the wrong type or outside its range (``lr`` > 0; ``beta1``, ``beta2`` in [0, 1), ``eps`` > 0, ``weight_decay`` >= 0).
    """

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.01
    name = "adamw"
    kind = _core.Optimizer.adamw


Optimizer = Union[SGD, Adagrad, RMSProp, Adam, AdamW]

#: optimizer name -> spec class
OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adagrad, RMSProp, Adam, AdamW)}


def make_optimizer(optimizer: "str | Optimizer") -> Optimizer:
    """An optimizer spec from a name (with its default settings) or a spec.

    Raises
    ------
    TypeError
        If ``optimizer`` is neither a string nor an nnfast optimizer spec (:class:`SGD`,
        :class:`Adagrad`, :class:`RMSProp`, :class:`Adam`, :class:`AdamW`).
    ValueError
        If ``optimizer`` is a string that is not a key of :data:`OPTIMIZERS`; the
        message lists the valid names.
    """
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        return OPTIMIZERS[optimizer]()
    if isinstance(optimizer, _Base):
        return optimizer
    raise TypeError(f"optimizer must be a name or an nnfast optimizer, got {optimizer!r}")
