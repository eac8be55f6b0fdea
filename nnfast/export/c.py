"""An nnfast model as dependency-free C: ``<name>.h`` and ``<name>.c``, C99, only ``<math.h>``.

The source computes what nnfast's one-row prediction computes (``forward_infer`` in
``csrc/network.hpp`` with one row), operation for operation in the same order and the
same precision:

- standardisation ``(x - mean) * inv_std``, ``inv_std`` rounded as the core rounds it;
- each dense layer by ``row_times_matrix``'s order (four rows of W at a time), then
  ``f(z + b)``;
- exp, expm1, tanh and sigmoid by the polynomials of ``csrc/vmath.hpp`` (not libm's, whose
  results differ from them in the last bit or two), with ``ldexp`` for the power of two.

So a float32 model's outputs are bit-identical to ``model.forward(x[None])`` when the C
compiler neither fuses multiply-adds nor reorders sums: ``-std=c99`` (ISO mode: no FP
contraction) on any optimisation level, without ``-ffast-math``. Three exceptions give
differences of rounding size instead: a layer with more than 16384 weights, which the core
sends through BLAS's GEMV on one row (another summation order); batched predictions of
the core (``predict_proba`` on many rows goes through GEMM); and a core built with
``NNFAST_NATIVE=1`` (``-march=native``), whose own loops may fuse multiply-adds. The C
does not check its inputs: NaN and infinite values, which nnfast refuses, go through.

float64 models export as ``double`` throughout (the functions take and give ``double``).

With ``int8=True`` each W is stored as int8 with one scale per output channel
(:func:`quantize_int8`), a quarter of float32's bytes; inputs, sums and activations stay in
the model's type, and the outputs approximate nnfast's (measure it with :func:`quantized_copy`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import AbstractSet, Any, List, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..model import Sequential
from ._files import make_directory, remove_directories, write_all
from ._network import NetworkDescription, network_of

__all__ = ["to_c", "c_source", "CExport", "quantize_int8", "quantized_copy"]

#: weights per layer up to which the core's one-row path uses its own loop (csrc/network.hpp, kSmallLayer)
SMALL_LAYER = 16384

_C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
               "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
               "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
               "volatile", "while", "_Bool", "_Complex", "_Imaginary"}

#: the C11 standard headers (those of the compiler: float, stdarg, ...), the top-level headers of
#: glibc 2.36, and those a program embedding nnfast includes besides (cblas.h for its C++ core,
#: the compilers' intrinsics, omp.h), without ".h": refused as export names (check_name);
#: glibc's own headers include some (features.h, endian.h), so a model.h of that name breaks
#: <stdio.h> and <math.h>
_SYSTEM_HEADERS = frozenset({"aio", "aliases", "alloca", "ar", "argp", "argz", "arm_neon", "assert", "avx2intrin",
                             "avxintrin", "byteswap", "cblas", "complex", "cpio", "ctype", "dirent", "dlfcn", "elf",
                             "emmintrin", "endian", "envz", "err", "errno", "error", "execinfo", "fcntl", "features",
                             "fenv", "float", "fmtmsg", "fnmatch", "fstab", "fts", "ftw", "gconv", "getopt", "glob",
                             "grp", "gshadow", "iconv", "ifaddrs", "immintrin", "inttypes", "iso646", "langinfo",
                             "lapacke", "lastlog", "libgen", "libintl", "limits", "link", "locale", "malloc", "math",
                             "mcheck", "memory", "mntent", "monetary", "mqueue", "netdb", "nl_types", "nmmintrin",
                             "nss", "obstack", "omp", "paths", "pmmintrin", "poll", "printf", "proc_service",
                             "pthread", "pty", "pwd", "re_comp", "regex", "regexp", "resolv", "sched", "search",
                             "semaphore", "setjmp", "sgtty", "shadow", "signal", "smmintrin", "spawn", "stab",
                             "stdalign", "stdarg", "stdatomic", "stdbool", "stddef", "stdint", "stdio", "stdio_ext",
                             "stdlib", "stdnoreturn", "string", "strings", "syscall", "sysexits", "syslog", "tar",
                             "termio", "termios", "tgmath", "thread_db", "threads", "time", "tmmintrin", "ttyent",
                             "uchar", "ucontext", "ulimit", "unistd", "utime", "utmp", "utmpx", "values", "wait",
                             "wchar", "wctype", "wmmintrin", "wordexp", "x86intrin", "xmmintrin"})


@dataclass(frozen=True)
class CExport:
    """The files :func:`to_c` wrote and the C prefix of their names.

    Attributes
    ----------
    header : str
        The path of ``<name>.h``.
    source : str
        The path of ``<name>.c``.
    name : str
        The C prefix.
    """

    header: str
    source: str
    name: str

    @classmethod
    def at(cls, directory: str, name: str) -> "CExport":
        """The paths of ``<name>.h`` and ``<name>.c`` in ``directory``."""
        return cls(os.path.join(directory, f"{name}.h"), os.path.join(directory, f"{name}.c"), name)


def check_name(name: str) -> str:
    """``name`` when it can name the files and prefix the C identifiers, else ValueError.

    Refused besides what is not a C identifier of at most 40 characters: the C keywords;
    a leading underscore (identifiers that start with one are reserved to the C
    implementation at file scope, C99 7.1.3); and the names of the C standard headers, of
    glibc's, of ``cblas`` (which nnfast's C++ headers include), of the compilers' intrinsics
    and of ``omp``, in any case (``math``, ``Stdio``, ``features``): ``<name>.h`` would stand in
    for that header wherever the export's directory is on the include path (also when a
    system header includes it, as ``<stdio.h>`` includes ``<features.h>``), and on
    case-insensitive file systems.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,39}", name) or name in _C_KEYWORDS:
        raise ValueError(f"name must be a C identifier (letters, digits, _; not starting with a digit; at most 40 "
                         f"characters; not a C keyword), got {name!r}")
    if name.startswith("_"):
        raise ValueError(f"name must not start with an underscore (such identifiers are reserved to the C "
                         f"implementation), got {name!r}")
    if name.lower() in _SYSTEM_HEADERS:
        raise ValueError(f"name {name!r} would write {name}.h, which stands in for the system header "
                         f"<{name.lower()}.h> (the export's own source includes <math.h>): choose another name")
    return name


class _Literal:
    """C literals of one floating type, exact: the shortest decimal that reads back as the value."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.ctype = "float" if dtype == np.float32 else "double"
        self.suffix = "f" if dtype == np.float32 else ""
        self.math = "f" if dtype == np.float32 else ""  # fabsf, ldexpf, ...

    def __call__(self, value: Union[float, np.floating[Any]]) -> str:
        v = self.dtype.type(value)
        if not np.isfinite(v):
            raise ValueError(f"cannot write {v} as a C constant")
        if v == 0 or 1e-4 <= abs(v) < 1e8:
            text = np.format_float_positional(v, unique=True, trim="0")  # "0.01", "-0.0", "12582912.0"
        else:
            text = np.format_float_scientific(v, unique=True, trim="0").replace("e+", "e")  # "1.0e-05"
        return text + self.suffix

    def array(self, values: NDArray[np.floating[Any]], per_line: int = 6) -> str:
        items = [self(v) for v in np.ravel(values)]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "{\n    " + ",\n    ".join(lines) + "\n}"


def _int_array(values: NDArray[np.integer[Any]], per_line: int = 16) -> str:
    items = [str(int(v)) for v in np.ravel(values)]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n    " + ",\n    ".join(lines) + "\n}"


def _c_string(text: object) -> str:
    """``text`` (bytes as they are) as a C string literal: printable ASCII but ``"``, ``\\``
    and ``?`` (trigraphs) as they are, every other byte in octal."""
    out = []
    for byte in text if isinstance(text, bytes) else str(text).encode("utf-8"):
        ch = chr(byte)
        out.append(ch if 32 <= byte < 127 and ch not in '"\\?' else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def quantize_int8(W: NDArray[np.floating[Any]]) -> Tuple[NDArray[np.int8], NDArray[np.floating[Any]]]:
    """Symmetric int8 quantisation of W (inputs, outputs), one scale per output channel.

    ``scale[o] = max_i |W[i, o]| / 127`` (1 for an all-zero column) and
    ``q[i, o] = round(W[i, o] / scale[o])`` in [-127, 127], so ``W ~ q * scale`` with an
    error of at most ``scale[o] / 2`` per weight (the scheme of Jacob et al., 2018,
    "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
    Inference", CVPR, for weights, without zero points).

    Parameters
    ----------
    W : ndarray of shape (inputs, outputs), float32 or float64
        A layer's weights (a model's ``parameters()["W1"]``, ...), finite. The scale
        is computed in float64 and rounded to W's dtype, so W must be floating point.

    Returns
    -------
    q : ndarray of shape (inputs, outputs), int8
    scale : ndarray of shape (outputs,), W's dtype
        In W's units per step of q: one byte per weight plus one scale per column,
        a quarter of float32's bytes (an eighth of float64's) for large layers.
    """
    W = np.asarray(W)
    largest = np.abs(W).max(axis=0).astype(np.float64)
    scale = np.where(largest > 0, largest / 127.0, 1.0).astype(W.dtype)
    q = np.clip(np.rint(W / scale), -127, 127).astype(np.int8)
    return q, scale


def quantized_copy(model: Sequential) -> Sequential:
    """A copy of ``model`` whose weights are their int8 approximations ``q * scale`` (biases,
    standardisation and activations as they are): what an ``int8=True`` export computes, up to
    rounding (the C scales each sum once, ``(x q) * scale``), to score on data.

    Parameters
    ----------
    model : nnfast.Sequential
        A built model; it is not changed.

    Returns
    -------
    nnfast.Sequential
        A new model of the same dtype, classes and scaling (copied through a model file
        in a temporary directory), its weights replaced by ``q * scale`` of
        :func:`quantize_int8`, in the model's dtype.

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`nnfast.Sequential`.
    ValueError
        If it has not been built.
    OSError
        If the temporary model file cannot be written.
    """
    import tempfile

    from ..io import load, save

    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "model.nnf")
        save(model, path)
        copy = load(path)
    params = copy.parameters()
    for key in [k for k in params if k.startswith("W")]:
        q, scale = quantize_int8(params[key])
        params[key][...] = q.astype(params[key].dtype) * scale
    return copy


# exp and friends of csrc/vmath.hpp, one per floating type: {T} the type, {F} the libm suffix,
# the constants filled in by _math_helpers
_EXPM1_REDUCED = """\
/* e^r - 1 for |r| <= ln2/2: r (1 + r/2! + ...), Horner from the top (csrc/vmath.hpp) */
static {T} {P}_expm1_reduced({T} r)
{{
    {T} p = {top};
{horner}    return r * p;
}}

/* x = k ln2 + r with |r| <= ln2/2: returns r, sets *s = 2^k (x clamped to where 2^k is normal) */
static {T} {P}_reduce({T} x, {T} *s)
{{
    {T} shifted, k;
    x = x < {lo} ? {lo} : x;
    x = x > {hi} ? {hi} : x;
    shifted = x * {log2e} + {magic};
    k = shifted - {magic};
    *s = ldexp{F}({one}, (int)k);
    return (x - k * {ln2_hi}) - k * {ln2_lo};
}}
"""
_EXP = """\
static {T} {P}_exp({T} x)
{{
    {T} s, r;
    if (x != x) return x;
    r = {P}_reduce(x, &s);
    return x < {lo} ? {zero} : (x > {hi} ? ({T})INFINITY : s + s * {P}_expm1_reduced(r));
}}
"""
_EXPM1 = """\
static {T} {P}_expm1({T} x)
{{
    {T} s, r;
    if (x != x) return x;
    r = {P}_reduce(x, &s);
    return s * {P}_expm1_reduced(r) + (s - {one});
}}
"""
_TANH = """\
static {T} {P}_tanh({T} x)
{{
    const {T} e = {P}_expm1({minus_two} * fabs{F}(x));
    return copysign{F}(-e / (e + {two}), x);
}}
"""
_SIGMOID = """\
static {T} {P}_sigmoid({T} x)
{{
    return {one} / ({one} + {P}_exp(-x));
}}
"""
_DENSE = """\
/* z (O) = x (I) W (I,O), W row-major; four rows of W at a time, the order of the core's one-row path */
static void {P}_dense({T} *z, const {T} *x, const {T} *w, long I, long O)
{{
    const long body = I - I % 4;  /* rows in blocks of four; the rest after (a bound GCC -O2 can follow) */
    long i, o;
    for (o = 0; o < O; ++o) z[o] = {zero};
    for (i = 0; i < body; i += 4) {{
        const {T} a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
        const {T} *w0 = w + i * O, *w1 = w0 + O, *w2 = w1 + O, *w3 = w2 + O;
        for (o = 0; o < O; ++o) z[o] += a * w0[o] + b * w1[o] + c * w2[o] + d * w3[o];
    }}
    for (i = body; i < I; ++i)
        for (o = 0; o < O; ++o) z[o] += x[i] * w[i * O + o];
}}
"""
_DENSE_INT8 = """\
/* z (O) = (x (I) Q (I,O)) * scale (O): Q int8 row-major, one scale per output channel */
static void {P}_dense_int8({T} *z, const {T} *x, const signed char *q, const {T} *scale, long I, long O)
{{
    long i, o;
    for (o = 0; o < O; ++o) z[o] = {zero};
    for (i = 0; i < I; ++i) {{
        const {T} xi = x[i];
        const signed char *qi = q + i * O;
        for (o = 0; o < O; ++o) z[o] += xi * ({T})qi[o];
    }}
    for (o = 0; o < O; ++o) z[o] *= scale[o];
}}
"""
_SOFTMAX = """\
/* a (O) = softmax(a + b), the maximum subtracted first */
static void {P}_softmax({T} *a, const {T} *b, long O)
{{
    long j;
    {T} m = a[0] + b[0], sum = {zero}, inv;
    for (j = 0; j < O; ++j) {{
        a[j] = a[j] + b[j];
        m = m < a[j] ? a[j] : m;
    }}
    for (j = 0; j < O; ++j) {{
        a[j] = {P}_exp(a[j] - m);
        sum += a[j];
    }}
    inv = {one} / sum;
    for (j = 0; j < O; ++j) a[j] *= inv;
}}
"""


def _math_helpers(lit: _Literal, prefix: str, needed: AbstractSet[str]) -> str:
    """The vmath functions that ``needed`` activations use, and what they use."""
    uses_exp = bool(needed & {"sigmoid", "softmax"})
    uses_expm1 = bool(needed & {"elu", "tanh"})
    if not (uses_exp or uses_expm1):
        return ""
    f32 = lit.dtype == np.float32
    degree = 7 if f32 else 13
    values = {
        "T": lit.ctype, "F": lit.math, "P": prefix, "one": lit(1), "zero": lit(0), "two": lit(2), "minus_two": lit(-2),
        "lo": lit(-87.0 if f32 else -708.0), "hi": lit(88.0 if f32 else 709.0),
        "log2e": lit(1.44269504088896341 if f32 else 1.4426950408889634074),
        "ln2_hi": lit(0.693145751953125 if f32 else 6.93147180369123816490e-01),
        "ln2_lo": lit(1.428606765330187e-06 if f32 else 1.90821492927058770002e-10),
        "magic": lit(12582912.0 if f32 else 6755399441055744.0),
        "top": lit(1.0 / math.factorial(degree)),
        "horner": "".join(f"    p = {lit(1.0 / math.factorial(j))} + r * p;\n" for j in range(degree - 1, 0, -1)),
    }
    parts = [_EXPM1_REDUCED]
    if uses_exp:
        parts.append(_EXP)
    if uses_expm1:
        parts.append(_EXPM1)
    if "tanh" in needed:
        parts.append(_TANH)
    if "sigmoid" in needed:
        parts.append(_SIGMOID)
    return "\n".join(part.format(**values) for part in parts)


def _activation_expr(activation: str, v: str, alpha: str, lit: _Literal, prefix: str) -> str:
    if activation == "identity":
        return v
    if activation == "relu":
        return f"{v} > {lit(0)} ? {v} : {lit(0)}"
    if activation == "leaky_relu":
        return f"{v} > {lit(0)} ? {v} : {alpha} * {v}"
    if activation == "elu":
        return f"{v} > {lit(0)} ? {v} : {alpha} * {prefix}_expm1({v})"
    if activation in ("sigmoid", "tanh"):
        return f"{prefix}_{activation}({v})"
    raise ValueError(f"activation {activation!r} has no C form here")  # a new core activation: add it above


def c_source(model: Sequential, name: str = "model", *, int8: bool = False) -> Tuple[str, str]:
    """The text of ``<name>.h`` and ``<name>.c`` for ``model`` (see the module notes);
    with ``int8`` the weights as int8 with a scale per output channel (:func:`quantize_int8`),
    the activations in the model's type.

    Parameters
    ----------
    model : nnfast.Sequential
        A built model, float32 (the C is ``float``) or float64 (``double``).
    name : str
        The prefix of the C functions and constants (``<name>_predict``), and in upper
        case of the macros (``<NAME>_N_INPUTS``, so two exports whose names differ only
        in case cannot be included together): a C identifier of at most 40 characters,
        not a C keyword, not starting with ``_`` (reserved to the C implementation),
        not the name of a C standard or glibc header in any case (``math``:
        ``math.h`` would stand in for ``<math.h>``).
    int8 : bool
        Weights as int8 with a scale per output channel.

    Returns
    -------
    header, source : str
        The files' text, ASCII: the weights as exact (shortest round-trip) decimal
        literals, so the source takes about 15 bytes per parameter for float32, 23 for
        float64, and 6 with ``int8`` (measured on a 64-unit digits model).

    Raises
    ------
    TypeError
        If ``int8`` is not a bool, or ``model`` not an :class:`nnfast.Sequential`.
    RuntimeError
        If the model has not been built.
    ValueError
        If ``name`` is not such a name, or a parameter is NaN or infinite.
    """
    name = check_name(name)
    if not isinstance(int8, bool):
        raise TypeError(f"int8 must be True or False, got {int8!r}")
    d = network_of(model)
    return _header(d, name, int8), _source(d, name, int8)


def to_c(model: Sequential, directory: Union[str, "os.PathLike[str]"], *, name: str = "model",
         int8: bool = False) -> CExport:
    """Write ``<name>.h`` and ``<name>.c`` for ``model`` into ``directory``, created if missing.

    The header declares, with ``T`` the model's type (``float``, or ``double`` for a
    float64 model):

    - ``void <name>_predict(const T *x, T *out)``: one row of ``<NAME>_N_INPUTS`` raw
      features (standardised inside) -> ``<NAME>_N_OUTPUTS`` outputs: class probabilities
      (softmax), P(second class) (one sigmoid unit), per-label probabilities, or values;
    - ``void <name>_predict_batch(const T *x, long n, T *out)``: n rows, row-major;
    - for single-label classifiers ``int <name>_predict_class(const T *x)``, the index into
      ``<name>_class_labels``, the class labels as strings;
    - for a model fitted with column names (``feature_names_in_``), those names in order
      in a comment and as ``<name>_feature_names``, strings.

    With ``int8`` the weights are stored as int8 with one scale per output channel
    (:func:`quantize_int8`: a quarter of float32's bytes); the outputs then differ from
    nnfast's (:func:`quantized_copy` scores the difference on data).

    Parameters
    ----------
    model : nnfast.Sequential
        A built model, float32 or float64.
    directory : str or os.PathLike
        A directory, created (with its parents) when missing, after the model and
        ``name`` are checked; ``<name>.h`` and ``<name>.c`` in it are replaced.
    name : str
        The files' name and the C prefix (see :func:`c_source`).
    int8 : bool
        Weights as int8 with a scale per output channel.

    Returns
    -------
    CExport
        The paths written and the prefix.

    Raises
    ------
    TypeError, RuntimeError
        As :func:`c_source`.
    ValueError
        If ``directory`` is empty, or exists and is not a directory, and as
        :func:`c_source`.
    OSError
        If the directory cannot be created or a file cannot be written (a full disk,
        no permission, ``<name>.c`` a directory): one line naming the path. The two
        files are written whole to temporaries and renamed over the old ones, so a
        failure leaves the old files (or none, and no directory it created).
    """
    header, source = c_source(model, name, int8=int8)
    directory = os.fspath(directory)
    if not directory:
        raise ValueError("directory is empty: give a directory's path ('.' for the current one)")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"{directory} is not a directory")
    paths = CExport.at(directory, name)
    made = make_directory(directory)
    try:
        write_all([(paths.header, header.encode("ascii")), (paths.source, source.encode("ascii"))])
    except OSError:
        remove_directories(made)
        raise
    return paths


def _describe(d: NetworkDescription, int8: bool) -> List[str]:
    shape = " -> ".join([str(d.n_inputs)] + [f"{layer.W.shape[1]} {layer.activation}" for layer in d.layers])
    what = {None: "an unfitted network", "continuous": "a regressor"}.get(d.kind, f"a {d.kind} classifier")
    lines = [f"nnfast model: {what}, {d.dtype.name}, {shape}" + (", inputs standardised" if d.mean is not None else "")]
    big = [i + 1 for i, layer in enumerate(d.layers) if layer.W.size > SMALL_LAYER]
    if int8:
        lines.append("weights quantised to int8, one scale per output channel: outputs approximate nnfast's")
    elif big:
        lines.append(f"layers {big} have more than {SMALL_LAYER} weights: nnfast sends them through BLAS on one row, "
                     f"so results differ from nnfast's by rounding (another summation order)")
    return lines


def _header(d: NetworkDescription, name: str, int8: bool) -> str:
    up, lit = name.upper(), _Literal(d.dtype)
    T = lit.ctype
    out = {None: "the output layer's activations", "continuous": "the predicted values",
           "multilabel": "the probability of each label (a label is on when > 0.5)",
           "binary": f"P({_c_comment(d.classes[1]) if d.classes is not None else 1}), one sigmoid unit",
           "categorical": "the class probabilities", "soft": "the class probabilities"}[d.kind]
    lines = [f"/* {line} */" for line in _describe(d, int8)]
    lines += ["/* written by nnfast's C export: C99, needs only <math.h> (link with -lm); compile it with -std=c99,",
              "   without -ffast-math, for nnfast's own rounding; inputs must be finite (they are not checked) */",
              f"#ifndef {up}_H", f"#define {up}_H", "",
              f"#define {up}_N_INPUTS {d.n_inputs}", f"#define {up}_N_OUTPUTS {d.n_outputs}"]
    if d.has_labels:
        assert d.classes is not None  # a classifier with one label a row keeps its classes (network_of)
        lines.append(f"#define {up}_N_CLASSES {len(d.classes)}")
    if d.feature_names is not None:
        lines += ["", "/* the input columns, in order (as x holds them):"]
        lines += [f'   {j:>{len(str(d.n_inputs - 1))}}: "{_c_comment(n)}"' for j, n in enumerate(d.feature_names)]
        lines.append("*/")
    lines += ["", "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
              f"/* x ({up}_N_INPUTS raw features) -> out ({up}_N_OUTPUTS): {out} */",
              f"void {name}_predict(const {T} *x, {T} *out);",
              f"/* x (n rows of {up}_N_INPUTS, row-major) -> out (n rows of {up}_N_OUTPUTS) */",
              f"void {name}_predict_batch(const {T} *x, long n, {T} *out);"]
    if d.has_labels:
        lines += [f"/* x ({up}_N_INPUTS) -> the index of its class in {name}_class_labels (nnfast's predict) */",
                  f"int {name}_predict_class(const {T} *x);",
                  "/* the class labels, as text */",
                  f"extern const char *const {name}_class_labels[{up}_N_CLASSES];"]
    if d.feature_names is not None:
        lines += ["/* the names of the input columns, as text */",
                  f"extern const char *const {name}_feature_names[{up}_N_INPUTS];"]
    lines += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {up}_H */", ""]
    return "\n".join(lines)


def _c_comment(label: object) -> str:
    """``label`` as text safe inside a ``/* */`` comment on one line: printable ASCII only
    (anything else, line breaks included, becomes ``?``), with a space splitting each
    ``/*``, ``*/`` and ``??`` (which would end or nest the comment, or start a trigraph
    such as ``??/``, a backslash that joins lines)."""
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in _text(label))
    for pair in ("/*", "*/", "??"):
        while pair in text:
            text = text.replace(pair, f"{pair[0]} {pair[1]}")
    return text


def _text(label: object) -> str:
    """A label or column name as text: bytes decoded as UTF-8 (as ``b'x'`` is meant: ``x``)."""
    return label.decode("utf-8", "replace") if isinstance(label, bytes) else str(label)


def _source(d: NetworkDescription, name: str, int8: bool) -> str:
    lit, P = _Literal(d.dtype), name
    T = lit.ctype
    parts = [f"/* {line} */" for line in _describe(d, int8)]
    parts.append(f'#include <math.h>\n\n#include "{name}.h"\n')
    if d.mean is not None:
        assert d.inv_std is not None  # set with the mean (network_of)
        parts.append(f"static const {T} {P}_mean[{d.n_inputs}] = {lit.array(d.mean)};\n")
        parts.append(f"static const {T} {P}_inv_std[{d.n_inputs}] = {lit.array(d.inv_std)};\n")
    for number, layer in enumerate(d.layers, start=1):
        rows, cols = layer.W.shape
        parts.append(f"/* layer {number}: {rows} -> {cols}, {layer.activation}; W ({rows},{cols}) row-major */")
        if int8:
            q, scale = quantize_int8(layer.W)
            parts.append(f"static const signed char {P}_W{number}[{layer.W.size}] = {_int_array(q)};")
            parts.append(f"static const {T} {P}_scale{number}[{cols}] = {lit.array(scale)};")
        else:
            parts.append(f"static const {T} {P}_W{number}[{layer.W.size}] = {lit.array(layer.W)};")
        parts.append(f"static const {T} {P}_b{number}[{cols}] = {lit.array(layer.b)};\n")
    needed = {layer.activation for layer in d.layers}
    helpers = _math_helpers(lit, P, needed)
    if helpers:
        parts.append(helpers)
    fmt = {"T": T, "P": P, "zero": lit(0), "one": lit(1)}
    parts.append((_DENSE_INT8 if int8 else _DENSE).format(**fmt))
    if "softmax" in needed:
        parts.append(_SOFTMAX.format(**fmt))
    parts.append(_predict(d, name, lit, int8))
    parts.append(f"void {P}_predict_batch(const {T} *x, long n, {T} *out)\n{{\n    long i;\n"
                 f"    for (i = 0; i < n; ++i) {P}_predict(x + i * {d.n_inputs}L, out + i * {d.n_outputs}L);\n}}\n")
    if d.has_labels:
        parts.append(_classes(d, name, lit))
    if d.feature_names is not None:
        names = ",\n    ".join(_c_string(n) for n in d.feature_names)
        parts.append(f"const char *const {P}_feature_names[{d.n_inputs}] = {{\n    {names}\n}};\n")
    return "\n".join(parts)


def _predict(d: NetworkDescription, P: str, lit: _Literal, int8: bool) -> str:
    T = lit.ctype
    hidden = [layer.W.shape[1] for layer in d.layers[:-1]]
    body = []
    if hidden:
        buffers = [f"h{k}[{max(hidden)}]" for k in range(min(len(hidden), 2))]
        body.append(f"    {T} {', '.join(buffers)};")
    if d.mean is not None:
        body.append(f"    {T} xs[{d.n_inputs}];")
    uses_j = d.mean is not None or any(layer.activation != "softmax" for layer in d.layers)
    if uses_j:
        body.append("    long j;")
    src = "x"
    if d.mean is not None:
        body.append(f"    for (j = 0; j < {d.n_inputs}; ++j) xs[j] = (x[j] - {P}_mean[j]) * {P}_inv_std[j];")
        src = "xs"
    for number, layer in enumerate(d.layers, start=1):
        rows, cols = layer.W.shape
        dst = "out" if number == len(d.layers) else f"h{(number - 1) % 2}"
        if int8:
            body.append(f"    {P}_dense_int8({dst}, {src}, {P}_W{number}, {P}_scale{number}, {rows}, {cols});")
        else:
            body.append(f"    {P}_dense({dst}, {src}, {P}_W{number}, {rows}, {cols});")
        if layer.activation == "softmax":
            body.append(f"    {P}_softmax({dst}, {P}_b{number}, {cols});")
        else:
            v, alpha = f"{dst}[j]", lit(layer.alpha)
            if layer.activation in ("relu", "leaky_relu", "elu"):  # the sum once, as the core's lambda takes it
                body.append(f"    for (j = 0; j < {cols}; ++j) {{\n        const {T} v = {v} + {P}_b{number}[j];\n"
                            f"        {v} = {_activation_expr(layer.activation, 'v', alpha, lit, P)};\n"
                            f"    }}")
            else:
                expr = _activation_expr(layer.activation, f"({v} + {P}_b{number}[j])", alpha, lit, P)
                body.append(f"    for (j = 0; j < {cols}; ++j) {v} = {expr};")
        src = dst
    return f"void {P}_predict(const {T} *x, {T} *out)\n{{\n" + "\n".join(body) + "\n}\n"


def _classes(d: NetworkDescription, P: str, lit: _Literal) -> str:
    T = lit.ctype
    assert d.classes is not None  # a classifier with one label a row keeps its classes (network_of)
    labels = ",\n    ".join(_c_string(c) for c in d.classes)  # NumPy scalars: float32 0.1 is "0.1", not its double
    table = f"const char *const {P}_class_labels[{len(d.classes)}] = {{\n    {labels}\n}};\n"
    if d.kind == "binary":
        body = f"    {T} p;\n    {P}_predict(x, &p);\n    return p > {lit(0.5)} ? 1 : 0;"
    else:
        body = (f"    {T} p[{d.n_outputs}];\n    int j, best = 0;\n    {P}_predict(x, p);\n"
                f"    for (j = 1; j < {d.n_outputs}; ++j)\n"
                f"        if (p[best] < p[j]) best = j;  /* the first maximum */\n"
                f"    return best;")
    return table + f"\nint {P}_predict_class(const {T} *x)\n{{\n{body}\n}}\n"
