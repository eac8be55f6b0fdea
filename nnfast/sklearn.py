"""scikit-learn estimators over nnfast: drop-in for Pipeline, GridSearchCV, cross_val_score.

    from nnfast.sklearn import NNClassifier
    search = GridSearchCV(make_pipeline(StandardScaler(), NNClassifier(epochs=30)),
                          {"nnclassifier__lr": [1e-3, 3e-3], "nnclassifier__hidden": [(64,), (128, 64)]})

The estimators' parameters are exactly the fields of :class:`nnfast.Hyperparameters`, with
its defaults, so ``get_params()`` is a hyperparameter record and a tuned configuration moves
between nnfast and scikit-learn unchanged. As scikit-learn expects, nothing is checked when
an estimator is made; ``fit`` builds the Hyperparameters and raises on a bad value.
``NNClassifier`` with ``loss="auto"`` always classifies (binary or categorical cross-entropy
by the number of classes, whatever the labels' dtype); ``NNRegressor`` with ``loss="auto"``
uses mean squared error.

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
except ImportError as exc:  # an optional extra
    raise ImportError("nnfast.sklearn needs scikit-learn: pip install scikit-learn") from exc

from ._convert import target_array
from .hyperparams import Hyperparameters, train
from .io import load, save

__all__ = ["NNClassifier", "NNRegressor"]

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

    def _loss(self, y: Any) -> str:
        raise NotImplementedError

    def hyperparameters(self, y: Any = None) -> Hyperparameters:
        """The validated record of this estimator's parameters (its "auto" loss resolved for y)."""
        params = self.get_params()
        if y is not None and params["loss"] == "auto":
            params["loss"] = self._loss(y)
        return Hyperparameters(**params)

    def fit(self, X: Any, y: Any, sample_weight: Any = None):
        """Train a new network on (X, y); ``validation_split`` and ``patience`` early-stop it."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
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

    def _loss(self, y: Any) -> str:
        from sklearn.utils.multiclass import type_of_target

        labels = np.asarray(y)
        if labels.ndim != 1:
            raise ValueError(f"NNClassifier needs 1-D class labels, got y of shape {labels.shape}")
        if type_of_target(labels).startswith("continuous"):
            raise ValueError("Unknown label type: continuous; NNClassifier needs class labels "
                             "(use NNRegressor for real-valued targets)")
        return "binary_cross_entropy" if len(np.unique(labels)) == 2 else "cross_entropy"

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "NNClassifier":
        # labels read as nnfast reads them (a pandas Series, object arrays of numbers), so
        # scikit-learn's type_of_target sees what the model will, and missing labels fail here
        column = target_array(y, "y") if y is not None else None
        if column is not None and column.ndim == 2 and column.shape[1] == 1:  # as scikit-learn allows
            import warnings

            from sklearn.exceptions import DataConversionWarning

            warnings.warn("A column-vector y was passed when a 1d array was expected; "
                          "pass y.ravel()", DataConversionWarning, stacklevel=2)
            column = column.ravel()
        super().fit(X, y if column is None else column, sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        model = self._fitted()
        self._check_width(X)
        return model.predict_proba(X)


class NNRegressor(RegressorMixin, _NNEstimator):
    """A dense network regressor; parameters as :class:`nnfast.Hyperparameters`."""

    def _loss(self, y: Any) -> str:
        return "mse"

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
