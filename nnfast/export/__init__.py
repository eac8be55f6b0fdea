"""Taking a trained model out of Python: ONNX graphs, dependency-free C, and the C++ headers.

- :func:`to_onnx` (also :meth:`nnfast.Sequential.to_onnx`) builds an ONNX graph with the
  ``onnx`` package (the ``onnx`` extra); running it needs an ONNX runtime, writing it does not.
- :func:`to_c` writes ``<name>.h`` and ``<name>.c``: C99 that includes only ``<math.h>``,
  computing what nnfast's one-row prediction computes, operation for operation.
- :func:`nnfast.get_include` gives the directory of the header-only C++ reader and predictor.

Each reads the model through :func:`network_of`, one description of what a prediction
computes: the input standardisation, the dense layers and their activations, and what the
outputs mean (class labels, probabilities or values).
"""

from __future__ import annotations

from ._network import Layer, NetworkDescription, network_of
from .c import CExport, c_source, quantize_int8, quantized_copy, to_c
from .onnx_graph import to_onnx

__all__ = ["to_onnx", "to_c", "c_source", "CExport", "quantize_int8", "quantized_copy", "network_of",
           "NetworkDescription", "Layer"]
