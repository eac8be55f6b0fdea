"""Saving and loading models: one file, no pickle.

The file (layout in ``csrc/model_file.hpp``) holds a binary layer table and the raw
little-endian parameters, which C++ reads on its own, plus a JSON document with what
Python needs: the hyperparameters, the layer specs, the loss, the class labels and the
nnfast version. Loading an untrusted file can fail; it cannot run code.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Callable, Collection, Dict, Iterable, List, Optional, ParamSpec, Tuple, TypeVar, Union

import numpy as np

from . import _core
from ._targets import Targets
from .hyperparams import Hyperparameters
from .layers import ACTIVATIONS, INIT_NAMES, Dense, Dropout
from .losses import LOSSES
from .model import Sequential

__all__ = ["save", "load"]

FORMAT = "nnfast-model"
_JSON_SCALARS = (str, int, float, bool)

_Network = Union[_core.Network32, _core.Network64]
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _layer_json(layer: Union[Dense, Dropout]) -> Dict[str, Any]:
    if isinstance(layer, Dropout):
        return {"type": "Dropout", "rate": layer.rate}
    return {"type": "Dense", "units": layer.units, "activation": layer.activation, "init": layer.init,
            "alpha": layer.alpha}


def save(model: Sequential, path: "str | os.PathLike[str]") -> None:
    """Write ``model`` to ``path`` atomically (a reader never sees half a file).

    The file is written to a temporary file beside the target (locked until it is renamed
    over the target; a name too long for the temporary's suffix gets a shortened one),
    which keeps the replaced file's permission bits. When ``path`` is a symbolic link,
    the file it points to is replaced and the link stays; a link to nothing is refused.

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`nnfast.Sequential`.
    ValueError
        If the model has not been built, if a parameter is NaN or infinite (the file
        would not load; the message names the parameter), or if its class labels are not
        JSON values (strings, integers, floats, booleans), if ``path`` is empty, or if it
        names something other than a regular file (a device such as /dev/null, a FIFO, a
        socket): those are never replaced. Each message names the path.
    OSError
        When the system refuses (no such directory, no permission, disk full, a dangling
        symbolic link): the OSError of that errno (FileNotFoundError, PermissionError,
        ...), one line naming the path.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"expected an nnfast.Sequential, got {type(model).__name__}")
    path = os.fspath(path)
    if not path:
        raise ValueError("cannot save to an empty path: give a file name")
    if not model.built:
        raise ValueError(f"cannot save an unbuilt model to {path}: build it or fit it first")
    net = model._core_net()
    for name, values in model.parameters().items():
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise ValueError(f"cannot save to {path}: parameter {name} holds {bad} NaN or infinite values (a model "
                             f"file must load, and loading refuses them)")
    targets = model._targets
    if targets is not None and targets.classes_ is not None:
        odd = [c for c in targets.classes_.tolist() if not isinstance(c, _JSON_SCALARS)]
        if odd:
            raise ValueError(f"cannot save to {path}: class labels of type {type(odd[0]).__name__} cannot be saved; "
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
        "feature_names": None if model.feature_names_in_ is None else model.feature_names_in_.tolist(),
    }
    net.save(path, json.dumps(doc))


def load(path: "str | os.PathLike[str]") -> Sequential:
    """The model saved at ``path``, with its hyperparameters, ready to predict.

    Every field is checked as it is read: the binary part by the core (sizes against
    the file's size before reading, checksum, layer table, finite parameters), the JSON
    document here (each key, against the layer table too). A loaded model holds its
    parameters only; training state is allocated by its first ``fit``.

    Raises
    ------
    ValueError
        If the file is not an nnfast model, or is damaged, truncated or edited
        inconsistently: "PATH is not a readable nnfast model: field 'F' ...", naming the
        path and the field (or the part of the binary layout) at fault.
    MemoryError
        If the file and the network it declares need more memory than the process can
        still have (MemAvailable, the cgroup's limit, RLIMIT_AS): a sparse file that
        declares gigabytes is refused before anything is read or allocated.
    OSError
        When the file cannot be opened or examined: the OSError of that errno
        (FileNotFoundError, PermissionError, ...), one line naming the path.
    """
    path = os.fspath(path)
    try:
        net, raw = _core.load(path)
        return _model_from_document(net, raw)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable nnfast model: {exc}") from None


class _FieldError(ValueError):
    """A JSON field that is missing, of the wrong type or out of range."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r} {problem}")


def _fields(doc: Any, field: str, keys: Tuple[str, ...]) -> Dict[str, Any]:
    """doc as a dict with exactly ``keys``."""
    if not isinstance(doc, dict):
        raise _FieldError(field, f"must be a JSON object, not {type(doc).__name__}")
    missing = [k for k in keys if k not in doc]
    unknown = [k for k in doc if k not in keys]
    if missing:
        raise _FieldError(field, f"lacks {', '.join(map(repr, missing))}")
    if unknown:
        raise _FieldError(field, f"has unexpected keys {', '.join(map(repr, unknown))}")
    return doc


def _json_int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(field, f"must be an integer, not {value!r}")
    if not low <= value <= high:
        raise _FieldError(field, f"must be in [{low}, {high}], not {value}")
    return value


def _json_float(value: Any, field: str, low: float = -math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _FieldError(field, f"must be a number, not {value!r}")
    if not (math.isfinite(value) and value >= low):
        raise _FieldError(field, f"must be finite and at least {low:g}, not {value!r}")
    return float(value)


def _json_name(value: Any, field: str, valid: Collection[str]) -> str:
    if not isinstance(value, str) or value not in valid:
        raise _FieldError(field, f"must be one of {', '.join(sorted(valid))}, not {value!r}")
    return value


def _call(field: str, make: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """make(*args, **kwargs), its TypeError or ValueError named after the field."""
    try:
        return make(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise _FieldError(field, f"is invalid: {exc}") from None


_DOC_KEYS = ("format", "nnfast_version", "dtype", "seed", "init", "init_scale", "layers", "loss", "penalty",
             "targets", "hyperparameters")
_LAYER_KEYS = {"Dense": ("type", "units", "activation", "init", "alpha"), "Dropout": ("type", "rate")}
_TARGET_KEYS = ("loss", "kind", "n_outputs", "flat", "classes")
#: the target kinds each loss can have
_KINDS = {"cross_entropy": ("categorical", "soft"), "binary_cross_entropy": ("binary", "multilabel"),
          "mse": ("continuous",), "mae": ("continuous",)}
_CLASS_DTYPE_KINDS = "biufUO"  # what np.unique gives for labels nnfast accepts


def _model_from_document(net: _Network, raw: bytes) -> Sequential:
    """The Sequential around a loaded core network, from the file's JSON document, every
    field checked (also against the network the binary part describes)."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _FieldError("document", f"is not UTF-8 JSON: {exc}") from None
    except ValueError as exc:  # an integer of more digits than Python converts (sys.set_int_max_str_digits)
        raise _FieldError("document", f"holds a number nnfast does not read: {exc}") from None
    if not isinstance(doc, dict):
        raise _FieldError("document", f"must be a JSON object, not {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise _FieldError("format", f"must be {FORMAT!r} (missing format marker)")
    _fields(doc, "document", _DOC_KEYS + ("feature_names",) if "feature_names" in doc else _DOC_KEYS)
    if not isinstance(doc["nnfast_version"], str):
        raise _FieldError("nnfast_version", "must be a string")
    dtype = _json_name(doc["dtype"], "dtype", ("float32", "float64"))
    stored = "float32" if isinstance(net, _core.Network32) else "float64"
    if dtype != stored:
        raise _FieldError("dtype", f"says {dtype} but the file stores {stored} scalars")
    seed = _json_int(doc["seed"], "seed", 0, 2**63 - 1)
    init = _json_name(doc["init"], "init", INIT_NAMES)
    init_scale = None if doc["init_scale"] is None else _json_float(doc["init_scale"], "init_scale")

    layers = doc["layers"]
    if not isinstance(layers, list) or not layers:
        raise _FieldError("layers", "must be a non-empty list")
    specs: List[Union[Dense, Dropout]] = []
    for i, layer in enumerate(layers):
        field = f"layers[{i}]"
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind not in _LAYER_KEYS:
            raise _FieldError(field, "must be an object with type 'Dense' or 'Dropout'")
        data = dict(_fields(layer, field, _LAYER_KEYS[kind]))
        del data["type"]
        make: Callable[..., Union[Dense, Dropout]] = Dropout if kind == "Dropout" else Dense
        specs.append(_call(field, make, **data))
    model = _call("layers", Sequential, specs, init=init, init_scale=init_scale, seed=seed, dtype=dtype)
    _check_layer_table(model, net)

    loss = doc["loss"]
    if loss is not None:
        _json_name(loss, "loss", LOSSES)
    p = _fields(doc["penalty"], "penalty", ("l1", "l2"))
    l1, l2 = _json_float(p["l1"], "penalty.l1", 0.0), _json_float(p["l2"], "penalty.l2", 0.0)
    targets = None if doc["targets"] is None else _targets_from_json(doc["targets"], net.outputs)
    if (loss is None) != (targets is None) or (targets is not None and targets.loss != loss):
        raise _FieldError("loss", f"is {loss!r} but the targets were encoded for "
                                  f"{None if targets is None else targets.loss!r}")
    hp: Optional[Hyperparameters] = None
    if doc["hyperparameters"] is not None:
        hp = _call("hyperparameters", Hyperparameters.from_dict, doc["hyperparameters"])
        if hp.dtype != dtype:
            raise _FieldError("hyperparameters.dtype", f"is {hp.dtype} but the model is {dtype}")
        if loss is not None:
            _check_record_describes_layers(hp, model, net.outputs, loss)

    names = doc.get("feature_names")  # absent from files written before column names were kept
    if names is not None:
        if (not isinstance(names, list) or len(names) != net.inputs or not all(isinstance(n, str) for n in names)
                or len(set(names)) != len(names)):
            raise _FieldError("feature_names", f"must be null or a list of {net.inputs} distinct strings, one per "
                                               f"input of the network")
        names = np.array(names, dtype=object)

    model._net = net
    model.loss, model._targets, model.hyperparameters = loss, targets, hp
    model.feature_names_in_ = names
    config = net.optimizer
    config.l1, config.l2 = l1, l2
    net.configure(config)
    return model


def _check_record_describes_layers(hp: Hyperparameters, model: Sequential, n_outputs: int, loss: str) -> None:
    """The stored record must describe the stored network (hidden units, activations,
    dropout, output): a record that says another architecture is a hostile or damaged edit."""
    def shape(layers: Iterable[Union[Dense, Dropout]]) -> List[Tuple[Union[str, int, float], ...]]:
        return [("Dropout", layer.rate) if isinstance(layer, Dropout) else ("Dense", layer.units, layer.activation)
                for layer in layers]
    described, stored = shape(_call("hyperparameters", hp.layers, n_outputs, loss)), shape(model.layers)
    if described != stored:
        raise _FieldError("hyperparameters", f"describe the layers {described} but the file's layers are {stored}")


def _check_layer_table(model: Sequential, net: _Network) -> None:
    """The JSON's layers against the binary layer table the network was built from."""
    dense: List[Dense] = []
    dropout_before: List[float] = []
    rate = 0.0
    for layer in model.layers:
        if isinstance(layer, Dropout):
            rate = layer.rate
            continue
        dense.append(layer)
        dropout_before.append(rate)
        rate = 0.0
    table = net.layers
    if len(table) != len(dense):
        raise _FieldError("layers", f"has {len(dense)} Dense layers but the layer table {len(table)}")
    for l, (spec, layer, rate) in enumerate(zip(table, dense, dropout_before)):
        field = f"layers (Dense {l + 1})"
        if spec.units != layer.units:
            raise _FieldError(field, f"has {layer.units} units but the layer table {spec.units}")
        if spec.activation != ACTIVATIONS[layer.activation][0]:
            raise _FieldError(field, f"has activation {layer.activation} but the layer table "
                                     f"{spec.activation.name}")
        if spec.alpha != layer.resolved_alpha:
            raise _FieldError(field, f"has alpha {layer.resolved_alpha} but the layer table {spec.alpha}")
        if spec.input_dropout != rate:
            raise _FieldError(field, f"has input dropout {rate} but the layer table {spec.input_dropout}")


def _targets_from_json(data: Any, n_outputs: int) -> Targets:
    """Targets.from_json after checking each field against the network's outputs."""
    _fields(data, "targets", _TARGET_KEYS)
    loss = _json_name(data["loss"], "targets.loss", LOSSES)
    kind = _json_name(data["kind"], "targets.kind", _KINDS[loss])
    stored = _json_int(data["n_outputs"], "targets.n_outputs", 1, 2**31 - 1)
    if stored != n_outputs or (kind == "binary" and stored != 1):
        raise _FieldError("targets.n_outputs", f"is {stored} but the output layer has {n_outputs} units")
    if not isinstance(data["flat"], bool) or (data["flat"] and not (kind == "continuous" and n_outputs == 1)):
        raise _FieldError("targets.flat", "must be true or false, and true only for one regression output")
    classes = data["classes"]
    if kind == "continuous":
        if classes is not None:
            raise _FieldError("targets.classes", "must be null for regression")
    else:
        _check_classes(classes, kind, n_outputs)
    return _call("targets", Targets.from_json, data)


def _check_classes(classes: Any, kind: str, n_outputs: int) -> None:
    """Class labels as Targets needs them: as many as the outputs say, of the stated
    dtype exactly, finite, unique and sorted (prediction looks labels up by bisection)."""
    _fields(classes, "targets.classes", ("values", "dtype"))
    values = classes["values"]
    if not isinstance(values, list) or not all(isinstance(v, _JSON_SCALARS) for v in values):
        raise _FieldError("targets.classes.values", "must be a list of strings, numbers or booleans")
    count = 2 if kind == "binary" else n_outputs
    if len(values) != count:
        raise _FieldError("targets.classes.values", f"has {len(values)} labels but the outputs need {count}")
    if not isinstance(classes["dtype"], str):
        raise _FieldError("targets.classes.dtype", "must be a string")
    dtype = _call("targets.classes.dtype", np.dtype, classes["dtype"])
    if dtype.kind not in _CLASS_DTYPE_KINDS or (kind in ("soft", "multilabel") and dtype.kind not in "iu"):
        raise _FieldError("targets.classes.dtype", f"{dtype.str} is not a dtype of class labels here")
    try:
        if dtype.kind == "O":
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        else:
            arr = np.array(values, dtype=dtype)
        exact = arr.tolist() == values and all(type(a) is type(v) for a, v in zip(arr.tolist(), values))
    except (TypeError, ValueError, OverflowError):
        exact = False
    if not exact or any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise _FieldError("targets.classes.values", f"are not finite labels of dtype {dtype.str}")
    try:
        ordered = np.array_equal(np.unique(arr), arr)
    except TypeError:  # labels of types that do not compare
        ordered = False
    if not ordered:
        raise _FieldError("targets.classes.values", "must be unique, sorted and mutually comparable")
    if kind in ("soft", "multilabel") and values != list(range(n_outputs)):
        raise _FieldError("targets.classes.values", f"must be 0 to {n_outputs - 1} for {kind} targets")
