"""Optimizers: frozen specs of the fused update that the core runs on the flat buffer.

Each step reads the cost gradient ``g`` (penalties added: ``g + l2 w + l1 sign(w)`` on
weights), optionally rescales it to a global norm of at most ``clip_norm``, then

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

from dataclasses import dataclass, fields
from typing import Union

from . import _core
from ._validation import check_float, check_for_dtype

__all__ = ["SGD", "Adagrad", "RMSProp", "Adam", "AdamW", "OPTIMIZERS", "Optimizer", "make_optimizer"]


class _Base:
    name = ""
    kind = _core.Optimizer.sgd

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

    def check_dtype(self, dtype) -> None:
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
        if self.name in ("adam", "adamw"):  # the first step is lr / (1 - beta1), computed then cast
            check_for_dtype(self.lr / (1.0 - self.beta1), "the first Adam step lr / (1 - beta1)", dtype)
        if self.name == "adamw" and self.weight_decay:  # the decay lr * weight_decay is one number in the step
            check_for_dtype(self.lr * self.weight_decay, "lr * weight_decay", dtype)

    def config(self, l1: float = 0.0, l2: float = 0.0, clip_norm: float | None = None) -> _core.OptimizerConfig:
        """The core's settings for this optimizer with the given penalties and clipping."""
        c = _core.OptimizerConfig()
        c.kind = self.kind
        for f in fields(self):
            setattr(c, f.name, getattr(self, f.name))
        c.l1, c.l2, c.clip_norm = float(l1), float(l2), float(clip_norm or 0.0)
        return c


@dataclass(frozen=True)
class SGD(_Base):
    """Gradient descent, with optional (Nesterov) momentum."""

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
    """Adagrad (Duchi et al., 2011)."""

    lr: float = 0.01
    eps: float = 1e-8
    name = "adagrad"
    kind = _core.Optimizer.adagrad


@dataclass(frozen=True)
class RMSProp(_Base):
    """RMSProp (Tieleman & Hinton, 2012)."""

    lr: float = 0.001
    rho: float = 0.9
    eps: float = 1e-8
    name = "rmsprop"
    kind = _core.Optimizer.rmsprop


@dataclass(frozen=True)
class Adam(_Base):
    """Adam (Kingma & Ba, 2015)."""

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name = "adam"
    kind = _core.Optimizer.adam


@dataclass(frozen=True)
class AdamW(_Base):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.01
    name = "adamw"
    kind = _core.Optimizer.adamw


Optimizer = Union[SGD, Adagrad, RMSProp, Adam, AdamW]

#: optimizer name -> spec class
OPTIMIZERS = {cls.name: cls for cls in (SGD, Adagrad, RMSProp, Adam, AdamW)}


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
