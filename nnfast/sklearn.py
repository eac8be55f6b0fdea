"""scikit-learn estimators over nnfast: drop-in for Pipeline, GridSearchCV, cross_val_score.

For example::

    from nnfast.sklearn import NNClassifier
    search = GridSearchCV(make_pipeline(StandardScaler(), NNClassifier(epochs=30)),
                          {"nnclassifier__lr": [1e-3, 3e-3], "nnclassifier__hidden": [(64,), (128, 64)]})

The estimators' parameters are the fields of :class:`nnfast.Hyperparameters`, with its
defaults, so a tuned configuration moves between nnfast and scikit-learn unchanged, plus
two of scikit-learn's names: ``random_state`` and ``warm_start``. As scikit-learn expects,
nothing is checked when an estimator is made; ``fit`` builds the Hyperparameters and raises
on a bad value. The estimator fixes the task: ``NNClassifier`` always classifies (with
``loss="auto"``, binary or categorical cross-entropy by the number of classes, whatever
the labels' dtype) and ``NNRegressor`` always regresses (mean squared error), so their
``task`` parameter may be "auto" or their own task only. A column of class labels, shape
(n, 1), is read as 1-D with a warning that is both scikit-learn's ``DataConversionWarning``
and nnfast's ``LabelColumnWarning`` (the rule every nnfast entry point applies).

Input. scikit-learn's own ``validate_data`` (``_validate_data`` before scikit-learn 1.6)
records ``n_features_in_`` and, for a frame with string column names, ``feature_names_in_``;
predicting on columns renamed or reordered raises ValueError, on an array after a frame (or
the reverse) warns, in scikit-learn's words. nnfast's conversion reads the values (booleans,
nullable and object columns; missing values, categories and other non-numbers refused by
column), with its own messages.

random_state. None (the default): ``seed`` decides (0 by default), so fits are repeatable,
unlike scikit-learn's None; an int: the seed (with ``seed`` left at 0; both set to different
values is a ValueError); a ``numpy.random.RandomState``: each fresh fit draws its seed from
it, so repeated fits differ and the sequence repeats with the state. A continued fit
(``warm_start``, ``partial_fit``) keeps the model's seed.

Fitting again. ``fit`` starts a new network, unless ``warm_start=True`` and the estimator is
fitted: then it trains the fitted one ``epochs`` more as :meth:`nnfast.Sequential.fit` does
when fitting again: same classes (a subset in y is fine), same scaling, and the optimizer
state (Adam's moments and step count), the shuffling and dropout streams and the schedule
carry on, so 5 + 5 epochs equal 10 bit for bit. ``partial_fit`` runs one epoch the same way
(``validation_split`` and ``patience`` are not used); the classifier's needs ``classes=`` on
the first call (scikit-learn's rule), which decides the outputs and the loss, and refuses
labels outside them; ``class_weight="balanced"`` is refused there (pass a dict).

Outputs. ``predict_proba`` is in the model's dtype, ``predict_log_proba`` float64 (-inf
where a probability underflowed to 0); the regressor's ``predict`` is float64, as
scikit-learn expects, whatever the model's dtype.

Fitted estimators have ``model_`` (the :class:`nnfast.Sequential`), ``history_`` (of the
last fit or partial_fit), ``n_features_in_``, ``feature_names_in_`` (frames) and, for
classifiers, ``classes_``. They pickle (joblib, a process pool) through nnfast's own model
file, not by pickling the C++ network; a pickled estimator keeps its model, not the
optimizer state (a warm fit after unpickling continues with a fresh optimizer state, as
for a loaded model). :func:`expected_failed_checks` lists the scikit-learn estimator
checks that fail, with the reasons.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn import exceptions as sklearn_exceptions
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import _num_samples
except ImportError as exc:  # an optional extra
    raise ImportError("nnfast.sklearn needs scikit-learn: pip install scikit-learn") from exc

try:
    from sklearn.utils.validation import validate_data as _sklearn_validate_data
except ImportError:  # scikit-learn < 1.6: the estimator's own method
    _sklearn_validate_data = None

from ._convert import target_array
from ._settings import DTYPES
from ._targets import LabelColumnWarning, resolve_task
from ._validation import check_bool, check_int, check_labels, check_matrix
from .hyperparams import Hyperparameters
from .training import train
from .io import load, save
from .model import Sequential

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11; only read by type checkers here

    from .callbacks import History

__all__ = ["NNClassifier", "NNRegressor", "DataConversionWarning", "expected_failed_checks"]


class DataConversionWarning(LabelColumnWarning, sklearn_exceptions.DataConversionWarning):
    """Class labels given as a column (n, 1), read as 1-D: nnfast's LabelColumnWarning and
    scikit-learn's DataConversionWarning at once, so either filter catches it. It keeps
    scikit-learn's name, which scikit-learn's estimator checks read."""


#: the Hyperparameters fields, with their defaults: the estimators' parameters (with
#: scikit-learn's own random_state and warm_start, which are the estimator's, not the record's)
_FIELDS: Dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Hyperparameters)}

#: The estimators' Parameters section (both take the same; each class adds what differs).
_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden : tuple of int, default (64,)
        Units of each hidden layer; ``()`` is a linear (regressor) or logistic
        (classifier) model.
    activation : str, default "relu"
        Of the hidden layers (a name in :data:`nnfast.layers.HIDDEN_ACTIVATIONS`).
    output : str, default "auto"
        The output activation; "auto": softmax for cross-entropy, sigmoid for binary
        cross-entropy, identity for regression.
    init : str, default "auto"
        Weight initialisation: "auto" (He for ReLU-family layers, Xavier otherwise) or
        a name in :data:`nnfast.layers.INITIALIZERS` (distributions and sources:
        :class:`nnfast.Dense`).
    init_scale : float, optional
        For init "constant", "normal" and "uniform": the constant, the standard
        deviation, or the bound of ``U(-init_scale, init_scale)``, in weight units.
    task : str, default "auto"
        "auto" or the estimator's own task only (see the module notes).
    loss : str, default "auto"
        A name in :data:`nnfast.losses.LOSSES`, or "auto" (see the class notes).
    class_weight : None, "balanced" or dict label -> float
        Classification only: weights (no unit) multiplied into ``sample_weight``;
        "balanced" gives class ``c`` the weight ``n_samples / (n_classes * n_c)``, as
        scikit-learn does.
    optimizer : str, default "adam"
        "sgd", "adagrad", "rmsprop", "adam" or "adamw" (update rules and sources:
        :mod:`nnfast.optimizers`).
    lr : float, default 1e-3
        The learning rate: the factor of each optimizer step, one step per batch
        (parameter units per gradient unit for SGD; roughly the largest change of a
        parameter per step for Adam). ``schedule`` changes it per epoch.
    momentum, nesterov, beta1, beta2, eps, rho, weight_decay : optional
        Settings of one optimizer each (None: that optimizer's default, see
        :class:`nnfast.SGD`, :class:`nnfast.Adam`, ...): ``momentum`` in [0, 1) and
        ``nesterov`` (sgd); ``rho`` in [0, 1) (rmsprop); ``beta1``, ``beta2`` in
        [0, 1) (adam, adamw); ``eps`` > 0, added to the root of the second moment, in
        gradient units (all but sgd); ``weight_decay`` >= 0: each step removes
        ``lr * weight_decay`` of each weight, ``w -= lr weight_decay w`` (adamw).
    batch_size : int or None, default 32
        Rows per optimizer step; None: all the training rows (batch gradient descent).
    epochs : int, default 100
        The most passes over the training rows (fewer when ``patience`` stops early).
        ``partial_fit`` runs one.
    l1, l2 : float, default 0.0
        Weight penalties ``l1 |W|_1 + (l2 / 2) |W|^2`` added to the cost (biases are
        not penalised).
    dropout : float or sequence of float, default 0.0
        The probability in [0, 1) that a unit of a hidden layer is dropped in training:
        one for every hidden layer or one per layer.
    clip_norm : float, optional
        The largest global L2 norm of the gradient over all parameters at once (in
        gradient units): a larger gradient is scaled down to it (Pascanu, Mikolov and
        Bengio, 2013).
    schedule : str, default "constant"
        How the learning rate changes per epoch: "constant", "step", "exponential",
        "inverse_time", "cosine" or "plateau" (formulas and sources:
        :mod:`nnfast.schedules`).
    decay_rate : float, optional
        The schedule's factor (no unit): step and exponential gamma, inverse-time
        decay, plateau factor.
    decay_steps : int, optional
        The schedule's length in epochs: step size, inverse-time step, cosine period,
        plateau patience.
    min_lr : float, optional
        The smallest learning rate of the cosine and plateau schedules (as ``lr``).
    patience : int, optional
        Early stopping: stop after this many epochs without an improvement of the
        validation cost (the training cost without ``validation_split``) by more than
        ``min_delta``, and keep the best epoch's weights; None: no early stopping.
    min_delta : float, default 0.0
        The smallest improvement of that cost that counts, in the cost's units (nats
        for the cross-entropies, the target's units squared for mse).
    validation_split : float, default 0.0
        The fraction in [0, 1) of the rows held out (seeded, stratified for classes)
        to watch the validation cost on (``patience`` stops on it).
    standardize : bool, default False
        Learn each feature's mean and standard deviation on the training rows and apply
        them inside the model (for prediction too).
    shuffle : bool, default True
        Shuffle the rows each epoch (seeded).
    seed : int, default 0
        Seeds the initial weights, the shuffling, dropout and the validation split.
    dtype : {"float32", "float64"}, default "float32"
        The model's floating-point type: its parameters, its computation, and the
        dtype X is converted to.
    random_state : None, int or numpy.random.RandomState
        scikit-learn's seed (see the module notes): None leaves ``seed`` to decide.
    warm_start : bool, default False
        ``fit`` on a fitted estimator trains the fitted network ``epochs`` more instead
        of a new one.
"""

_ATTRIBUTES_DOC = """
    model_ : nnfast.Sequential
        The fitted network (its ``dtype`` is ``dtype``).
    history_ : nnfast.History
        Per-epoch costs and metrics of the last ``fit`` or ``partial_fit``.
    n_features_in_ : int
        The number of columns of X in fit.
    feature_names_in_ : ndarray of shape (n_features,), dtype object
        The column names of a DataFrame X whose names are all strings (absent otherwise).
"""


def _validate_data(estimator: BaseEstimator, X: Any, reset: bool) -> None:
    """scikit-learn's own bookkeeping of the input: records ``n_features_in_`` and
    ``feature_names_in_`` (``reset``), or checks X against them, warning or raising as any
    scikit-learn estimator does (columns renamed or reordered: ValueError). The values are
    not read here: nnfast's conversion reads them, with its own messages. ``np.matrix`` is
    refused (TypeError), as scikit-learn's estimators refuse it."""
    if isinstance(X, np.matrix):
        raise TypeError("np.matrix is not supported. Please convert to a numpy array with np.asarray.")
    if _sklearn_validate_data is not None:
        _sklearn_validate_data(estimator, X, reset=reset, skip_check_array=True)
    else:
        estimator._validate_data(X, reset=reset, cast_to_ndarray=False)


class _NNEstimator(BaseEstimator):
    # The parameters spelled out, so that type checkers and IDEs know them (a misspelt
    # one is an error there, and a TypeError here) and scikit-learn's get_params,
    # set_params and clone read them from the signature: the fields of Hyperparameters
    # with their defaults (tests/test_types.py checks that they stay in step), then
    # scikit-learn's two. Values are checked by fit, as scikit-learn expects.
    def __init__(self, *,
                 hidden: Sequence[int] = (64,),
                 activation: str = "relu",
                 output: str = "auto",
                 init: str = "auto",
                 init_scale: Optional[float] = None,
                 task: str = "auto",
                 loss: str = "auto",
                 class_weight: Union[None, str, Mapping[Any, float], Tuple[Tuple[Any, float], ...]] = None,
                 optimizer: str = "adam",
                 lr: float = 1e-3,
                 momentum: Optional[float] = None,
                 nesterov: bool = False,
                 beta1: Optional[float] = None,
                 beta2: Optional[float] = None,
                 eps: Optional[float] = None,
                 rho: Optional[float] = None,
                 weight_decay: Optional[float] = None,
                 batch_size: Optional[int] = 32,
                 epochs: int = 100,
                 l1: float = 0.0,
                 l2: float = 0.0,
                 dropout: Union[float, Sequence[float]] = 0.0,
                 clip_norm: Optional[float] = None,
                 schedule: str = "constant",
                 decay_rate: Optional[float] = None,
                 decay_steps: Optional[int] = None,
                 min_lr: Optional[float] = None,
                 patience: Optional[int] = None,
                 min_delta: float = 0.0,
                 improvement_over: str = "last_improvement",
                 validation_split: float = 0.0,
                 standardize: bool = False,
                 shuffle: bool = True,
                 seed: int = 0,
                 dtype: str = "float32",
                 random_state: Union[None, int, np.random.RandomState] = None,
                 warm_start: bool = False) -> None:
        self.hidden = hidden
        self.activation = activation
        self.output = output
        self.init = init
        self.init_scale = init_scale
        self.task = task
        self.loss = loss
        self.class_weight = class_weight
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.rho = rho
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.l1 = l1
        self.l2 = l2
        self.dropout = dropout
        self.clip_norm = clip_norm
        self.schedule = schedule
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.min_lr = min_lr
        self.patience = patience
        self.min_delta = min_delta
        self.improvement_over = improvement_over
        self.validation_split = validation_split
        self.standardize = standardize
        self.shuffle = shuffle
        self.seed = seed
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start

    #: the task this estimator learns: "classification" or "regression"
    _task = ""

    def _check_targets(self, y: Any) -> Any:
        """y as training reads it; ValueError in scikit-learn's words for targets this
        estimator cannot learn."""
        return y

    def _seed(self) -> int:
        """The seed of a fresh fit: ``seed``, or what ``random_state`` says (see the module
        docstring); a RandomState gives a new seed each call."""
        state = self.random_state
        if state is None:
            return self.seed
        if isinstance(state, numbers.Integral) and not isinstance(state, (bool, np.bool_)):
            state = check_int(state, "random_state", low=0, high=2**63 - 1)
            if self.seed not in (_FIELDS["seed"], state):
                raise ValueError(f"random_state={state} and seed={self.seed} both set the seed; give one of them")
            return state
        if isinstance(state, np.random.RandomState):
            return int(state.randint(np.iinfo(np.int32).max))
        check_random_state(state)  # ValueError in scikit-learn's words for anything else
        raise ValueError(f"random_state must be None, an int or a numpy RandomState, got {state!r}")

    def _record(self, seed: Optional[int] = None) -> Hyperparameters:
        """The validated record, its task fixed to the estimator's, its seed ``seed`` (or
        the one :meth:`_seed` gives)."""
        params = self.get_params()
        if params["task"] not in ("auto", self._task):
            other = "NNRegressor" if self._task == "classification" else "NNClassifier"
            raise ValueError(f"{type(self).__name__} is for {self._task}, not task={params['task']!r}; "
                             f"use {other}")
        check_bool(params["warm_start"], "warm_start")
        fields = {name: params[name] for name in _FIELDS}
        fields.update(task=self._task, seed=self._seed() if seed is None else seed)
        return Hyperparameters(**fields)

    def hyperparameters(self, y: Any = None) -> Hyperparameters:
        """The validated record of this estimator's parameters, its task fixed to the
        estimator's, its seed as ``random_state`` says (a RandomState draws one), and,
        given y (shape (n_samples,) or (n_samples, n_outputs)), its "auto" loss resolved
        for y.

        Raises
        ------
        ValueError
            For a bad parameter value, a ``task`` other than "auto" and the estimator's,
            and ``random_state`` and ``seed`` set to different seeds.
        """
        hp = self._record()
        if y is not None and hp.loss == "auto":
            hp = hp.replace(loss=hp.resolve_loss(y))
        return hp

    def _train(self, X: Any, y: Any, sample_weight: Any, partial: bool, classes: Any = None) -> Self:
        """fit (fresh, or continued with ``warm_start``) and partial_fit (one epoch, continued)."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        fitted: Optional[Sequential] = getattr(self, "model_", None)
        continuing = fitted is not None and (partial or check_bool(self.warm_start, "warm_start"))
        continued = fitted if continuing else None  # the network a continued fit trains further
        hp = self._record(seed=continued.seed if continued is not None else None)
        if partial:
            if hp.class_weight == "balanced":
                raise ValueError("class_weight='balanced' is not supported for partial_fit, whose parts need not hold "
                                 "the classes in their proportions: pass a dict, e.g. from "
                                 "sklearn.utils.class_weight.compute_class_weight('balanced', classes=..., y=...)")
            hp = hp.replace(epochs=1, patience=None, validation_split=0.0)
        if continued is not None:
            self._check_unchanged(continued, hp, "partial_fit" if partial else "fit with warm_start=True")
        # a continued model keeps its input columns: checked, not recorded again
        _validate_data(self, X, reset=not continuing)
        y = self._check_targets(y)
        if isinstance(sample_weight, numbers.Real):
            # one number for every sample, as scikit-learn's _check_sample_weight takes it
            sample_weight = np.full(_num_samples(X), sample_weight, dtype=np.float64)
        if not continuing and classes is None and hp.loss == "auto":
            hp = hp.replace(loss=hp.resolve_loss(y))
        self.model_, self.history_ = train(hp, X, y, sample_weight=sample_weight, verbose=False,
                                           model=continued, classes=classes)
        return self

    #: what a continued fit cannot change: the network and its input scaling
    _KEPT = ("hidden", "activation", "output", "dropout", "dtype", "standardize")

    def _check_unchanged(self, model: Sequential, hp: Hyperparameters, how: str) -> None:
        """ValueError naming the parameters changed since the fitted network was made, which
        a continued fit cannot honour."""
        before = model.hyperparameters
        if before is None:
            return
        changed = [f"{name}={getattr(hp, name)!r} (fitted with {getattr(before, name)!r})" for name in self._KEPT
                   if getattr(hp, name) != getattr(before, name)]
        if changed:
            raise ValueError(f"{how} continues the fitted network, but {', '.join(changed)}; set warm_start=False "
                             f"(for fit) or clone the estimator to start afresh")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Self:
        """Train a new network on (X, y), or with ``warm_start=True`` train the fitted one
        further (``epochs`` more, optimizer state kept); ``validation_split`` and
        ``patience`` early-stop it.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Real numbers of any dtype (booleans, integers, floats; pandas nullable and
            object columns of numbers), finite; converted to the model's ``dtype``
            (float32 or float64), without a copy when X already is a C-ordered array of
            it. Complex, string, categorical and date columns are a TypeError.
        y : array-like of shape (n_samples,), or (n_samples, n_outputs) for the regressor
            The classifier's class labels, of any dtype (integers, strings, booleans;
            kept as ``classes_``); the regressor's real values, converted to ``dtype``.
        sample_weight : array-like of shape (n_samples,) or float, optional
            Real, finite, non-negative, not all zero (a number: the same for every row);
            the weight of each row in the mean cost (no unit).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For y None, a bad parameter value (see :meth:`hyperparameters`), targets the
            estimator cannot learn (continuous labels for the classifier), bad data, and,
            with ``warm_start``, parameters that change the fitted network.
        TypeError
            For X or y of a type nnfast does not read, ``np.matrix``, or a parameter of
            the wrong type.
        """
        return self._train(X, y, sample_weight, partial=False)

    # set by fit (the classes' docstrings describe them under Attributes)
    model_: Sequential
    history_: History
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]

    def _fitted(self) -> Sequential:
        model: Optional[Sequential] = getattr(self, "model_", None)
        if model is None:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        return model

    def _read(self, X: Any) -> Tuple[Sequential, NDArray[np.floating[Any]]]:
        """The fitted model and X as it reads it: nnfast's conversion (its messages), then
        scikit-learn's check of the width and feature names against fit's."""
        model = self._fitted()
        checked = check_matrix(X, "X", DTYPES[model.dtype])
        _validate_data(self, X, reset=False)
        return model, checked

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        model = state.pop("model_", None)
        if model is not None:
            state["_model_file"] = _model_bytes(model)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        blob = state.pop("_model_file", None)
        self.__dict__.update(state)
        if blob is not None:
            self.model_ = _model_from_bytes(blob)


class NNClassifier(ClassifierMixin, _NNEstimator):
    __doc__ = """A dense network classifier; parameters as :class:`nnfast.Hyperparameters`, plus
    ``random_state`` and ``warm_start`` (see the module docstring).

    With ``loss="auto"`` it trains binary cross-entropy (one sigmoid unit) for two
    classes and cross-entropy (softmax) for more. ``score(X, y, sample_weight=None)`` is
    scikit-learn's ``ClassifierMixin.score``: the (weighted) fraction of rows whose
    :meth:`predict` equals y, a float in [0, 1].
    """ + _PARAMETERS_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted, in the dtype y had (int64, str, bool, ...); the
        columns of :meth:`predict_proba` follow this order.""" + _ATTRIBUTES_DOC

    _task = "classification"

    def _check_targets(self, y: Any) -> Any:
        from sklearn.utils.multiclass import type_of_target

        # labels as nnfast reads them (a pandas Series by its values; missing, infinite and mixed ones refused
        # in nnfast's words), so scikit-learn's type_of_target sees what the model will, and refuses complex
        # ones in its words
        labels = target_array(y)
        if labels.dtype.kind != "c":
            check_labels(labels)
        type_of_target(labels)
        # nnfast's rule for a column of labels, said in scikit-learn's warning class too
        choice = resolve_task(y, task="classification", column_warning=DataConversionWarning, stacklevel=5)
        labels = target_array(choice.y)
        if labels.ndim != 1:
            raise ValueError(f"NNClassifier needs 1-D class labels, got y of shape {labels.shape}")
        if type_of_target(labels).startswith("continuous"):
            raise ValueError("Unknown label type: continuous; NNClassifier needs class labels "
                             "(use NNRegressor for real-valued targets)")
        return labels

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "NNClassifier":
        super().fit(X, y, sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> "NNClassifier":
        """One epoch over (X, y), continuing the fitted network (optimizer state, streams
        and schedule kept), or starting one on the first call.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Real numbers, converted to the model's ``dtype`` (as in :meth:`fit`).
        y : array-like of shape (n_samples,)
            Labels among ``classes`` (a part may hold some of them only).
        classes : array-like of shape (n_classes,)
            Every class label, of y's dtype: required on the first call (it decides the
            outputs and, with ``loss="auto"``, binary or categorical cross-entropy);
            later, when given, it must be the fitted ``classes_``.
        sample_weight : array-like of shape (n_samples,) or float, optional
            As in :meth:`fit`.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Without ``classes`` on the first call, for other classes later, for labels in
            y outside them, for ``class_weight="balanced"`` (pass a dict), and for X whose
            width or feature names differ from the first call's.
        """
        if getattr(self, "model_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        self._train(X, y, sample_weight, partial=True, classes=classes)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row: the most probable (for two classes, the second when its
        probability is above 0.5).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Real numbers, converted to the model's ``dtype``; the columns (and their
            names, for a DataFrame) of fit.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels of ``classes_``, in its dtype.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before fit (a ValueError and an AttributeError).
        ValueError
            For X with another number of columns than fit's, renamed or reordered
            DataFrame columns, or values that are missing, infinite or beyond ``dtype``.
        TypeError
            For X of a type nnfast does not read (complex, strings, categories, dates).
        """
        model, X = self._read(X)
        return model.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class for each row.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            As in :meth:`predict`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            In the model's dtype (float32, or float64 with ``dtype="float64"``), each
            row summing to 1 up to rounding; columns in the order of ``classes_`` (for
            two classes, ``1 - p`` and the sigmoid unit's ``p``).

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError, TypeError
            As :meth:`predict`.
        """
        model, X = self._read(X)
        return model.predict_proba(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The natural log of :meth:`predict_proba`, float64 whatever the model's dtype,
        shape (n_samples, n_classes); -inf where a probability is 0 (it underflowed in the
        model's dtype). X as in :meth:`predict`, which also names the errors raised."""
        proba = np.asarray(self.predict_proba(X), dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.log(proba)


class NNRegressor(RegressorMixin, _NNEstimator):
    __doc__ = """A dense network regressor; parameters as :class:`nnfast.Hyperparameters`, plus
    ``random_state`` and ``warm_start`` (see the module docstring).

    With ``loss="auto"`` it trains the mean squared error; y of shape (n_samples,
    n_outputs) gives n_outputs output units. ``score(X, y, sample_weight=None)`` is
    scikit-learn's ``RegressorMixin.score``: the coefficient of determination
    ``R^2 = 1 - sum((y - predict(X))^2) / sum((y - mean(y))^2)``, a float at most 1,
    averaged uniformly over outputs (https://scikit-learn.org/stable/modules/model_evaluation.html#r2-score).
    """ + _PARAMETERS_DOC + """
    Attributes
    ----------""" + _ATTRIBUTES_DOC

    _task = "regression"

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "NNRegressor":
        """One epoch over (X, y), continuing the fitted network (optimizer state, streams
        and schedule kept), or starting one on the first call.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Real numbers, converted to the model's ``dtype`` (as in :meth:`fit`).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Real values, as on the first call; converted to ``dtype``.
        sample_weight : array-like of shape (n_samples,) or float, optional
            As in :meth:`fit`.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For X whose width or feature names differ from the first call's, y of
            another number of outputs, and bad data or parameters (as :meth:`fit`).
        """
        return self._train(X, y, sample_weight, partial=True)

    def predict(self, X: Any) -> np.ndarray:
        """The predicted values of each row.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Real numbers, converted to the model's ``dtype``; the columns (and their
            names, for a DataFrame) of fit.

        Returns
        -------
        ndarray of shape (n_samples,) for 1-D y in fit, else (n_samples, n_outputs)
            float64 (as scikit-learn expects), whatever the model's dtype: a float32
            model's values widened, in y's units.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before fit (a ValueError and an AttributeError).
        ValueError
            For X with another number of columns than fit's, renamed or reordered
            DataFrame columns, or values that are missing, infinite or beyond ``dtype``.
        TypeError
            For X of a type nnfast does not read (complex, strings, categories, dates).
        """
        model, X = self._read(X)
        return np.asarray(model.predict(X), dtype=np.float64)

    def __sklearn_tags__(self) -> Any:  # scikit-learn's Tags, untyped here
        # scikit-learn >= 1.6: 2-D y is several targets, as in MLPRegressor
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> Dict[str, Any]:  # the same for scikit-learn < 1.6
        return {"multioutput": True}


def expected_failed_checks(estimator: Union[NNClassifier, NNRegressor]) -> Dict[str, str]:
    """The scikit-learn estimator checks ``estimator`` fails, each with the reason: for
    ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)`` and
    ``check_estimator``. Every other check passes (the test suite runs them all, strictly:
    a listed check that passed would fail the suite).

    Returns
    -------
    dict
        Check name -> why it fails. The wording checks fail in any dtype; the others only
        for ``dtype="float32"`` (the default) and pass with ``dtype="float64"``.
    """
    failing = {
        "check_dtype_object": (
            "an object X holding a dict is refused in nnfast's own words, which name the column and row "
            "('X must hold real numbers, but column 0 holds dict values ...'), not in the words of Python's float() "
            "that the check looks for ('argument must be a string or a real number')"),
    }
    if isinstance(estimator, NNRegressor):
        failing["check_complex_data"] = (
            "complex X is refused with nnfast's TypeError ('X must hold real numbers, not complex numbers'), the "
            "check wants ValueError('Complex data not supported'); the classifier passes because scikit-learn's "
            "type_of_target refuses its complex labels first")
    if estimator.get_params()["dtype"] == "float32":
        failing["check_sample_weight_equivalence_on_dense_data"] = (
            "float32 rounding: the check's 15 weighted rows and their repeats fit in one batch of 32, so both fits "
            "take the same full-batch gradient steps, but the weighted and the repeated sums round differently in "
            "float32, and 100 epochs carry that past the check's rtol of 1e-7; it passes with dtype='float64'. "
            "(With more rows than batch_size the repeats fall in other mini-batches than their weighted row, and "
            "the equivalence is only in expectation, in any dtype.)")
        if isinstance(estimator, NNRegressor):
            failing["check_methods_subset_invariance"] = (
                "float32 rounding: predict returns float64 as scikit-learn expects, so the check compares at "
                "float64's rtol of 1e-7, but the values are float32 computations whose last bit depends on how "
                "many rows are predicted together (the matrix-multiply kernel's blocking); it passes with "
                "dtype='float64'")
    return failing


def _model_bytes(model: Sequential) -> bytes:
    with tempfile.TemporaryDirectory() as where:
        path = os.path.join(where, "model.nnf")
        save(model, path)
        with open(path, "rb") as f:
            return f.read()


def _model_from_bytes(blob: bytes) -> Sequential:
    with tempfile.TemporaryDirectory() as where:
        path = os.path.join(where, "model.nnf")
        with open(path, "wb") as f:
            f.write(blob)
        return load(path)
