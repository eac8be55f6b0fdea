"""Hyperparameters: one plain, frozen record that fully describes a training run.

Parameters (W, b) are what training learns; hyperparameters are what you (or the tuning
harness) choose before it starts. Keeping them in one record makes a run printable,
comparable, serialisable and searchable. The record is plain data: it knows how to
describe the pieces of a run (layers, optimizer, schedule, task) but trains nothing;
:func:`nnfast.train` (in :mod:`nnfast.training`) does that, and imports flow that way.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Tuple, Union

from ._settings import DTYPES, IMPROVEMENT_OVER, MAX_EPOCHS, check_settings_for_dtype
from ._targets import REGRESSION_LOSSES, TASKS, ClassWeight, TaskChoice, check_class_weight, resolve_task, task_of_loss
from ._validation import check_float, check_for_dtype, check_int, check_name
from .layers import ACTIVATIONS, HIDDEN_ACTIVATIONS, INIT_NAMES, SCALED_INITIALIZERS, Dense, Dropout
from .losses import DEFAULT_OUTPUT, LOSSES
from .optimizers import OPTIMIZERS, Optimizer
from .schedules import SCHEDULES, Constant, Cosine, Exponential, InverseTime, ReduceOnPlateau, Schedule, Step

__all__ = ["Hyperparameters", "check_names"]

#: settings that belong to one optimizer each (None = that optimizer's default)
OPTIMIZER_SETTINGS = {
    "sgd": ("momentum", "nesterov"),
    "adagrad": ("eps",),
    "rmsprop": ("rho", "eps"),
    "adam": ("beta1", "beta2", "eps"),
    "adamw": ("beta1", "beta2", "eps", "weight_decay"),
}
#: settings each schedule reads (None = the schedule's default)
SCHEDULE_SETTINGS = {
    "constant": (),
    "step": ("decay_rate", "decay_steps"),
    "exponential": ("decay_rate",),
    "inverse_time": ("decay_rate", "decay_steps"),
    "cosine": ("decay_steps", "min_lr"),
    "plateau": ("decay_rate", "decay_steps", "min_lr"),
}


@dataclass(frozen=True, repr=False)
class Hyperparameters:
    """Everything that defines a training run, as plain data.

    Architecture
        ``hidden``: units per hidden layer (``()`` is a linear/logistic model);
        ``activation``: of the hidden layers; ``output``: the output activation, or
        ``"auto"`` (softmax for cross-entropy, sigmoid for binary cross-entropy,
        identity for regression).
    Initialisation
        ``init``: ``"auto"`` (He for ReLU-family layers, Xavier otherwise) or a name in
        :data:`nnfast.layers.INITIALIZERS`; ``init_scale`` for constant/normal/uniform.
        Each initialiser's distribution and source (He et al. 2015, Glorot and Bengio
        2010, LeCun et al. 1998): :class:`nnfast.Dense`.
    Task and cost
        ``task``: ``"classification"``, ``"regression"`` or ``"auto"``, which reads y:
        booleans, strings and one-hot rows are classes, floating-point values a
        regression target, integers classes unless they have more than 20 distinct
        values that are also more than 5% of the rows (fewer than 20 rows per value on
        average: counts, prices, ages), which are a regression target, with an
        :class:`nnfast.AutoTaskWarning` naming ``task=``. A ``loss`` other than auto
        decides the task itself and must agree with ``task``.
        ``loss``: ``"auto"`` (cross-entropy for classes, binary cross-entropy for two,
        mse for regression) or a name in :data:`nnfast.losses.LOSSES`;
        ``class_weight`` (classification only): None, ``"balanced"`` (each class
        weighted ``n_samples / (n_classes * its count)`` on the training rows, as
        scikit-learn does) or a dict label -> weight (1 for labels it leaves out),
        multiplied into ``sample_weight``; kept as ((label, weight), ...) pairs sorted
        by label, so that the record stays hashable and JSON keeps integer labels;
        ``l1``, ``l2``: weight penalties in the cost.
    Optimizer
        ``optimizer`` (sgd, adagrad, rmsprop, adam, adamw), ``lr``; settings that apply
        to one optimizer only and default to None (its default): ``momentum`` and
        ``nesterov`` (sgd), ``rho`` (rmsprop), ``beta1``, ``beta2`` (adam, adamw),
        ``eps`` (all but sgd), ``weight_decay`` (adamw); ``clip_norm``.
    Schedule
        ``schedule`` (constant, step, exponential, inverse_time, cosine, plateau), read
        with ``decay_rate`` (the factor: step gamma, exponential gamma, inverse-time
        decay, plateau factor), ``decay_steps`` (epochs: step size, inverse-time step,
        cosine period, plateau patience) and ``min_lr``.
    Training
        ``batch_size`` (None: the whole set), ``epochs``, ``dropout`` (after each hidden
        layer; one rate or one per layer), ``patience`` and ``min_delta`` (early stopping
        on the validation cost, or the training cost without validation data; None:
        off) and ``improvement_over`` (``"last_improvement"``, Keras's rule, or
        ``"best"``, scikit-learn's: see :class:`nnfast.EarlyStopping`), ``validation_split`` (used when no
        validation data is given), ``standardize`` (learn input scaling on the training
        rows), ``shuffle``, ``seed``, ``dtype``.

    Every field is checked where the record is built (TypeError or ValueError naming
    it); the settings the core's optimizer step uses in ``dtype`` (``lr``, ``eps``,
    ``l1``, ``l2``, ``momentum``, ``beta1``, ``beta2``, ``rho``, ``weight_decay``,
    ``clip_norm``, ``init_scale``, ``min_lr``) are refused when they become 0,
    subnormal or infinite there, or a rate of decay rounds to 1: ``eps=1e-300`` is 0
    in float32.

    Examples
    --------
    >>> import nnfast as nf
    >>> hp = nf.Hyperparameters(hidden=(128, 64), lr=3e-3, patience=5)
    >>> hp
    Hyperparameters(hidden=(128, 64), lr=0.003, patience=5)
    >>> hp.replace(optimizer="sgd", momentum=0.9).optimizer
    'sgd'
    """

    hidden: Tuple[int, ...] = (64,)
    activation: str = "relu"
    output: str = "auto"
    init: str = "auto"
    init_scale: Optional[float] = None
    task: str = "auto"
    loss: str = "auto"
    class_weight: ClassWeight = None
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: Optional[float] = None
    nesterov: bool = False
    beta1: Optional[float] = None
    beta2: Optional[float] = None
    eps: Optional[float] = None
    rho: Optional[float] = None
    weight_decay: Optional[float] = None
    batch_size: Optional[int] = 32
    epochs: int = 100
    l1: float = 0.0
    l2: float = 0.0
    dropout: Union[float, Tuple[float, ...]] = 0.0
    clip_norm: Optional[float] = None
    schedule: str = "constant"
    decay_rate: Optional[float] = None
    decay_steps: Optional[int] = None
    min_lr: Optional[float] = None
    patience: Optional[int] = None
    min_delta: float = 0.0
    improvement_over: str = "last_improvement"
    validation_split: float = 0.0
    standardize: bool = False
    shuffle: bool = True
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        def set_(name: str, value: object) -> None:
            object.__setattr__(self, name, value)  # the record is frozen

        hidden = (self.hidden,) if isinstance(self.hidden, numbers.Integral) else self.hidden
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of layer widths, got {self.hidden!r}")
        set_("hidden", tuple(check_int(u, "hidden layer width", low=1, high=2**31 - 1) for u in hidden))
        check_name(self.activation, "activation", HIDDEN_ACTIVATIONS)
        check_name(self.output, "output", ("auto", *ACTIVATIONS))
        check_name(self.init, "init", INIT_NAMES)
        if self.init_scale is not None:
            if self.init not in SCALED_INITIALIZERS:
                raise ValueError(f"init_scale applies to init {', '.join(SCALED_INITIALIZERS)}; not {self.init!r}")
            set_("init_scale", check_float(self.init_scale, "init_scale"))
        check_name(self.task, "task", TASKS)
        check_name(self.loss, "loss", ("auto", *LOSSES))
        if self.loss != "auto" and self.task not in ("auto", task_of_loss(self.loss)):
            raise ValueError(f"loss {self.loss!r} is a {task_of_loss(self.loss)} loss but task={self.task!r}; "
                             f"give a {self.task} loss or loss='auto'")
        set_("class_weight", check_class_weight(self.class_weight))
        if self.class_weight is not None and (self.task == "regression" or self.loss in REGRESSION_LOSSES):
            said = "task='regression'" if self.task == "regression" else f"loss={self.loss!r}"
            raise ValueError(f"class_weight applies to classification, not to a regression ({said})")
        check_name(self.optimizer, "optimizer", OPTIMIZERS)
        set_("lr", check_float(self.lr, "lr", low=0.0, low_open=True))
        for name in ("momentum", "nesterov", "beta1", "beta2", "eps", "rho", "weight_decay"):
            value = getattr(self, name)
            if (value is not None and value is not False) and name not in OPTIMIZER_SETTINGS[self.optimizer]:
                users = [o for o, settings in OPTIMIZER_SETTINGS.items() if name in settings]
                raise ValueError(f"{name} does not apply to optimizer {self.optimizer!r} "
                                 f"(it applies to {', '.join(users)})")
        if not isinstance(self.nesterov, bool):
            raise TypeError("nesterov must be True or False")
        self.optimizer_spec()  # validates the optimizer's own ranges
        if self.batch_size is not None:
            set_("batch_size", check_int(self.batch_size, "batch_size", low=1))
        set_("epochs", check_int(self.epochs, "epochs", low=1, high=MAX_EPOCHS))
        set_("l1", check_float(self.l1, "l1", low=0.0))
        set_("l2", check_float(self.l2, "l2", low=0.0))
        if isinstance(self.dropout, (tuple, list)):
            if len(self.dropout) != len(self.hidden):
                raise ValueError(f"dropout has {len(self.dropout)} rates for {len(self.hidden)} hidden layers")
            set_("dropout", tuple(check_float(r, "dropout", low=0.0, high=1.0, high_open=True) for r in self.dropout))
        else:
            set_("dropout", check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True))
        if self.clip_norm is not None:
            set_("clip_norm", check_float(self.clip_norm, "clip_norm", low=0.0, low_open=True))
        check_name(self.schedule, "schedule", SCHEDULES)
        for name in ("decay_rate", "decay_steps", "min_lr"):
            if getattr(self, name) is not None and name not in SCHEDULE_SETTINGS[self.schedule]:
                users = [s for s, settings in SCHEDULE_SETTINGS.items() if name in settings]
                raise ValueError(f"{name} does not apply to schedule {self.schedule!r} "
                                 f"(it applies to {', '.join(users)})")
        self.schedule_spec()  # validates the schedule's own ranges
        if self.patience is not None:
            set_("patience", check_int(self.patience, "patience", low=1))
        set_("min_delta", check_float(self.min_delta, "min_delta", low=0.0))
        check_name(self.improvement_over, "improvement_over", IMPROVEMENT_OVER)
        set_("validation_split", check_float(self.validation_split, "validation_split", low=0.0, high=1.0,
                                             high_open=True))
        for name in ("standardize", "shuffle"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False")
        set_("seed", check_int(self.seed, "seed", low=0, high=2**63 - 1))
        check_name(self.dtype, "dtype", DTYPES)
        # settings the core uses in the model's dtype must not become 0, subnormal or infinite there
        check_settings_for_dtype(self.dtype, self.optimizer_spec(), self.l1, self.l2, self.clip_norm,
                                 self.schedule_spec())
        if self.init_scale is not None:
            check_for_dtype(self.init_scale, "init_scale", DTYPES[self.dtype])

    # --- the pieces of a run -------------------------------------------------------------

    def optimizer_spec(self) -> Optimizer:
        """The optimizer these hyperparameters describe, e.g. ``Adam(lr=0.001, ...)``."""
        settings = {name: getattr(self, name) for name in OPTIMIZER_SETTINGS[self.optimizer]
                    if getattr(self, name) is not None}
        if self.optimizer == "sgd" and not self.nesterov:
            settings.pop("nesterov", None)
        return OPTIMIZERS[self.optimizer](lr=self.lr, **settings)

    def schedule_spec(self) -> Schedule:
        """The learning-rate schedule these hyperparameters describe."""
        rate, steps, min_lr = self.decay_rate, self.decay_steps, self.min_lr
        # the settings that are set (the schedule's defaults stand for the others); Any: each
        # value is an int or a float, as the schedule's parameter of that name wants
        def kw(**pairs: Optional[float]) -> Dict[str, Any]:
            return {k: v for k, v in pairs.items() if v is not None}

        if self.schedule == "step":
            return Step(**kw(step_size=steps, gamma=rate))
        if self.schedule == "exponential":
            return Exponential(**kw(gamma=rate))
        if self.schedule == "inverse_time":
            return InverseTime(**kw(decay=rate, step_size=steps))
        if self.schedule == "cosine":
            return Cosine(**kw(period=steps, min_lr=min_lr))
        if self.schedule == "plateau":
            return ReduceOnPlateau(**kw(factor=rate, patience=steps, min_lr=min_lr))
        return Constant()

    def resolve_task(self, y: Any, warn: bool = True, stacklevel: int = 1) -> TaskChoice:
        """The task, loss and targets (``.task``, ``.loss``, ``.y``) a run of this record
        trains on for targets y, of shape (n_samples,) or (n_samples, n_outputs): a
        :class:`~nnfast._targets.TaskChoice`. y's dtype is not changed here (the model's
        dtype applies when training reads the targets); ``.y`` is y as given, except a
        column of class labels, made 1-D.

        Follows ``task`` and ``loss`` (see the class docstring); ``warn`` emits the
        :class:`nnfast.TargetWarning` s of a doubtful guess or a column of labels, at
        ``stacklevel`` (1: the caller of this method). Every training entry point
        decides through this (``nnfast._targets.resolve_task``).
        """
        return resolve_task(y, self.task, self.loss, self.output, warn=warn, stacklevel=stacklevel + 1)

    def resolve_loss(self, y: Any) -> str:
        """The loss for targets y: this record's, or the one its ``task`` (or "auto") picks
        from y, without warnings (:meth:`resolve_task` warns). ``y`` has shape (n_samples,)
        or (n_samples, n_outputs), in any of the forms :meth:`nnfast.Sequential.fit` takes."""
        return self.resolve_task(y, warn=False).loss

    def layers(self, n_outputs: int, loss: str) -> List[Union[Dense, Dropout]]:
        """The layer stack: hidden Dense layers (each followed by its Dropout) and the output."""
        rates = self.dropout if isinstance(self.dropout, tuple) else (self.dropout,) * len(self.hidden)
        stack: List[Union[Dense, Dropout]] = []
        for units, rate in zip(self.hidden, rates):
            stack.append(Dense(units, self.activation))
            if rate > 0:
                stack.append(Dropout(rate))
        output = DEFAULT_OUTPUT[loss] if self.output == "auto" else self.output
        stack.append(Dense(n_outputs, output))
        return stack

    # --- plain data ------------------------------------------------------------------------

    def replace(self, **changes: Any) -> "Hyperparameters":
        """A copy with some fields changed (validated like a new record)."""
        check_names(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        """Every field, JSON-ready (tuples become lists; class_weight a list of [label, weight] pairs)."""
        def plain(value: Any) -> Any:
            return [plain(v) for v in value] if isinstance(value, tuple) else value
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Hyperparameters":
        """A record from a dict such as :meth:`to_dict` gives; unknown keys are errors.

        Raises
        ------
        TypeError
            If ``data`` is not a dict, or if a field's value has the wrong type (as
            :class:`Hyperparameters` checks it, naming the field).
        ValueError
            If a key of ``data`` is not a hyperparameter (the message names it, with the
            closest field name as a hint), or if a field's value is out of range.
        """
        if not isinstance(data, dict):
            raise TypeError(f"expected a dict of hyperparameters, got {type(data).__name__}")
        check_names(data)
        return cls(**data)

    def to_json(self) -> str:
        """The record as a JSON string (:meth:`to_dict`), read back by :meth:`from_json`."""
        import json

        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Hyperparameters":
        """The record written by :meth:`to_json`; raises ValueError or TypeError as :meth:`from_dict` does."""
        import json

        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        defaults = {f.name: f.default for f in fields(self)}
        shown = [f"{name}={dict(value) if name == 'class_weight' and isinstance(value, tuple) else value!r}"
                 for name, value in ((f.name, getattr(self, f.name)) for f in fields(self)) if value != defaults[name]]
        return f"Hyperparameters({', '.join(shown)})"


#: names other libraries give our fields (scikit-learn, Keras, PyTorch), for the "did you mean" hint
ALIASES = {"learning_rate": "lr", "learning_rate_init": "lr", "lr_rate": "lr", "hidden_layer_sizes": "hidden",
           "layers": "hidden", "units": "hidden", "n_epochs": "epochs", "max_iter": "epochs", "num_epochs": "epochs",
           "alpha": "l2", "weight_penalty": "l2", "batch": "batch_size", "activation_function": "activation",
           "random_state": "seed", "n_iter_no_change": "patience", "tol": "min_delta",
           "learning_rate_schedule": "schedule", "solver": "optimizer"}


def check_names(data: Dict[str, Any], where: str = "") -> None:
    """Raise ValueError naming the first key of ``data`` that is not a hyperparameter
    (``where`` says where it was found), with the closest field name as a hint."""
    known = {f.name for f in fields(Hyperparameters)}
    for name in data:
        if name not in known:
            import difflib

            close = [ALIASES[name]] if name in ALIASES else difflib.get_close_matches(str(name), known, n=1,
                                                                                      cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            place = f" {where}" if where else ""
            raise ValueError(f"unknown hyperparameter {name!r}{place}{hint}")



def __getattr__(name: str) -> Any:
    """``nnfast.hyperparams.train`` and ``build_model`` moved to :mod:`nnfast.training`; the
    old names still work, looked up when first used, so that this module imports nothing
    above it."""
    if name in ("train", "build_model"):
        from . import training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
