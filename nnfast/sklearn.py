"""scikit-learn estimators over nnfast: drop-in for Pipeline, GridSearchCV, cross_val_score.

    from nnfast.sklearn import NNClassifier
    search = GridSearchCV(make_pipeline(StandardScaler(), NNClassifier(epochs=30)),
                          {"nnclassifier__lr": [1e-3, 3e-3], "nnclassifier__hidden": [(64,), (128, 64)]})

The estimators' parameters are exactly the fields of :class:`nnfast.Hyperparameters`, with
its defaults, so ``get_params()`` is a hyperparameter record and a tuned configuration moves
between nnfast and scikit-learn unchanged. As scikit-learn expects, nothing is checked when
an estimator is made; ``fit`` builds the Hyperparameters and raises on a bad value.
The estimator fixes the task: ``NNClassifier`` always classifies (with ``loss="auto"``,
binary or categorical cross-entropy by the number of classes, whatever the labels'
dtype) and ``NNRegressor`` always regresses (mean squared error), so their ``task``
parameter may be "auto" or their own task only. A column of class labels, shape (n, 1),
is read as 1-D with a warning that is both scikit-learn's ``DataConversionWarning`` and
nnfast's ``LabelColumnWarning`` (the rule every nnfast entry point applies).

Fitted estimators have ``model_`` (the :class:`nnfast.Sequential`), ``history_``,
``n_features_in_`` and, for classifiers, ``classes_``. They pickle (joblib, a process pool)
through nnfast's own model file, not by pickling the C++ network.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import tempfile
from typing import Any, Dict

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn import exceptions as sklearn_exceptions
except ImportError as exc:  # an optional extra
    raise ImportError("nnfast.sklearn needs scikit-learn: pip install scikit-learn") from exc

from ._convert import target_array
from ._targets import LabelColumnWarning, resolve_task
from .hyperparams import Hyperparameters
from .training import train
from .io import load, save

__all__ = ["NNClassifier", "NNRegressor", "DataConversionWarning"]


class DataConversionWarning(LabelColumnWarning, sklearn_exceptions.DataConversionWarning):
    """Class labels given as a column (n, 1), read as 1-D: nnfast's LabelColumnWarning and
    scikit-learn's DataConversionWarning at once, so either filter catches it. It keeps
    scikit-learn's name, which scikit-learn's estimator checks read."""

_DEFAULTS: Dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Hyperparameters)}


class _NNEstimator(BaseEstimator):
    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(_DEFAULTS))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameter(s) {unknown}; "
                            f"the parameters are the fields of nnfast.Hyperparameters")
        for name, default in _DEFAULTS.items():
            setattr(self, name, params.get(name, default))

    # get_params / set_params / clone read the parameter names from the signature
    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
           for name, default in _DEFAULTS.items()])

    #: the task this estimator learns: "classification" or "regression"
    _task = ""

    def _check_targets(self, y: Any) -> Any:
        """y as training reads it; ValueError in scikit-learn's words for targets this
        estimator cannot learn."""
        return y

    def hyperparameters(self, y: Any = None) -> Hyperparameters:
        """The validated record of this estimator's parameters, its task fixed to the
        estimator's (and, given y, its "auto" loss resolved for y).

        Raises
        ------
        ValueError
            For a bad parameter value, and a ``task`` other than "auto" and the estimator's.
        """
        params = self.get_params()
        if params["task"] not in ("auto", self._task):
            other = "NNRegressor" if self._task == "classification" else "NNClassifier"
            raise ValueError(f"{type(self).__name__} is for {self._task}, not task={params['task']!r}; "
                             f"use {other}")
        hp = Hyperparameters(**{**params, "task": self._task})
        if y is not None and hp.loss == "auto":
            hp = hp.replace(loss=hp.resolve_loss(y))
        return hp

    def fit(self, X: Any, y: Any, sample_weight: Any = None):
        """Train a new network on (X, y); ``validation_split`` and ``patience`` early-stop it."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = self._check_targets(y)
        hp = self.hyperparameters(y)
        self.model_, self.history_ = train(hp, X, y, sample_weight=sample_weight, verbose=False)
        self.n_features_in_ = self.model_.n_inputs
        return self

    def _fitted(self):
        model = getattr(self, "model_", None)
        if model is None:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        return model

    def _check_width(self, X: Any) -> None:
        # nnfast's own check says the same in its words; this is scikit-learn's wording
        shape = getattr(X, "shape", None)  # lists and the like: nnfast's check covers them
        if shape is not None and len(shape) == 2 and shape[1] != self.n_features_in_:
            raise ValueError(f"X has {shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")

    def predict(self, X: Any) -> np.ndarray:
        model = self._fitted()
        self._check_width(X)
        return model.predict(X)

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
    """A dense network classifier; parameters as :class:`nnfast.Hyperparameters`."""

    _task = "classification"

    def _check_targets(self, y: Any) -> Any:
        from sklearn.utils.multiclass import type_of_target

        # labels as nnfast reads them (a pandas Series by its values; missing and mixed ones refused),
        # so scikit-learn's type_of_target sees what the model will, and refuses complex ones in its words
        type_of_target(target_array(y))
        # nnfast's rule for a column of labels, said in scikit-learn's warning class too
        choice = resolve_task(y, task="classification", column_warning=DataConversionWarning, stacklevel=4)
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

    def predict_proba(self, X: Any) -> np.ndarray:
        model = self._fitted()
        self._check_width(X)
        return model.predict_proba(X)


class NNRegressor(RegressorMixin, _NNEstimator):
    """A dense network regressor; parameters as :class:`nnfast.Hyperparameters`."""

    _task = "regression"

    def __sklearn_tags__(self):  # scikit-learn >= 1.6: 2-D y is several targets, as in MLPRegressor
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> Dict[str, Any]:  # the same for scikit-learn < 1.6
        return {"multioutput": True}


def _model_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory() as where:
        path = os.path.join(where, "model.nnf")
        save(model, path)
        with open(path, "rb") as f:
            return f.read()


def _model_from_bytes(blob: bytes):
    with tempfile.TemporaryDirectory() as where:
        path = os.path.join(where, "model.nnf")
        with open(path, "wb") as f:
            f.write(blob)
        return load(path)
