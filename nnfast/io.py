"""Saving and loading models: one file, no pickle.

The file (layout in ``csrc/model_file.hpp``) holds a binary layer table and the raw
little-endian parameters, which C++ reads on its own, plus a JSON document with what
Python needs: the hyperparameters, the layer specs, the loss, the class labels and the
nnfast version. Loading an untrusted file can fail; it cannot run code.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from . import _core
from ._targets import Targets
from .layers import Dense, Dropout

__all__ = ["save", "load"]

FORMAT = "nnfast-model"
_JSON_SCALARS = (str, int, float, bool)


def _layer_json(layer) -> Dict[str, Any]:
    if isinstance(layer, Dropout):
        return {"type": "Dropout", "rate": layer.rate}
    return {"type": "Dense", "units": layer.units, "activation": layer.activation, "init": layer.init,
            "alpha": layer.alpha}


def _layer_from_json(data: Dict[str, Any]):
    kind = data.pop("type")
    return Dropout(**data) if kind == "Dropout" else Dense(**data)


def save(model, path: "str | os.PathLike") -> None:
    """Write ``model`` to ``path`` atomically (a reader never sees half a file).

    Raises
    ------
    ValueError
        If the model has not been built, or its class labels are not JSON values
        (strings, integers, floats, booleans).
    """
    from .model import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"expected an nnfast.Sequential, got {type(model).__name__}")
    net = model._core_net()
    targets = model._targets
    if targets is not None and targets.classes_ is not None:
        odd = [c for c in targets.classes_.tolist() if not isinstance(c, _JSON_SCALARS)]
        if odd:
            raise ValueError(f"class labels of type {type(odd[0]).__name__} cannot be saved; "
                             "use strings or numbers as labels")
    config = net.optimizer
    doc = {
        "format": FORMAT,
        "nnfast_version": _core.__version__,
        "dtype": model.dtype,
        "seed": model.seed,
        "init": model.init,
        "init_scale": model.init_scale,
        "layers": [_layer_json(layer) for layer in model.layers],
        "loss": model.loss,
        "penalty": {"l1": config.l1, "l2": config.l2},
        "targets": None if targets is None else targets.to_json(),
        "hyperparameters": None if model.hyperparameters is None else model.hyperparameters.to_dict(),
    }
    net.save(os.fspath(path), json.dumps(doc))


def load(path: "str | os.PathLike"):
    """The model saved at ``path``, with its hyperparameters, ready to predict.

    Raises
    ------
    ValueError
        If the file is not an nnfast model, or is damaged or truncated.
    FileNotFoundError
        If there is no file at ``path``.
    """
    from .hyperparams import Hyperparameters
    from .model import Sequential

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path}")
    try:
        net, raw = _core.load(path)
        doc = json.loads(raw.decode("utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError("missing format marker")
        model = Sequential([_layer_from_json(dict(layer)) for layer in doc["layers"]], init=doc["init"],
                           init_scale=doc["init_scale"], seed=doc["seed"], dtype=doc["dtype"])
        if [layer.units for layer in net.layers] != [l.units for l in model.layers if isinstance(l, Dense)]:
            raise ValueError("the layer table and the JSON disagree")
        model._net = net
        model.loss = doc["loss"]
        model._targets = None if doc["targets"] is None else Targets.from_json(doc["targets"])
        if doc["hyperparameters"] is not None:
            model.hyperparameters = Hyperparameters.from_dict(doc["hyperparameters"])
        config = net.optimizer
        config.l1, config.l2 = doc["penalty"]["l1"], doc["penalty"]["l2"]
        net.configure(config)
    except (RuntimeError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable nnfast model: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not a readable nnfast model: {exc}") from None
    return model
