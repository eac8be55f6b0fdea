"""The model: a stack of layers whose parameters live in the compiled core.

Hyperparameters (architecture, optimizer, learning rate, ...) are arguments here and
plain data in :class:`nnfast.Hyperparameters`; parameters (W, b) are learned and are
reached through :meth:`Sequential.parameters` as NumPy views of the core's buffer.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Concatenate, Dict, Iterable, List, Optional, ParamSpec, Protocol, Sequence, Tuple, \
    TypeVar, Union

import numpy as np

from . import _core, _lifecycle, _silence
from ._bounds import certify_finite
from ._settings import DTYPES, MAX_EPOCHS, check_schedule_for_dtype, check_settings_for_dtype, lr_problem
from ._targets import CLASSIFICATION_LOSSES, Targets, check_class_weight, classes_array, resolve_task
from ._validation import (all_finite, c_array, check_bool, check_float, check_for_dtype, check_int, check_matrix,
                          check_matrix_extent, check_name, check_sample_weight, check_split_weights,
                          check_column_names, column_names)
from .callbacks import Callback, DivergenceWarning, History, LearningRateWarning, ProgressBar
from .data import Standardizer, split_indices
from .layers import ACTIVATIONS, INIT_NAMES, INITIALIZERS, SCALED_INITIALIZERS, Dense, Dropout, auto_init
from .losses import LOSSES
from .optimizers import Optimizer, make_optimizer
from .schedules import Schedule, make_schedule

__all__ = ["Sequential"]

#: the compiled network of a model, of its dtype
_Network = Union[_core.Network32, _core.Network64]
_NETWORKS: Dict[str, Union[type[_core.Network32], type[_core.Network64]]] = {"float32": _core.Network32,
                                                                              "float64": _core.Network64}
# rows of training data used to measure the cost before training (the divergence yardstick)
_INITIAL_COST_ROWS = 4096

#: raised when a change of a model (fit, build, ...) starts while another thread changes it
ModelBusyError = _core.ModelBusyError


def _copy_config(config: _core.OptimizerConfig) -> _core.OptimizerConfig:
    """A copy of a core OptimizerConfig (the network's ``optimizer`` property is a live view)."""
    copy = _core.OptimizerConfig()
    for name in ("kind", "lr", "momentum", "nesterov", "beta1", "beta2", "rho", "eps", "weight_decay", "l1", "l2",
                 "clip_norm"):
        setattr(copy, name, getattr(config, name))
    return copy


class _Record(Protocol):
    """What the package reads of a model's record, ``model.hyperparameters``: an
    :class:`nnfast.Hyperparameters`, which the model does not import (the record is plain
    data beside the model; training, above both, sets it: tests/test_imports.py)."""

    def optimizer_spec(self) -> Optimizer: ...

    def to_dict(self) -> Dict[str, Any]: ...


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _one_change_at_a_time(what: str) -> Callable[[Callable[Concatenate[Sequential, _P], _R]],
                                                 Callable[Concatenate[Sequential, _P], _R]]:
    """Decorator for a public method that changes the model: it refuses, with ModelBusyError
    and before touching anything, to start while another change of the same model runs
    (the threading contract in DESIGN.md), in another thread or in this one (a callback of
    ``fit`` calling ``build`` or ``fit``). The change holds the model from its first line
    to its last, Python parts included; what it calls runs unguarded methods."""
    def decorate(method: Callable[Concatenate[Sequential, _P], _R]) -> Callable[Concatenate[Sequential, _P], _R]:
        @functools.wraps(method)
        def guarded(self: Sequential, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            if not self._change_lock.acquire(blocking=False):
                running = self._change_holder
                where = "in this thread" if running and running[0] == threading.get_ident() else "in another thread"
                raise ModelBusyError(f"the model is busy: {running[1] if running else 'a change'} is running on it "
                                     f"{where}, and a model takes one change at a time ({what} was refused); "
                                     f"predict, evaluate and save may run alongside")
            self._change_holder = (threading.get_ident(), what)
            lock = self._change_lock  # the one to release (a fork in a callback may replace it in the child)
            try:
                with _lifecycle.running_change():
                    return method(self, *args, **kwargs)
            finally:
                self._change_holder = None
                lock.release()
        return guarded
    return decorate


@dataclass
class _Data:
    """Rows as the core takes them, with the bounds the overflow proof needs."""

    X: np.ndarray
    Y: np.ndarray
    w: Optional[np.ndarray]
    x_max: float  # largest |x|
    y_max: Optional[float]  # largest |y| for losses on values; None for classes (targets in [0, 1])
    w_max: float  # largest sample weight (1 without)


#: what a classifier's predict needs: (targets, threshold, classes), see Sequential._labels
_Labels = Tuple[Optional[Targets], bool, Optional[np.ndarray]]
#: what a fit that fails before training puts back: loss, targets, labels, input scaling, optimizer settings
_Before = Tuple[Optional[str], Optional[Targets], _Labels, Optional[Tuple[np.ndarray, np.ndarray]],
                Optional[_core.OptimizerConfig]]


class Sequential:
    """A feed-forward network of :class:`~nnfast.Dense` layers, with optional
    :class:`~nnfast.Dropout` between them.

    Parameters
    ----------
    layers : sequence of Dense and Dropout
        The last layer is the output layer; a Dropout applies to the inputs of the
        Dense layer after it.
    inputs : int, optional
        Number of input features. Without it the model is built by the first ``fit``.
    init : str
        Weight initialiser for layers that do not name their own; ``"auto"`` picks He
        for ReLU-family layers and Xavier/Glorot for the others.
    init_scale : float, optional
        The value, standard deviation or limit of the ``constant``, ``normal`` and
        ``uniform`` initialisers.
    seed : int
        Seeds the initial weights, the batch order and the dropout masks: the same
        seed gives the same weights and the same training run.
    dtype : {"float32", "float64"}

    Raises
    ------
    TypeError
        If ``layers`` is not a sequence of layers (a single layer, a string, something
        not iterable), if one of its items is not a Dense or Dropout, or if ``seed`` is
        not an integer or ``init_scale`` not a number.
    ValueError
        If ``layers`` is empty, holds two Dropout layers in a row, ends with a Dropout,
        or has a softmax layer before the last; if ``init`` or ``dtype`` is not a known
        name, ``seed`` is negative or above 2**63 - 1, ``init_scale`` is not finite, or
        a non-zero ``init_scale`` or layer ``alpha`` becomes 0, subnormal or infinite in
        ``dtype``; if ``inputs`` is below 1 or above 2**31 - 1 (a TypeError when it is
        not an integer).
    MemoryError
        With ``inputs``, when the parameters do not fit in the memory the process can
        still have (as :meth:`build`).

    Notes
    -----
    Threads: a model may predict, evaluate and save from many threads at once, also while
    it trains; it is changed (``fit``, ``build``, writes through :meth:`parameters`) by
    one caller at a time. A second ``fit`` (or any other change) started while one runs
    raises :class:`nnfast.ModelBusyError` (a RuntimeError) at once; ordering writes
    through the parameter views is the caller's task.

    Examples
    --------
    >>> import nnfast as nf
    >>> net = nf.Sequential([nf.Dense(32, "relu"), nf.Dropout(0.1), nf.Dense(10, "softmax")], inputs=64)
    >>> net.n_params
    2410
    """

    def __init__(self, layers: Sequence[Union[Dense, Dropout]], inputs: Optional[int] = None, *, init: str = "auto",
                 init_scale: Optional[float] = None, seed: int = 0, dtype: str = "float32") -> None:
        if isinstance(layers, (Dense, Dropout, str)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of nnfast.Dense and nnfast.Dropout layers, got {layers!r}")
        self.layers = tuple(layers)
        if not self.layers:
            raise ValueError("a Sequential model needs at least one Dense layer")
        for layer in self.layers:
            if not isinstance(layer, (Dense, Dropout)):
                raise TypeError(f"layers must be nnfast.Dense or nnfast.Dropout, got {layer!r}")
        for before, after in zip(self.layers, self.layers[1:]):
            if isinstance(before, Dropout) and isinstance(after, Dropout):
                raise ValueError("two Dropout layers in a row; use one with the combined rate")
        if isinstance(self.layers[-1], Dropout):
            raise ValueError("the last layer must be Dense (dropout on the output would only add noise)")
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        for layer in dense[:-1]:
            if layer.activation == "softmax":
                raise ValueError("softmax is for the output layer only")
        self.init = check_name(init, "init", INIT_NAMES)
        self.init_scale = None if init_scale is None else check_float(init_scale, "init_scale")
        self.seed = check_int(seed, "seed", low=0, high=2**63 - 1)
        self.dtype = check_name(dtype, "dtype", DTYPES)
        if self.init_scale is not None:
            check_for_dtype(self.init_scale, "init_scale", DTYPES[self.dtype])
        for layer in dense:
            check_for_dtype(layer.resolved_alpha, "alpha", DTYPES[self.dtype])
        #: the Hyperparameters this model was trained from, when it came from nnfast.train
        self.hyperparameters: Optional[_Record] = None
        #: the loss of the last fit (or of the loaded model)
        self.loss: Optional[str] = None
        #: the column names of the pandas DataFrame X of the fit that started training (every
        #: name a string), as an object array; None when X had no such names
        self.feature_names_in_: Optional[np.ndarray] = None
        self._net: Optional[_Network] = None
        self._targets: Optional[Targets] = None
        # what a further fit continues: the optimizer of the last fit and the epochs run since
        # the model was built or reset (the schedule's clock)
        self._optimizer: Optional[Optimizer] = None
        self._epochs_trained = 0
        # what a classifier's predict needs, worked out once per targets: (targets, threshold, classes);
        # one tuple, replaced whole, so a thread never sees the targets with another's labels
        self._labels: _Labels = (None, False, None)
        # the change that runs (fit, build): (thread ident, name), under the lock
        self._change_lock = threading.Lock()
        self._change_holder: Optional[Tuple[int, str]] = None
        _lifecycle.track(self)
        if inputs is not None:
            self.build(inputs)

    def _forget_changes_of_other_threads(self, me: int) -> None:
        """In a forked child: a change that another thread of the parent was running never
        ends here (that thread does not exist), so the model is free again."""
        holder = self._change_holder
        if holder is not None and holder[0] != me:
            self._change_lock = threading.Lock()
            self._change_holder = None

    # --- structure ---------------------------------------------------------------------

    @_one_change_at_a_time("build")
    def build(self, inputs: int) -> "Sequential":
        """Create the parameters for ``inputs`` features and initialise them.

        Raises
        ------
        ModelBusyError
            While the model is being changed (``fit`` in any thread, also from a callback
            of that fit).
        MemoryError
            When the parameters do not fit in the memory the process can still have.
        """
        return self._build(inputs)

    def _build(self, inputs: int) -> "Sequential":
        inputs = check_int(inputs, "inputs", low=1, high=2**31 - 1)
        specs: List[_core.LayerSpec] = []
        dropout = 0.0
        for layer in self.layers:
            if isinstance(layer, Dropout):
                dropout = layer.rate
                continue
            act_enum, _ = ACTIVATIONS[layer.activation]
            specs.append(_core.LayerSpec(layer.units, act_enum, layer.resolved_alpha, dropout))
            dropout = 0.0
        net = _NETWORKS[self.dtype](inputs, specs)
        self._initialize(net)
        self._net = net
        # a new network: nothing of an earlier fit applies to it
        self.loss, self._targets, self._labels = None, None, (None, False, None)
        self._optimizer, self._epochs_trained = None, 0
        return self

    def _initialize(self, net: _Network) -> None:
        """The initial weights of ``net``, drawn from the model's seed (biases zero)."""
        inits: List[_core.Init] = []
        scales: List[float] = []
        for layer in self.layers:
            if isinstance(layer, Dropout):
                continue
            init = layer.init or self.init
            init = auto_init(layer.activation) if init == "auto" else init
            inits.append(INITIALIZERS[init])
            scales.append(self.init_scale if self.init_scale is not None else SCALED_INITIALIZERS.get(init, 0.0))
        net.initialize(inits, scales, self.seed)
        if not all_finite(net.params):  # e.g. a normal init whose scale times a large draw overflows float32
            raise ValueError(f"init_scale={self.init_scale:g} gives infinite initial weights in {self.dtype}; "
                             f"use a smaller init_scale" + (" or dtype float64" if self.dtype == "float32" else ""))

    @property
    def built(self) -> bool:
        """Whether the model has its parameters (built by :meth:`build` or a first ``fit``)."""
        return self._net is not None

    def _core_net(self) -> _Network:
        if self._net is None:
            raise RuntimeError("the model is not built yet: pass inputs= to Sequential or call fit first")
        return self._net

    @property
    def n_inputs(self) -> int:
        """The number of input features of a built model."""
        return self._core_net().inputs

    @property
    def n_outputs(self) -> int:
        """The number of outputs (units of the last layer) of a built model."""
        return self._core_net().outputs

    @property
    def n_params(self) -> int:
        """Number of learned parameters (every W and b)."""
        return self._core_net().n_params

    @property
    def nbytes(self) -> int:
        """int: bytes of memory the model's network holds: its parameters (a loaded or new model),
        plus, once it has trained, the gradient, the optimizer state and the batch workspaces."""
        return self._core_net().nbytes

    @property
    def task(self) -> Optional[str]:
        """"classification" or "regression": what the model was fitted for (None before)."""
        return None if self._targets is None else self._targets.task

    @property
    def classes_(self) -> Optional[np.ndarray]:
        """The class labels seen in training (classifiers only)."""
        return None if self._targets is None else self._targets.classes_

    def parameters(self) -> Dict[str, np.ndarray]:
        """The learned parameters as named, writable NumPy views of the core's buffer.

        Keys are ``W1, b1, W2, b2, ...`` (layer ``l`` maps its input ``x`` to
        ``x @ W{l} + b{l}``); writing into a view changes the model. No copy is made.
        """
        net = self._core_net()
        out: Dict[str, np.ndarray] = {}
        for l in range(len(net.layers)):
            W, b = net.layer_views(l)
            out[f"W{l + 1}"], out[f"b{l + 1}"] = W, b
        return out

    def _flat_params(self) -> np.ndarray:
        return self._core_net().params

    def summary(self) -> str:
        """A table of the layers, their shapes and parameter counts."""
        net = self._core_net()
        rows = [("layer", "output", "activation", "dropout in", "params")]
        fan_in = net.inputs
        for l, spec in enumerate(net.layers):
            rows.append((f"Dense {l + 1}", f"({spec.units},)", spec.activation.name,
                         f"{spec.input_dropout:g}" if spec.input_dropout else "-",
                         f"{fan_in * spec.units + spec.units:,}"))
            fan_in = spec.units
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"inputs: {net.inputs}   parameters: {net.n_params:,} ({self.dtype})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inputs = f", inputs={self._net.inputs}" if self._net is not None else ""
        return f"Sequential({list(self.layers)!r}{inputs}, dtype={self.dtype!r})"

    # --- training ----------------------------------------------------------------------

    def _default_loss(self) -> str:
        last = [layer for layer in self.layers if isinstance(layer, Dense)][-1].activation
        return {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(last, "mse")

    @_one_change_at_a_time("fit")
    def fit(self, X: Any, y: Any, *, loss: str = "auto", optimizer: Union[str, Optimizer, None] = None,
            epochs: int = 10, batch_size: Optional[int] = 32,
            validation: Optional[Tuple[Any, ...]] = None, validation_split: float = 0.0,
            sample_weight: Any = None, class_weight: Any = None, l1: float = 0.0, l2: float = 0.0,
            clip_norm: Optional[float] = None, schedule: Union[str, Schedule, None] = "constant",
            callbacks: Optional[Iterable[Callback]] = (), shuffle: bool = True, standardize: Optional[bool] = None,
            reset: bool = False, classes: Any = None, divergence_factor: float = 10.0,
            verbose: Union[bool, str, None] = "auto") -> History:
        """Train one epoch at a time; returns the :class:`~nnfast.History`.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            A finite, C-ordered array of the model's dtype is used as it is (no copy);
            another dtype, Fortran order, a list or a pandas frame costs one conversion.
        y : array of shape (n_samples,) or (n_samples, n_outputs)
            Class labels or one-hot rows for ``cross_entropy``, two classes (or 0/1
            columns) for ``binary_cross_entropy``, real values for ``mse``/``mae``. Class
            labels given as a column, shape (n_samples, 1), are read as ``y.ravel()`` with
            a :class:`nnfast.LabelColumnWarning`.
        loss : str
            One of :data:`nnfast.losses.LOSSES`, or ``"auto"``: the loss of the previous
            fit, else cross-entropy for a softmax output, binary cross-entropy for
            sigmoid, mse otherwise.
        optimizer : str, optimizer spec or None
            A name (default settings) or e.g. ``nnfast.Adam(lr=3e-4)``; None: the
            optimizer of the previous fit (unless ``reset``), else the one
            ``model.hyperparameters`` names (a model from :func:`nnfast.train`, or
            loaded), else Adam with its defaults.
        epochs : int
            The most epochs to run.
        batch_size : int or None
            Rows per update; None means the whole training set (batch gradient descent).
        validation : (X_val, y_val) or (X_val, y_val, w_val), optional
            Data to watch the validation cost on; never trained on.
        validation_split : float
            Without ``validation``: the fraction of (X, y) held out for it, split with
            the model's seed (stratified for classes). The held-out rows are copied (a
            fraction of X); training reads its rows of X in place.
        sample_weight : array of shape (n_samples,), optional
            Finite, non-negative, not all zero; positive weights below the dtype's
            smallest normal number are refused. A batch whose weights are all zero has
            no mean cost: it is skipped (no step).
        class_weight : "balanced", dict label -> weight, or None
            Classification only: each training row's weight is multiplied by its
            class's (1 for classes a dict leaves out); "balanced" gives class ``c``
            ``n / (n_classes * n_c)`` over the rows trained on, as scikit-learn does. The
            validation cost stays weighted by ``sample_weight`` alone.
        l1, l2 : float
            Weight penalties ``l1 |W|_1 + (l2 / 2) |W|^2`` in the cost (biases are not penalised).
        clip_norm : float, optional
            Rescale each gradient to at most this global norm.
        schedule : str, schedule spec or None
            The learning rate per epoch (see :mod:`nnfast.schedules`); None: constant.
            Its epoch counts every epoch since the model was built or reset, so a
            schedule goes on across fits. A schedule whose rate is 0, subnormal or
            infinite in the model's dtype in one of this fit's epochs is refused up front
            (``ValueError`` naming the epoch); a plateau schedule, which follows the
            history, stops training when it gets there (``stop_reason ==
            "lr_underflow"`` and a :class:`~nnfast.LearningRateWarning`).
        callbacks : iterable of Callback, or None
            E.g. ``nnfast.EarlyStopping(patience=5)``.
        shuffle : bool
            Shuffle the rows each epoch (seeded).
        standardize : bool or None
            Learn per-feature mean and std on the training rows and apply them inside
            the model, at training and prediction time alike. None: as the previous fit
            did (False for a first fit).
        reset : bool
            Start afresh: weights initialised again from the model's seed, classes,
            scaling, optimizer state, random streams and epoch count forgotten.
        classes : array-like of shape (n_classes,), optional
            Class labels (1-D y with a classification loss) when y may hold only some of
            them, as in scikit-learn's ``partial_fit``: a first fit learns these classes
            instead of y's; fitting a fitted model, they must be its classes. Labels in
            y outside them are a ValueError.
        divergence_factor : float
            Training diverges when the training cost exceeds this multiple of the cost
            before training (see Divergence below).
        verbose : bool, "auto" or None
            A line per epoch on stderr; "auto" shows it on a terminal only; None: False.

        Returns
        -------
        History
            Per-epoch costs and metrics, ``stop_reason`` and ``task``.

        Raises
        ------
        ValueError, TypeError
            For bad data or settings, before any training; among them settings that
            become 0 or infinite in the model's dtype (``eps=1e-300`` in float32), and
            data on which the network's outputs already overflow at its starting weights
            (``|X|`` near 3e38 in float32). Fitting a fitted model again: labels outside
            its classes, or a loss, ``standardize`` or kind of optimizer other than the
            fitted one (each error says to pass ``reset=True`` to start afresh). The model
            is left as it was.
        MemoryError
            When the gradient, optimizer state and batch workspaces of the first epoch
            need more memory than the process can still have; the model is left as it was.
        ModelBusyError
            When the model is being changed already: by a fit in another thread, or by
            this very fit (a callback calling ``fit`` or ``build``).

        Notes
        -----
        Fitting again. A model that has been fitted (or loaded) is trained further by
        ``fit``, as if its epochs had run on: the same classes (labels outside them are
        an error naming them; a subset is fine), the same input scaling (not learnt
        again), the same loss, and, in the process that trained it, the optimizer state
        (Adam's moments, SGD's velocity, the step count behind Adam's bias correction),
        the shuffling and dropout streams and the schedule's epoch count carry on. So
        ``fit(epochs=5)`` twice gives bit for bit the weights and costs of ``fit(epochs=10)``
        with the same seed, data and settings. The optimizer's settings (``lr``, betas,
        penalties, clipping) may change between fits; its kind may not. A loaded model
        keeps its classes and scaling, but its optimizer state and streams were not
        saved: they start afresh. ``reset=True`` starts afresh instead, as a new model
        with the same seed would, and learns new classes and scaling.

        Divergence. Training stops with ``stop_reason == "diverged"`` and a
        :class:`~nnfast.DivergenceWarning` when a batch cost is NaN or infinite (the epoch
        stops before that batch's update), the epoch's cost exceeds ``divergence_factor``
        times the cost before training, the parameters become NaN or infinite, or the
        validation cost is not finite; and, once training ends, when the model's outputs
        or cost on X are not finite. It then restores weights whose cost was measured
        finite: the parameters an epoch starts from are measured by its first batch, so
        the restored weights are those of the latest epoch start whose first batch had a
        finite cost no larger than the divergence threshold, or else the weights from
        before training (checked on every row of X before training starts). Whatever
        weights ``fit`` returns, also after early stopping restores its best, have finite
        parameters and finite outputs and cost on every row of X: proved from the
        weights and the largest ``|x|`` when that bound suffices (no pass over the data),
        checked by one pass over X otherwise.
        """
        reset = check_bool(reset, "reset")
        fitted = self._targets if not reset else None  # the fit this one continues, if any
        if isinstance(loss, str) and loss == "auto":
            loss = fitted.loss if fitted is not None else self._default_loss()
        else:
            loss = check_name(loss, "loss", LOSSES)
        opt = make_optimizer(self._previous_optimizer(reset) if optimizer is None else optimizer)
        sched = make_schedule("constant" if schedule is None else schedule)
        epochs = check_int(epochs, "epochs", low=1, high=MAX_EPOCHS)
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", low=1)
        class_weight = check_class_weight(class_weight)
        l1 = check_float(l1, "l1", low=0.0)
        l2 = check_float(l2, "l2", low=0.0)
        if clip_norm is not None:
            clip_norm = check_float(clip_norm, "clip_norm", low=0.0, low_open=True)
        validation_split = check_float(validation_split, "validation_split", low=0.0, high=1.0, high_open=True)
        divergence_factor = check_float(divergence_factor, "divergence_factor", low=1.0, low_open=True)
        shuffle = check_bool(shuffle, "shuffle")
        scaled = self._net is not None and self._net.standardization() is not None
        if standardize is None:
            standardize = scaled if fitted is not None else False
        standardize = check_bool(standardize, "standardize")
        if fitted is not None:
            self._check_continuation(fitted, loss, standardize, scaled, opt)
        if classes is not None:
            classes = self._check_classes(classes, loss, fitted)
        check_settings_for_dtype(self.dtype, opt, l1, l2, clip_norm, sched)
        check_schedule_for_dtype(self.dtype, sched, opt.lr, self._epochs_trained if fitted is not None else 0, epochs)
        callbacks = self._callbacks(callbacks, verbose)
        y = resolve_task(y, loss=loss, stacklevel=3).y  # class labels given as a column: read as 1-D, said
        names = column_names(X)
        if fitted is not None:
            check_column_names(self.feature_names_in_, X, "X")
        if isinstance(validation, (tuple, list)) and validation:
            check_column_names(names if fitted is None or self.feature_names_in_ is None else self.feature_names_in_,
                               validation[0], "X_val")

        dtype = DTYPES[self.dtype]
        built = self._net
        was_built = built is not None
        config = opt.config(l1, l2, clip_norm)
        before: _Before = (self.loss, self._targets, self._labels,
                           built.standardization() if built is not None else None,
                           _copy_config(built.optimizer) if built is not None else None)
        weights_before = built.params.copy() if reset and built is not None else None
        try:  # whatever is refused below leaves the model as it was
            train, targets = self._prepare_data(X, y, sample_weight, loss, fitted, classes)
            rows = None  # the training rows of train.X, when some are held out
            user_w = train.w  # the validation cost is weighted by sample_weight alone
            if validation is not None:
                val = self._validation_data(validation, targets, dtype, train.X.shape[1])
            elif validation_split > 0.0:
                strata = np.asarray(y) if targets.kind in ("categorical", "binary") else None
                train_rows, val_rows = split_indices(len(train.X), [validation_split], self.seed, strata)
                # one copy, of the held-out rows only; the core trains on the other rows of X in place
                val = _Data(train.X[val_rows], train.Y[val_rows], None if user_w is None else user_w[val_rows],
                            train.x_max, train.y_max, train.w_max)
                rows = np.ascontiguousarray(train_rows, dtype=np.int64)
                check_split_weights(user_w, {"training": train_rows, "held-out": val_rows}, validation_split)
            else:
                val = None
            if class_weight is not None:
                train = self._class_weighted(train, targets, class_weight, rows, dtype)
            n_train = len(train.X) if rows is None else len(rows)
            batch = n_train if batch_size is None else min(batch_size, n_train)
            loss_enum, metric_enum = LOSSES[loss], targets.core_metric
            self._start(loss, targets, train.X, config, standardize, rows=rows, fresh=fitted is None, reset=reset)
            net = self._core_net()  # built by _prepare_data
            head = slice(0, _INITIAL_COST_ROWS) if rows is None else rows[:_INITIAL_COST_ROWS]
            initial = net.evaluate(train.X[head], train.Y[head], None if train.w is None else train.w[head],
                                   loss_enum, metric_enum)
            if not initial.weight > 0:  # the first rows weigh nothing: measure on every training row
                every = slice(None) if rows is None else rows
                initial = net.evaluate(train.X[every], train.Y[every], None if train.w is None else train.w[every],
                                       loss_enum, metric_enum)
            # the network must be finite on the data before training starts: nothing to fall back on otherwise
            self._refuse_overflow(train, "X", loss_enum, was_built)
            if val is not None and validation is not None:
                self._refuse_overflow(val, "X_val", loss_enum, was_built)
        except BaseException:
            self._put_back(before, was_built, weights_before)
            raise
        # everything is checked: a fresh start forgets the optimizer state, the streams and the epochs
        before_optimizer = (self._optimizer, self._epochs_trained)
        self._begin(config, fresh=fitted is None)
        self._optimizer = opt
        if fitted is None:
            self.feature_names_in_ = names
        first_epoch = self._epochs_trained

        history = History(targets.metric, epochs, val is not None, task=targets.task)
        history.initial_loss = self._cost(initial)
        yardstick = divergence_factor * max(history.initial_loss, np.finfo(np.float64).tiny)
        params = net.params
        # Weights whose cost was measured finite (and below the yardstick), to restore when
        # training diverges. The parameters an epoch starts from are measured by its first
        # batch, so each epoch copies them (`start`) and keeps the copy when that batch's
        # cost was good (`measured`). The initial weights are the last resort: their
        # outputs and cost were checked on every row.
        initial_params = params.copy()
        measured, measured_after = initial_params, 0
        start = np.empty_like(params)
        diverged: Optional[Tuple[int, str]] = None  # (epoch, why)
        for cb in callbacks:
            cb.on_train_begin(self, history)
        stop = "max_epochs"
        for epoch in range(epochs):
            lr = sched.lr(first_epoch + epoch, opt.lr, history)
            problem = lr_problem(lr, self.dtype)
            if problem is not None:  # a schedule that reacts to the history (plateau): known only now
                stop = "lr_underflow"
                warnings.warn(f"training stopped before epoch {epoch + 1}: the schedule's learning rate {problem}, "
                              f"so the weights would not move; set the schedule's min_lr (at least "
                              f"{np.finfo(dtype).tiny:.3g})", LearningRateWarning, stacklevel=2)
                break
            net.set_learning_rate(lr)
            np.copyto(start, params)
            began = time.perf_counter()
            try:
                result = net.train_epoch(train.X, train.Y, train.w, batch, shuffle, loss_enum, metric_enum, rows)
            except MemoryError:  # the first epoch's workspaces could not be had: nothing has trained
                if epoch == 0:
                    self._optimizer, self._epochs_trained = before_optimizer
                    self._put_back(before, was_built, weights_before)
                raise
            seconds = time.perf_counter() - began
            if result.first_cost <= yardstick:  # the first batch measured `start`: finite, not exploded
                if measured is initial_params:
                    measured, start = start, np.empty_like(params)
                else:
                    measured, start = start, measured
                measured_after = epoch
            sums = result.sums
            cost = (sums.loss + result.penalty) / sums.weight if sums.weight > 0 else math.nan
            record: Dict[str, float] = {"loss": cost if result.finite else math.nan, "lr": lr, "time": seconds}
            why: Optional[str] = None
            if not result.finite:
                why = f"the cost of batch {result.batches + 1} was NaN or infinite"
            elif not math.isfinite(cost) or cost > yardstick:
                why = (f"the cost {cost:.4g} exceeded {divergence_factor:g} times its value before training "
                       f"({history.initial_loss:.4g})")
            elif not all_finite(params):
                why = "the parameters became NaN or infinite"
            else:
                record[targets.metric] = self._metric(sums, targets)
                if val is not None:
                    val_sums = net.evaluate(val.X, val.Y, val.w, loss_enum, metric_enum)
                    record["val_loss"] = self._cost(val_sums)
                    record["val_" + targets.metric] = self._metric(val_sums, targets)
                    if val_sums.nonfinite_rows or not math.isfinite(record["val_loss"]):
                        why = (f"the outputs on {val_sums.nonfinite_rows} of {len(val.X)} validation rows were NaN "
                               f"or infinite" if val_sums.nonfinite_rows else "the validation cost overflowed")
            history.append(**record)
            if why is not None:
                diverged = (epoch, why)
                np.copyto(params, measured)
                stop = "diverged"
                break
            if result.stopped:  # the interpreter is exiting (nnfast._lifecycle): return, callbacks unasked
                stop = "interpreter_exit"
                break
            requests = [cb for cb in callbacks if cb.on_epoch_end(self, epoch, history)]
            if requests:
                stop = requests[0].stop_reason
                break
        # The weights to return must have finite outputs and cost on the training rows:
        # the epoch's measurements covered batches only (and the last update none at all).
        problem = self._nonfinite(train, loss_enum)
        if problem is not None and diverged is None:
            diverged = (history.epochs - 1, f"after it, the model's {problem}")
            stop = "diverged"
            np.copyto(params, measured)
            problem = self._nonfinite(train, loss_enum)
        if problem is not None:  # measured on one batch, not finite on every row: back to the start
            measured, measured_after = initial_params, 0
            np.copyto(params, measured)
        history.stop_reason = stop
        self._epochs_trained = first_epoch + history.epochs
        message = None
        if diverged is not None:
            history.diverged_epoch = diverged[0]
            where = "from before training" if measured_after == 0 else f"after epoch {measured_after}"
            message = (f"training diverged in epoch {diverged[0] + 1} ({diverged[1]}); restored the weights {where}, "
                       f"whose cost was measured finite")
        kept = start
        np.copyto(kept, params)
        for cb in callbacks:
            cb.on_train_end(self, history)
        if not np.array_equal(params, kept):  # a callback put other weights in (EarlyStopping's best)
            problem = self._nonfinite(train, loss_enum)
            if problem is None:
                if message is not None:
                    message += "; then a callback (such as EarlyStopping) put in the weights it kept"
            else:
                np.copyto(params, kept)
                history.stop_reason = "diverged"
                if history.diverged_epoch is None:
                    history.diverged_epoch = history.epochs - 1
                message = (message + "; " if message else "training diverged: ") + (
                    f"with the weights a callback restored, the model's {problem}, so it keeps the weights training "
                    f"ended with")
        if message is not None:
            _silence.warn(f"{message}. Try a smaller learning rate (lr={history['lr'][-1]:g}).", DivergenceWarning,
                          stacklevel=2)
        return history

    def _callbacks(self, callbacks: Optional[Iterable[Callback]], verbose: Union[bool, str, None]) -> List[Callback]:
        """The callbacks of a run, a ProgressBar added when verbose."""
        chosen: List[Callback]
        if callbacks is None:
            chosen = []
        elif isinstance(callbacks, Callback):
            raise TypeError("callbacks must be a list of nnfast.Callback instances, not one callback; "
                            "write callbacks=[...]")
        else:
            try:
                chosen = list(callbacks)
            except TypeError:
                raise TypeError(f"callbacks must be a list of nnfast.Callback instances, got {callbacks!r}") from None
        for cb in chosen:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be nnfast.Callback instances, got {cb!r}")
        auto = isinstance(verbose, str) and verbose == "auto"
        if not (auto or verbose is None or isinstance(verbose, (bool, np.bool_))):
            raise TypeError(f"verbose must be True, False or 'auto', got {verbose!r}")
        if (verbose is not None and not auto and bool(verbose)) or (auto and sys.stderr.isatty()):
            chosen.append(ProgressBar())
        return chosen

    def _put_back(self, before: _Before, was_built: bool, weights_before: Optional[np.ndarray]) -> None:
        """Undo what a fit that failed before training changed (see fit's try block)."""
        dtype = DTYPES[self.dtype]
        self.loss, self._targets, self._labels, scaling, old_config = before
        if not was_built:
            self._net = None
            return
        net = self._core_net()
        if weights_before is not None:
            np.copyto(net.params, weights_before)
        if scaling is None:
            net.set_standardization(np.empty(0, dtype), np.empty(0, dtype))
        else:
            net.set_standardization(*scaling)
        assert old_config is not None  # a built network's settings were kept
        net.configure(old_config, reset=False)

    def _nonfinite(self, data: _Data, loss_enum: _core.Loss) -> Optional[str]:
        """What is NaN or infinite about the model on ``data`` (parameters, outputs, cost), or None.

        O(n_params) when :func:`~nnfast._bounds.certify_finite` proves the outputs finite
        from the weights and the data's largest values; one pass over the data otherwise.
        """
        net = self._core_net()
        if not all_finite(net.params):
            return "parameters are NaN or infinite"
        if not math.isfinite(net.penalty()):
            return "weight penalty overflows"
        if certify_finite(net, data.x_max, data.y_max, data.w_max, len(data.X)):
            return None
        sums = net.evaluate(data.X, data.Y, data.w, loss_enum, _core.Metric.none)
        if sums.nonfinite_rows:
            return f"outputs are NaN or infinite on {sums.nonfinite_rows} of {len(data.X)} rows"
        if not math.isfinite(sums.loss):
            return "cost overflows"
        return None

    def _refuse_overflow(self, data: _Data, name: str, loss_enum: _core.Loss, was_built: bool) -> None:
        """ValueError when the network is not finite on ``data`` before training starts:
        there would be no weights to fall back on."""
        problem = self._nonfinite(data, loss_enum)
        if problem is None:
            return
        if problem.startswith("parameters"):
            raise ValueError("the model's parameters are NaN or infinite; build() it again before training")
        fix = "scale the inputs (e.g. standardize=True)" + (" or y" if data.y_max is not None else "")
        if self.dtype == "float32":
            fix += " or use dtype float64"
        largest = f"|{name}| reaches {data.x_max:.3g}" + (f", |y| {data.y_max:.3g}" if data.y_max is not None else "")
        raise ValueError(f"cannot train on {name}: at the model's {'current' if was_built else 'initial'} weights its "
                         f"{problem} ({largest}: values overflow {self.dtype} inside the network); {fix}")

    def _prepare(self, X: Any, y: Any, sample_weight: Any, loss: str
                 ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Targets]:
        """Checked training data (X, Y encoded, w, targets); builds the model if needed."""
        data, targets = self._prepare_data(X, y, sample_weight, loss)
        return data.X, data.Y, data.w, targets

    def _prepare_data(self, X: Any, y: Any, sample_weight: Any, loss: str,
                      fitted: Optional[Targets] = None, classes: Optional[np.ndarray] = None) -> Tuple[_Data, Targets]:
        """Checked training data and its targets: ``fitted``'s (a fit that continues, whose
        classes y must keep to) or new ones learnt from ``classes`` when given, else from y."""
        dtype = DTYPES[self.dtype]
        X, x_max = check_matrix_extent(X, "X", dtype, self._net.inputs if self._net is not None else None)
        if y is None:
            raise TypeError("y is None; expected the targets, one per sample")
        targets = fitted if fitted is not None else Targets(loss).fit(y if classes is None else classes)
        hint = ("; fitting a fitted model continues its training with the same classes (reset=True starts afresh)"
                if fitted is not None else "; the classes given exclude them" if classes is not None else "")
        Y = targets.transform(y, np.dtype(dtype), unseen_hint=hint)
        if len(Y) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(Y)}")
        w = check_sample_weight(sample_weight, len(X), dtype)
        if self._net is None:
            self._build(X.shape[1])
        net = self._core_net()
        if net.outputs != targets.n_outputs:
            raise ValueError(f"the output layer has {net.outputs} units but y needs {targets.n_outputs} "
                             f"({'classes' if targets.is_classifier else 'outputs'}) for loss {loss!r}")
        return _Data(X, Y, w, x_max, self._value_extent(Y, targets), 1.0 if w is None else float(w.max())), targets

    @staticmethod
    def _value_extent(Y: np.ndarray, targets: Targets) -> Optional[float]:
        """The largest |y| for regression targets (None for classes, which lie in [0, 1])."""
        if targets.is_classifier:
            return None
        return float(max(-Y.min(), Y.max()))

    @staticmethod
    def _class_weighted(train: _Data, targets: Targets, class_weight: Union[str, Tuple[Tuple[Any, float], ...]],
                        rows: Optional[np.ndarray], dtype: type[np.floating[Any]]) -> _Data:
        """``train`` with its sample weights multiplied by the class weights of its rows."""
        weights = targets.class_weights(train.Y, class_weight, rows)
        if train.w is not None:
            weights = weights * train.w
        used = weights if rows is None else weights[rows]
        if not used.sum() > 0:
            raise ValueError("class_weight (with sample_weight) gives every training row a weight of 0")
        with np.errstate(over="ignore"):
            w = c_array(weights, dtype)
        if not np.isfinite(w).all():
            raise ValueError(f"class_weight times sample_weight exceeds the range of {np.dtype(dtype).name}; "
                             f"scale the weights")
        return _Data(train.X, train.Y, w, train.x_max, train.y_max, float(w.max()))

    def _previous_optimizer(self, reset: bool) -> Union[str, Optimizer]:
        """What ``optimizer=None`` means: the last fit's (unless reset), the hyperparameters', or Adam."""
        if self._optimizer is not None and not reset:
            return self._optimizer
        if self.hyperparameters is not None:
            return self.hyperparameters.optimizer_spec()
        return "adam"

    @staticmethod
    def _check_classes(classes: Any, loss: str, fitted: Optional[Targets]) -> np.ndarray:
        """``classes`` as sorted labels; ValueError for a loss without class labels, and for
        classes other than those of the fit that is continued."""
        if loss not in CLASSIFICATION_LOSSES:
            raise ValueError(f"classes applies to classification, not to loss {loss!r}")
        labels = classes_array(classes)
        if fitted is not None:
            fitted_classes = fitted.classes_  # set for the kinds below
            if fitted.kind not in ("categorical", "binary") or fitted_classes is None:
                raise ValueError("classes applies to a model fitted on class labels, not on one-hot or 0/1 rows")
            try:
                same = len(labels) == len(fitted_classes) and bool((labels == fitted_classes).all())
            except (TypeError, ValueError):
                same = False
            if not same:
                raise ValueError(f"classes={labels.tolist()} are not the model's classes {fitted_classes.tolist()}; "
                                 f"fitting a fitted model continues its training with the same classes "
                                 f"(reset=True starts afresh)")
        return labels

    def _check_continuation(self, fitted: Targets, loss: str, standardize: bool, scaled: bool,
                            optimizer: Optimizer) -> None:
        """ValueError, before anything changes, for settings a continued fit cannot honour."""
        again = "fitting a fitted model continues its training"
        if loss != fitted.loss:
            raise ValueError(f"the model was fitted with loss {fitted.loss!r}, not {loss!r}; {again} with the same "
                             f"loss (reset=True starts afresh)")
        if standardize != scaled:
            raise ValueError(f"the model was fitted with standardize={scaled}, not {standardize}; {again} with the "
                             f"same input scaling (reset=True starts afresh)")
        net = self._core_net()  # a fitted model is built
        state = net.grads is not None  # optimizer state from a fit in this process
        if state and optimizer.kind != net.optimizer.kind:
            raise ValueError(f"the model was trained with optimizer {net.optimizer.kind.name!r}, not "
                             f"{optimizer.name!r}; {again} and its optimizer state, which only the same kind of "
                             f"optimizer can read (its settings may change; reset=True starts afresh)")

    def _start(self, loss: str, targets: Targets, X: np.ndarray, config: _core.OptimizerConfig, standardize: bool,
               rows: Optional[np.ndarray] = None, fresh: bool = True, reset: bool = False) -> None:
        """Set up training on X (its ``rows`` only, when given), changing nothing that
        cannot be put back: with ``reset`` the initial weights again; for a ``fresh``
        start the input scaling learnt from the rows (or none); the targets; and
        ``config``'s penalties, for the checks before training (:meth:`_begin` then sets
        the optimizer itself)."""
        net = self._core_net()
        if reset:
            self._initialize(net)
        if fresh:
            if standardize:
                s = Standardizer()._fit_rows(X, rows)
                assert s.mean_ is not None and s.scale_ is not None  # what _fit_rows sets
                net.set_standardization(s.mean_.astype(X.dtype), s.scale_.astype(X.dtype))
            else:
                net.set_standardization(np.empty(0, X.dtype), np.empty(0, X.dtype))
        self.loss, self._targets = loss, targets
        probe = _copy_config(net.optimizer)  # the current kind: its state, if any, stays as it is
        probe.l1, probe.l2, probe.clip_norm = config.l1, config.l2, config.clip_norm
        net.configure(probe, reset=False)

    def _begin(self, config: _core.OptimizerConfig, fresh: bool) -> None:
        """After the checks: the optimizer, fresh (state zeroed, streams seeded) or continued.
        A network that has not trained in this process (a loaded one) has no streams to
        continue: they start from the model's seed."""
        net = self._core_net()
        untrained = net.grads is None
        net.configure(config, reset=fresh)
        if fresh or untrained:
            net.reseed(self.seed)
        if fresh:
            self._epochs_trained = 0

    def _validation_data(self, validation: object, targets: Targets, dtype: type[np.floating[Any]],
                         n_features: int) -> _Data:
        if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
            raise TypeError("validation must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight_val)")
        X_val, x_max = check_matrix_extent(validation[0], "X_val", dtype, n_features)
        Y_val = targets.transform(validation[1], np.dtype(dtype), "y_val")
        if len(Y_val) != len(X_val):
            raise ValueError(f"X_val has {len(X_val)} samples but y_val has {len(Y_val)}")
        w_val = check_sample_weight(validation[2] if len(validation) == 3 else None, len(X_val), dtype,
                                    "sample_weight_val")
        return _Data(X_val, Y_val, w_val, x_max, self._value_extent(Y_val, targets),
                     1.0 if w_val is None else float(w_val.max()))

    def _cost(self, sums: _core.MetricSums) -> float:
        """Mean loss plus the weight penalty."""
        return sums.loss / sums.weight + self._core_net().penalty()

    @staticmethod
    def _metric(sums: _core.MetricSums, targets: Targets) -> float:
        """Accuracy, or R^2 averaged uniformly over the outputs, as scikit-learn's r2_score:
        an output whose targets are constant scores 1 when predicted exactly, else 0. The
        core computes the sums in float64 whatever the model's dtype, the targets' spread
        centred (see csrc/losses.hpp), so any finite target gets its R^2 to ~1e-12."""
        if targets.is_classifier:
            return sums.correct / sums.weight
        r2 = [1.0 - sse / sst if sst > 0.0 else (1.0 if sse == 0.0 else 0.0) for sse, sst in zip(sums.sse, sums.y_m2)]
        return float(np.mean(r2))

    # --- using the model -----------------------------------------------------------------

    def _trained_targets(self) -> Targets:
        if self._targets is None:
            raise RuntimeError("the model has not been trained: call fit first (or forward() for raw outputs)")
        return self._targets

    def _run(self, method: Callable[..., np.ndarray], X: Any, *args: bool) -> np.ndarray:
        """A core prediction method on X. A C-ordered 2-D array of the model's dtype and
        width goes straight in (the core checks that it is finite), the common case in a
        service, which keeps a one-row prediction at a few microseconds; anything else,
        or a failure, goes through the full check, which converts or explains."""
        try:
            return method(X, *args, True)
        except (TypeError, ValueError):
            pass
        return method(self._checked(X), *args, False)

    def _checked(self, X: Any) -> np.ndarray:
        check_column_names(self.feature_names_in_, X, "X")
        return check_matrix(X, "X", DTYPES[self.dtype], self._core_net().inputs)

    def forward(self, X: Any) -> np.ndarray:
        """The output layer's activation for X, without dropout (for untrained models too).

        ``X`` is an array of shape (n_samples, n_features); the result is an array of shape
        (n_samples, n_outputs) in the model's dtype (float32 or float64).

        Raises ValueError for bad X, and when some rows' outputs are NaN or infinite
        (inputs so large that values overflow the model's dtype inside the network): the
        message says how many. Every prediction method does the same.
        """
        return self._run(self._core_net().predict, X)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels for classifiers; values for regression (1-D when trained on 1-D y).

        ``X`` is an array of shape (n_samples, n_features). The result has shape
        (n_samples,) (labels, of the dtype of the classes trained on), or for regression
        (n_samples,) or (n_samples, n_outputs) in the model's dtype.

        Raises ValueError for rows whose outputs are not finite, as :meth:`forward` does.
        """
        labels = self._labels
        if self._targets is None or labels[0] is not self._targets:
            targets = self._trained_targets()
            if targets.kind not in ("categorical", "soft", "binary"):
                return targets.decode(self.forward(X))
            labels = (targets, targets.kind == "binary", None if targets.classes_are_indices else targets.classes_)
            self._labels = labels
        _, threshold, classes = labels
        net = self._net
        assert net is not None  # trained, so built (not _core_net(): a call costs here)
        try:  # _run written out: this is the one-row call of a service, where 0.4 us shows
            index = net.predict_classes(X, threshold, True)
        except (TypeError, ValueError):
            index = net.predict_classes(self._checked(X), threshold, False)
        return index if classes is None else classes[index]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) in the model's dtype, for X of
        shape (n_samples, n_features); for binary models the columns are P(classes_[0]) and
        P(classes_[1]).

        Raises
        ------
        TypeError
            If the model was trained as a regressor (a loss on values such as mse): it
            has no classes.
        RuntimeError
            If the model has not been trained.
        ValueError
            For bad X, and for rows whose outputs are not finite, as :meth:`forward` does.
        """
        targets = self._trained_targets()
        if not targets.is_classifier:
            raise TypeError(f"predict_proba is for classifiers; this model was trained with loss {self.loss!r}")
        return targets.proba(self.forward(X))

    def evaluate(self, X: Any, y: Any, sample_weight: Any = None) -> Dict[str, float]:
        """``{"loss": cost, "accuracy" or "r2": metric}`` on (X, y); the cost includes the penalty.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            Converted to the model's dtype (float32 or float64).
        y : array of shape (n_samples,) or (n_samples, n_outputs)
            Targets in the forms :meth:`fit` takes.
        sample_weight : array of shape (n_samples,), optional
            Finite, non-negative, not all zero; weights the cost and the metric.

        Returns
        -------
        dict of str to float
            ``"loss"``: the weighted mean loss (see :mod:`nnfast.losses`) plus the penalty.
            ``"accuracy"`` (classifiers): the weighted share of rows whose predicted class
            is the true one, as scikit-learn's ``accuracy_score``. ``"r2"`` (regressors):
            the coefficient of determination ``1 - sum w (y - p)^2 / sum w (y - mean_w y)^2``
            per output, averaged uniformly over the outputs, as scikit-learn's ``r2_score``
            (``multioutput="uniform_average"``; an output with constant targets scores 1 when
            predicted exactly, else 0), https://scikit-learn.org/stable/modules/model_evaluation.html#r2-score.

        Raises
        ------
        TypeError
            If ``y`` is None.
        RuntimeError
            If the model has not been trained.
        ValueError
            For bad X, y or weights (X and y of different lengths, X of another width
            than the model's inputs, labels the model was not trained on), and when the
            model's outputs on some rows, or the cost, are NaN or infinite (values that
            overflow the model's dtype).
        """
        targets = self._trained_targets()
        net = self._core_net()
        loss = self.loss
        assert loss is not None  # set with the targets
        dtype = DTYPES[self.dtype]
        check_column_names(self.feature_names_in_, X, "X")
        X = check_matrix(X, "X", dtype, net.inputs)
        if y is None:
            raise TypeError("y is None; expected the targets, one per sample")
        Y = targets.transform(y, np.dtype(dtype))
        if len(Y) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(Y)}")
        w = check_sample_weight(sample_weight, len(X), dtype)
        sums = net.evaluate(X, Y, w, LOSSES[loss], targets.core_metric)
        fix = "scale the inputs" + (" or use dtype float64" if self.dtype == "float32" else "")
        if sums.nonfinite_rows:
            raise ValueError(f"the model's outputs are NaN or infinite for {sums.nonfinite_rows} of {len(X)} rows of "
                             f"X: values overflow {self.dtype} inside the network (or its parameters are not "
                             f"finite); {fix}")
        cost = self._cost(sums)
        if not math.isfinite(cost):
            raise ValueError(f"the cost overflows {self.dtype} (predictions and targets too far apart, or the weight "
                             f"penalty too large); scale y{' or use dtype float64' if self.dtype == 'float32' else ''}")
        return {"loss": cost, targets.metric: self._metric(sums, targets)}

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Write the model to one file (no pickle; see :func:`nnfast.load`)."""
        from .io import save

        save(self, path)

    def to_onnx(self, path: Union[str, os.PathLike[str], None] = None, *,
                name: str = "nnfast") -> Any:  # an onnx.ModelProto: onnx has no types
        """The model as an ONNX graph (an ``onnx.ModelProto``), written to ``path`` when given.

        Input ``X`` (N, inputs) of the model's dtype; outputs ``label`` and ``probabilities``
        for classifiers, ``predictions`` for regressors (see :func:`nnfast.export.to_onnx`).
        Needs the ``onnx`` package (``pip install 'nnfast[onnx]'``), not a runtime.
        """
        from .export import to_onnx

        return to_onnx(self, path, name=name)
