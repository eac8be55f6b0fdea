"""An nnfast model as an ONNX graph (opset 17), built with the ``onnx`` package's helpers.

Input ``X``: shape (N, inputs), the model's dtype (float32 or float64), N dynamic. A model
fitted with column names (``feature_names_in_``) keeps them in the graph: in the input's
doc string and, as a JSON list, in the model's metadata ``feature_names``.
Outputs, as the model's own methods give them:

- classifiers with one label per row (``categorical``, ``soft``, ``binary``):
  ``label`` (N,), as :meth:`~nnfast.Sequential.predict` (the class labels kept in the
  model: integers, floats, booleans or strings), and ``probabilities`` (N, classes), as
  :meth:`~nnfast.Sequential.predict_proba`;
- multi-label classifiers: ``label`` (N, outputs) int64 0/1 and ``probabilities`` (N, outputs);
- regressors: ``predictions``, (N,) when trained on 1-D y, else (N, outputs);
- a model that was built but never fitted: ``outputs`` (N, outputs), as
  :meth:`~nnfast.Sequential.forward`.

Operators: Sub and Mul (standardisation), MatMul and Add (dense layers), Relu,
LeakyRelu, Elu, Sigmoid, Tanh, Softmax, and for labels ArgMax/Greater, Cast and Gather.
ONNX keeps an operator's alpha as a float32 attribute, and ONNX Runtime has no float64
Elu, so in float64 models leaky_relu and elu are written out with a float64 alpha:
``Where(x > 0, x, alpha * x)`` and ``Where(x > 0, x, alpha * (Exp(x) - 1))``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, List, Optional, Union

import numpy as np
from numpy.typing import NDArray

from ..model import Sequential
from ._files import write_all
from ._network import NetworkDescription, network_of

if TYPE_CHECKING:
    import onnx

__all__ = ["to_onnx", "OPSET"]

#: the ONNX operator set the graphs use, and the IR version that goes with it (ONNX 1.12+,
#: ONNX Runtime 1.12+ read them)
OPSET = 17
IR_VERSION = 8


def _require_onnx() -> None:
    """Import onnx, or raise ImportError saying how to install it. The callers then import it
    themselves (by name, so that its types are known)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: pip install 'nnfast[onnx]'") from None


def to_onnx(model: Sequential, path: Union[str, "os.PathLike[str]", None] = None, *,
            name: str = "nnfast") -> onnx.ModelProto:
    """The model as an ``onnx.ModelProto`` (opset 17, IR version 8), written to ``path``
    when given.

    The graph's input ``X`` has shape (n_samples, n_features), n_samples dynamic, and the
    model's dtype (float32, or float64 for a float64 model; no other dtype is accepted
    by an ONNX runtime). Its outputs give what the model's methods give, in the same
    dtypes:

    - classifiers with one label per row: ``label`` (n_samples,), the class labels in
      their own dtype (int64, float, bool; strings as an ONNX string tensor), and
      ``probabilities`` (n_samples, n_classes) in the model's dtype;
    - multi-label classifiers: ``label`` (n_samples, n_outputs), int64 0/1, and
      ``probabilities`` (n_samples, n_outputs) in the model's dtype;
    - regressors: ``predictions`` in the model's dtype, (n_samples,) when trained on
      1-D y, else (n_samples, n_outputs);
    - a model built but never fitted: ``outputs`` (n_samples, n_outputs), the output
      layer's activations.

    A model fitted with column names keeps them, in order: ``X``'s doc string lists them
    and the metadata entry ``feature_names`` holds them as a JSON list
    (``onnxruntime.InferenceSession(path).get_modelmeta().custom_metadata_map``).

    Parameters
    ----------
    model : nnfast.Sequential
        A built model, normally a fitted one. Its parameters are copied: training it
        later does not change the graph.
    path : str or os.PathLike, optional
        Where to write the ``.onnx`` file: about the parameters' bytes (``n_params``
        times 4 for float32, 8 for float64) plus one or two kilobytes of graph.
    name : str
        The graph's name.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker.check_model``.

    Raises
    ------
    ImportError
        If the ``onnx`` package is not installed (``pip install 'nnfast[onnx]'``).
    TypeError
        If ``model`` is not an :class:`nnfast.Sequential`.
    RuntimeError
        If it has not been built.
    ValueError
        If a parameter is NaN or infinite, the class labels are objects ONNX cannot
        hold (other than strings) or bytes that are not UTF-8, or ``name`` is empty.
    OSError
        If ``path`` cannot be written (one line naming it); the file is written whole
        to a temporary beside it and renamed over it, so a failure leaves the old file
        as it was.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string (the graph's name), got {name!r}")
    _require_onnx()
    import onnx

    description = network_of(model)
    proto = _build(description, name)
    onnx.checker.check_model(proto)
    if path is not None:
        write_all([(os.fspath(path), proto.SerializeToString())])
    return proto


class _Graph:
    """Nodes and constants being collected, with fresh names."""

    def __init__(self) -> None:
        self.nodes: List[onnx.NodeProto] = []
        self.initializers: List[onnx.TensorProto] = []
        self.count = 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem: str, value: NDArray[Any]) -> str:
        from onnx import numpy_helper

        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: List[str], output: Optional[str] = None, **attrs: Any) -> str:
        from onnx import helper

        output = output or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output


def _activation(g: _Graph, x: str, activation: str, alpha: np.floating[Any], dtype: np.dtype[Any]) -> str:
    if activation == "identity":
        return x
    if activation == "relu":
        return g.op("Relu", [x])
    if activation in ("leaky_relu", "elu") and dtype == np.float32:
        return g.op("LeakyRelu" if activation == "leaky_relu" else "Elu", [x], alpha=float(alpha))
    if activation in ("leaky_relu", "elu"):  # float64: alpha as a float64 constant (attributes are float32)
        scale = g.constant("alpha", np.array(alpha, dtype))
        if activation == "elu":
            negative = g.op("Mul", [scale, g.op("Sub", [g.op("Exp", [x]), g.constant("one", np.array(1, dtype))])])
        else:
            negative = g.op("Mul", [scale, x])
        return g.op("Where", [g.op("Greater", [x, g.constant("zero", np.array(0, dtype))]), x, negative])
    if activation == "sigmoid":
        return g.op("Sigmoid", [x])
    if activation == "tanh":
        return g.op("Tanh", [x])
    if activation == "softmax":
        return g.op("Softmax", [x], axis=-1)
    raise ValueError(f"activation {activation!r} has no ONNX form here")  # a new core activation: add it above


def _label_tensor(g: _Graph, classes: NDArray[Any]) -> str:
    """A constant holding the class labels (strings, numbers or booleans)."""
    import onnx

    if classes.dtype.kind in "US" or (classes.dtype.kind == "O" and all(isinstance(c, str) for c in classes)):
        name = g.fresh("classes")
        values = [c if isinstance(c, bytes) else str(c).encode("utf-8") for c in classes.tolist()]  # b"x" is "x"
        for value in values:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:  # ONNX Runtime failed on it at prediction time, in Python's decoder
                raise ValueError(f"class label {value!r} is not UTF-8 text, which ONNX string tensors hold") from None
        # a STRING tensor takes its values as a list of bytes (onnx's docs), which onnx's annotation omits
        tensor = onnx.helper.make_tensor(name, onnx.TensorProto.STRING, [len(values)],
                                         values)  # type: ignore[arg-type]
        g.initializers.append(tensor)
        return name
    if classes.dtype.kind not in "biuf":
        raise ValueError(f"class labels of dtype {classes.dtype} cannot be held in an ONNX tensor; "
                         f"use strings or numbers as labels")
    return g.constant("classes", classes)


def _label_type(classes: NDArray[Any]) -> int:
    import onnx

    if classes.dtype.kind in "USO":
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(classes.dtype)


def _build(d: NetworkDescription, name: str) -> onnx.ModelProto:
    from onnx import TensorProto, helper
    elem = helper.np_dtype_to_tensor_dtype(d.dtype)
    g = _Graph()
    x = "X"
    if d.mean is not None:
        assert d.inv_std is not None  # set with the mean (network_of)
        x = g.op("Mul", [g.op("Sub", [x, g.constant("mean", d.mean)], "standardized_centred"),
                         g.constant("inv_std", d.inv_std)], "standardized")
    for number, layer in enumerate(d.layers, start=1):
        z = g.op("Add", [g.op("MatMul", [x, g.constant(f"W{number}", layer.W)]), g.constant(f"b{number}", layer.b)],
                 f"logits{number}")
        x = _activation(g, z, layer.activation, layer.alpha, d.dtype)
    batch = "N"
    outputs = []
    if d.kind is None:
        g.op("Identity", [x], "outputs")
        outputs.append(helper.make_tensor_value_info("outputs", elem, [batch, d.n_outputs]))
    elif d.kind == "continuous":
        if d.flat:
            g.op("Squeeze", [x, g.constant("axis", np.array([1], np.int64))], "predictions")
        else:
            g.op("Identity", [x], "predictions")
        outputs.append(helper.make_tensor_value_info("predictions", elem, [batch] if d.flat else [batch, d.n_outputs]))
    elif d.kind == "multilabel":
        half = g.constant("half", np.array(0.5, d.dtype))
        g.op("Cast", [g.op("Greater", [x, half])], "label", to=TensorProto.INT64)
        g.op("Identity", [x], "probabilities")
        outputs += [helper.make_tensor_value_info("label", TensorProto.INT64, [batch, d.n_outputs]),
                    helper.make_tensor_value_info("probabilities", elem, [batch, d.n_outputs])]
    else:
        assert d.classes is not None  # a classifier with one label a row keeps its classes (network_of)
        if d.kind == "binary":
            half = g.constant("half", np.array(0.5, d.dtype))
            p = x  # (N, 1): P(classes[1])
            g.op("Concat", [g.op("Sub", [g.constant("one", np.array(1, d.dtype)), p]), p], "probabilities", axis=1)
            index = g.op("Cast", [g.op("Squeeze", [g.op("Greater", [p, half]),
                                                   g.constant("axis", np.array([1], np.int64))])],
                         to=TensorProto.INT64)
        else:
            g.op("Identity", [x], "probabilities")
            index = g.op("ArgMax", [x], axis=1, keepdims=0)
        g.op("Gather", [_label_tensor(g, d.classes), index], "label", axis=0)
        n_classes = len(d.classes)
        outputs += [helper.make_tensor_value_info("label", _label_type(d.classes), [batch]),
                    helper.make_tensor_value_info("probabilities", elem, [batch, n_classes])]
    columns = "" if d.feature_names is None else "; its columns, in order: " + ", ".join(d.feature_names)
    inputs = [helper.make_tensor_value_info("X", elem, [batch, d.n_inputs], doc_string="the raw features" + columns)]
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnfast",
                              doc_string=_doc(d))
    proto.ir_version = IR_VERSION
    if d.feature_names is not None:
        helper.set_model_props(proto, {"feature_names": json.dumps(list(d.feature_names), ensure_ascii=False)})
    return proto


def _doc(d: NetworkDescription) -> str:
    shape = " -> ".join([str(d.n_inputs)] + [f"{layer.W.shape[1]} {layer.activation}" for layer in d.layers])
    what = {None: "untrained network", "continuous": "regressor"}.get(d.kind, f"{d.kind} classifier")
    return f"nnfast {what}, {d.dtype.name}: {shape}" + (", inputs standardised" if d.mean is not None else "")
