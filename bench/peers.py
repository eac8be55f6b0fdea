#!/usr/bin/env python
"""nnfast against its peers, in one process, on the same seeded synthetic data.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/peers.py            # full run, ~5 min
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/peers.py --quick    # smoke run, < 1 min

Systems: nnfast; the "BLAS floor" (only the GEMMs of the same epoch, through the same
OpenBLAS nnfast links, called from Python through nnfast._core, at the same thread count);
a plain-NumPy loop (bench/numpy_mlp.py); PyTorch (CPU) and scikit-learn's MLPClassifier
when installed. Everything runs in this one process except two rows measured in fresh
child processes: the floor (it re-threads nnfast's BLAS, see floor_epochs) and nnfast's
epoch in a fresh process (the cold start a user's first nf.train sees).

Workloads (see bench/README.md):
  mnist   60,000 x 784 float32, 784-256-128-10 ReLU, softmax cross-entropy, Adam,
          batch 128, one epoch (nnfast also in float64)
  small   8,985 x 64, 64-64-10 ReLU, batch 32, two epochs (overhead-bound)
  predict1    single-sample predict latency of both trained networks
  predict10k  batch predict of 10,000 rows with both trained networks
each at every thread count of --threads (default 1 2).

Prints the environment (which BLAS each library runs), a table of times and ratios and
the targets with PASS/MISS, and writes bench/results/peers.json and peers.png.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nnfast as nf  # noqa: E402
from nnfast import _core  # noqa: E402
from numpy_mlp import NumpyMLP  # noqa: E402

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

# The optional peers, imported by import_peers() (not by the fresh-process child).
torch: Any = None
sklearn: Any = None
MLPClassifier: Any = None
ConvergenceWarning: Any = None


onnxruntime: Any = None


def import_peers() -> None:
    global torch, sklearn, MLPClassifier, ConvergenceWarning, onnxruntime
    try:
        import onnx  # noqa: F401  (model.to_onnx needs it)
        import onnxruntime as onnxruntime_module
        onnxruntime = onnxruntime_module
    except ImportError:
        pass
    try:
        import torch as torch_module
        torch = torch_module
    except ImportError:
        pass
    try:
        import sklearn as sklearn_module
        from sklearn.exceptions import ConvergenceWarning as convergence_warning
        from sklearn.neural_network import MLPClassifier as mlp_classifier
        sklearn, MLPClassifier, ConvergenceWarning = sklearn_module, mlp_classifier, convergence_warning
    except ImportError:
        pass


ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SYSTEMS = ("nnfast", "floor", "numpy", "torch", "sklearn", "onnxruntime")
LABELS = {"nnfast": "nnfast", "floor": "BLAS floor", "numpy": "NumPy", "torch": "PyTorch", "sklearn": "sklearn",
          "onnxruntime": "ORT"}
# pause between systems: idle OpenBLAS workers spin for about 0.1 s before they sleep,
# and would steal a core from the next measurement
SETTLE_SECONDS = 0.3


# --- configuration ----------------------------------------------------------------------

@dataclass(frozen=True)
class Net:
    """One training workload: data shape, layer widths, batch size, epochs."""

    name: str
    rows: int
    dims: Tuple[int, ...]  # input, hidden..., classes
    batch: int
    epochs: int

    @property
    def hidden(self) -> Tuple[int, ...]:
        return self.dims[1:-1]

    @property
    def batches(self) -> int:
        return self.epochs * -(-self.rows // self.batch)

    def describe(self) -> str:
        return (f"{self.rows:,} x {self.dims[0]}, {'-'.join(map(str, self.dims))} relu/softmax, Adam, "
                f"batch {self.batch}, {self.epochs} epoch{'s' if self.epochs > 1 else ''}")

    @property
    def weights(self) -> Tuple[int, ...]:
        """I x O of every layer: the multiply-adds one row costs in one product with W."""
        return tuple(i * o for i, o in zip(self.dims[:-1], self.dims[1:]))

    def train_flops(self) -> int:
        """Floating-point operations of the GEMMs nnfast's training runs (csrc/network.hpp), exactly.

        Per row and layer l with W_l (I, O), one multiply-add = 2 FLOPs:
          forward  z = x W            2 I O   every layer        (dense_forward)
          backward dW = x^T dz        2 I O   every layer        (dense_backward's first GEMM)
                   dx = dz W^T        2 I O   layers 2..L only   (its second GEMM; the input
                                              layer's dx is not computed: dense_backward gets null)
        Counted over every row of every epoch (a short last batch counts its own rows). Not
        counted: bias adds and row sums, activations, the loss, the optimizer step, the
        reduction between threads: O(B O) or O(params) per batch, not O(B I O).
        """
        w = self.weights
        per_row = 2 * sum(w) + 2 * sum(w) + 2 * sum(w[1:])
        return per_row * self.rows * self.epochs

    def predict_flops(self, rows: int) -> int:
        """The forward GEMMs (GEMVs for one row) of `rows` rows: 2 I O per row and layer."""
        return 2 * sum(self.weights) * rows


@dataclass(frozen=True)
class Config:
    mnist: Net
    small: Net
    wide: Net              # the wider workload: how the limit ratio holds as the work grows
    predict_rows: int
    train_repeats: int     # best of this many timed training runs (after a warm-up)
    small_repeats: int
    batch_repeats: int     # best of this many batch predictions
    latency_blocks: int    # single-sample latency: median over this many blocks ...
    latency_block: int     # ... of this many back-to-back calls
    wide_repeats: int      # best of this many timed runs of the wide workload
    limit_size: int        # n of the n x n x n SGEMM that measures one core's rate
    limit_repeats: int     # best of this many of them
    seed: int = 0


# The wide workload trains on 20,000 rows (one third of an MNIST epoch: ~191 GFLOP, 3x the
# MNIST epoch's work) so that five systems at two thread counts stay within minutes.
FULL = Config(mnist=Net("mnist", 60_000, (784, 256, 128, 10), 128, 1),
              small=Net("small", 8_985, (64, 64, 10), 32, 2),
              wide=Net("wide", 20_000, (784, 1024, 1024, 10), 256, 1),
              predict_rows=10_000, train_repeats=5, small_repeats=7, batch_repeats=7,
              latency_blocks=300, latency_block=10, wide_repeats=3, limit_size=2048, limit_repeats=5)
QUICK = Config(mnist=Net("mnist", 2_000, (784, 256, 128, 10), 128, 1),
               small=Net("small", 2_000, (64, 64, 10), 32, 2),
               wide=Net("wide", 512, (784, 1024, 1024, 10), 256, 1),
               predict_rows=1_000, train_repeats=1, small_repeats=1, batch_repeats=2,
               latency_blocks=20, latency_block=10, wide_repeats=1, limit_size=512, limit_repeats=2)


# --- data and timing helpers -------------------------------------------------------------

def make_data(n: int, d: int, classes: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """n rows of d float32 features in `classes` noisy Gaussian clusters; labels int64."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    centers = rng.standard_normal((classes, d), dtype=np.float32)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X *= 2.0
    X += centers[y]
    return X, y.astype(np.int64)


class CpuMonitor:
    """CPU time that other processes (and other VMs, as steal) took while we measured.

    From /proc/stat (all CPUs) minus /proc/self/stat (every thread of this process), in
    cores: 1.0 means another process kept one core busy for the whole measurement. A
    2-thread measurement needs both cores; anything else running makes it meaningless.
    """

    def __init__(self) -> None:
        self.available = os.path.exists("/proc/stat") and os.path.exists("/proc/self/stat")
        self.tick = os.sysconf("SC_CLK_TCK") if self.available else 100

    def _ticks(self) -> Tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # user nice system irq softirq steal
        with open("/proc/self/stat") as f:
            text = f.read()
        fields = text[text.rindex(")") + 2:].split()
        # utime + stime of every thread of this process, plus cutime + cstime of its
        # finished children (the fresh-process measurement runs in one)
        return busy, int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])

    def start(self) -> Tuple[float, int, int]:
        if not self.available:
            return (time.perf_counter(), 0, 0)
        return (time.perf_counter(), *self._ticks())

    def others(self, begin: Tuple[float, int, int]) -> Optional[float]:
        if not self.available:
            return None
        seconds = time.perf_counter() - begin[0]
        busy, own = self._ticks()
        return max(0.0, ((busy - begin[1]) - (own - begin[2])) / self.tick / max(seconds, 1e-9))


MONITOR = CpuMonitor()
BUSY_CORES = 0.25  # flag a measurement when others used more than this many cores meanwhile


WAIT_QUIET_SECONDS = 0.0  # --wait-quiet


def settle() -> None:
    """Collect garbage, let idle BLAS workers fall asleep, and with --wait-quiet wait (up to
    that long) for a second in which other processes use less than 0.1 core."""
    gc.collect()
    time.sleep(SETTLE_SECONDS)
    waited = 0.0
    while MONITOR.available and waited < WAIT_QUIET_SECONDS:
        begin = MONITOR.start()
        time.sleep(1.0)
        waited += 1.0
        if (MONITOR.others(begin) or 0.0) < 0.1:
            break


def best_of(run: Callable[[], float], repeats: int, warmup: Optional[Callable[[], Any]] = None) -> Dict[str, Any]:
    """Best of `repeats` timings; `run` returns the seconds it measured itself."""
    settle()
    if warmup is not None:
        warmup()
    begin = MONITOR.start()
    samples = [run() for _ in range(repeats)]
    return {"seconds": min(samples), "stat": f"best of {repeats}", "samples": samples,
            "others_cores": MONITOR.others(begin)}


def timed(fn: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    return run


def latency(fn: Callable[[], Any], blocks: int, block: int) -> Dict[str, Any]:
    """Median over `blocks` of the mean time of `block` back-to-back calls (after a warm-up)."""
    settle()
    for _ in range(max(50, block)):
        fn()
    begin = MONITOR.start()
    per_call = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(block):
            fn()
        per_call.append((time.perf_counter() - start) / block)
    return {"seconds": statistics.median(per_call), "stat": f"median of {blocks} blocks of {block} calls",
            "samples": [min(per_call), max(per_call)], "others_cores": MONITOR.others(begin)}


def prime_openblas() -> None:
    """One 1024^3 GEMM in float32 and float64 through each OpenBLAS in the process (nnfast's
    and NumPy's), on one thread.

    OpenBLAS (0.3.31 and 0.3.34 alike, on this machine) runs a 128x784 @ 784x256 sgemm about
    3x slower in a fresh process than after any GEMM that packs a larger panel has run
    (one whose output has >= 384 columns and whose depth is >= 384); the state is per
    library, shared by all threads, and lasts. See bench/README.md. One thread is enough
    and keeps every BLAS worker pool asleep: a NumPy GEMM on two threads just before
    nnfast's own two-thread epoch was seen to slow that epoch down.
    """
    limit = threadpoolctl.threadpool_limits(limits=1, user_api="blas") if threadpoolctl else contextlib.nullcontext()
    with limit:
        for dtype in (np.float32, np.float64):
            big = np.ones((1024, 1024), dtype=dtype)
            _core.dense_forward(big, big)
            big @ big


def sgemm_rate(n: int, repeats: int, dtype: Any = np.float32) -> Dict[str, Any]:
    """One core's SGEMM (DGEMM for float64) rate, FLOP/s: the best of `repeats` n x n @ n x n
    products through nnfast's own OpenBLAS (nnfast._core.dense_forward, a plain sgemm), on one BLAS
    thread, pinned with threadpoolctl for the call and read back from it.

    This is the rate the machine limit assumes every thread of every system could reach:
    `epoch time / (FLOPs / (threads x rate))` is how far a system is from it (1.0 = every
    core multiplying at the large-GEMM rate for the whole epoch).
    """
    rng = np.random.default_rng(5)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    pinned: Optional[int] = None
    with nnfast_blas_threads(1):
        if threadpoolctl is not None:
            pinned = next((lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                           if _is_nnfast_blas(lib.get("filepath"))), None)
        threads_in_core = _core.blas_threads()
        m = best_of(timed(lambda: _core.dense_forward(a, b)), repeats, lambda: _core.dense_forward(a, b))
    flops = 2.0 * n ** 3
    m.update({"n": n, "flops": flops, "rate": flops / m["seconds"], "blas_threads_threadpoolctl": pinned,
              "blas_threads_core": threads_in_core})
    return m


def limit_seconds(flops: float, threads: int, rate: float) -> float:
    """The machine limit: `flops` on `threads` cores, each at the single-core large-SGEMM rate."""
    return flops / (threads * rate)


def fmt_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


# --- the systems -------------------------------------------------------------------------

class Nnfast:
    """nnfast through its public API: nf.train for training, model.predict for predictions."""

    name = "nnfast"

    def __init__(self) -> None:
        self.fit_wall: Dict[str, float] = {}

    def train(self, net: Net, X: np.ndarray, y: np.ndarray, dtype: str = "float32") -> Tuple[float, Any]:
        hp = nf.Hyperparameters(hidden=net.hidden, activation="relu", optimizer="adam", lr=1e-3,
                                batch_size=net.batch, epochs=net.epochs, shuffle=True, seed=0, dtype=dtype,
                                loss="cross_entropy")
        start = time.perf_counter()
        model, history = nf.train(hp, X, y, verbose=False)
        self.fit_wall[f"{net.name}_{dtype}"] = time.perf_counter() - start
        if history.epochs != net.epochs:
            raise RuntimeError(f"nnfast stopped after {history.epochs} epochs ({history.stop_reason})")
        return sum(history["time"]), model  # seconds measured around the C++ epoch calls

    @staticmethod
    def predictor(model: Any, x: np.ndarray) -> Callable[[], Any]:
        return lambda: model.predict(x)


class Floor:
    """The GEMMs of the epoch alone, back to back, through nnfast's OpenBLAS.

    Per batch: forward x @ W for every layer, then dense_backward for every layer: the
    GEMMs dW = x^T dz and (for every layer but the first) dx = dz W^T, plus the bias
    gradient's row sum, which is a tiny part. Inputs are row slices of X (no gather);
    activations and deltas are preallocated random arrays. Each call crosses Python ->
    pybind11 and allocates its outputs: `call_overhead` measures that on 1x1 shapes.
    """

    name = "floor"

    @staticmethod
    def epoch(net: Net, X: np.ndarray) -> Callable[[], float]:
        dtype = X.dtype
        rng = np.random.default_rng(1)
        L = len(net.dims) - 1
        W = [np.ascontiguousarray(rng.standard_normal((i, o)) * 0.05, dtype=dtype)
             for i, o in zip(net.dims[:-1], net.dims[1:])]
        A = [None] + [np.ascontiguousarray(rng.random((net.batch, d)), dtype=dtype) for d in net.dims[1:-1]]
        dZ = [np.ascontiguousarray(rng.standard_normal((net.batch, d)) * 0.01, dtype=dtype) for d in net.dims[1:]]
        n = X.shape[0]
        starts = list(range(0, n, net.batch)) * net.epochs
        forward, backward = _core.dense_forward, _core.dense_backward

        def run() -> float:
            begin = time.perf_counter()
            for s in starts:
                B = min(net.batch, n - s)
                ins = [X[s:s + B]] + [a[:B] for a in A[1:]]
                for l in range(L):
                    forward(ins[l], W[l])
                for l in range(L - 1, -1, -1):
                    backward(dZ[l][:B], ins[l], W[l], l > 0)
            return time.perf_counter() - begin
        return run

    @staticmethod
    def call_overhead(net: Net, dtype: np.dtype) -> Dict[str, float]:
        """Per-call cost of dense_forward / dense_backward on 2x1 @ 1x1 (the binding, the
        output allocation and a trivial GEMM), and what it adds up to over the epoch."""
        x, w, dz = (np.ones(shape, dtype=dtype) for shape in ((2, 1), (1, 1), (2, 1)))
        fwd = latency(lambda: _core.dense_forward(x, w), 200, 50)["seconds"]
        bwd = latency(lambda: _core.dense_backward(dz, x, w, True), 200, 50)["seconds"]
        L = len(net.dims) - 1
        return {"forward_call": fwd, "backward_call": bwd, "per_epoch": net.batches * L * (fwd + bwd)}


class Numpy:
    name = "numpy"

    @staticmethod
    def train(net: Net, X: np.ndarray, y: np.ndarray) -> Tuple[float, Any]:
        model = NumpyMLP(net.dims, seed=0)
        start = time.perf_counter()
        model.fit(X, y, net.batch, net.epochs)
        return time.perf_counter() - start, model

    @staticmethod
    def predictor(model: Any, x: np.ndarray) -> Callable[[], Any]:
        return lambda: model.predict(x)


class Torch:
    """torch.nn.Sequential + torch.optim.Adam, a plain training loop (CPU, default settings)."""

    name = "torch"

    @staticmethod
    def train(net: Net, X: np.ndarray, y: np.ndarray) -> Tuple[float, Any]:
        torch.manual_seed(0)
        layers: List[Any] = []
        for i, o in zip(net.dims[:-2], net.dims[1:-1]):
            layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
        layers.append(torch.nn.Linear(net.dims[-2], net.dims[-1]))
        model = torch.nn.Sequential(*layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
        loss_fn = torch.nn.CrossEntropyLoss()  # mean over the batch, from the logits
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        generator = torch.Generator().manual_seed(0)
        n, batch = len(X), net.batch
        start = time.perf_counter()
        for _ in range(net.epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for s in range(0, n, batch):
                idx = order[s:s + batch]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
        seconds = time.perf_counter() - start
        model.eval()
        return seconds, model

    @staticmethod
    def predictor(model: Any, x: np.ndarray) -> Callable[[], Any]:
        xt = torch.from_numpy(x)

        def predict():
            with torch.no_grad():
                return model(xt)
        return predict


class Sklearn:
    """MLPClassifier with the same network, Adam settings, batch size and epochs; timed as
    the whole fit() (its input checks and label encoding included: a few ms here)."""

    name = "sklearn"

    @staticmethod
    def train(net: Net, X: np.ndarray, y: np.ndarray) -> Tuple[float, Any]:
        model = MLPClassifier(hidden_layer_sizes=net.hidden, activation="relu", solver="adam", alpha=0.0,
                              batch_size=net.batch, learning_rate_init=1e-3, beta_1=0.9, beta_2=0.999,
                              epsilon=1e-8, max_iter=net.epochs, shuffle=True, random_state=0, tol=0.0,
                              n_iter_no_change=10**9, early_stopping=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the point here
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        return seconds, model

    @staticmethod
    def predictor(model: Any, x: np.ndarray) -> Callable[[], Any]:
        return lambda: model.predict(x)


class OnnxRuntime:
    """onnxruntime (CPU) as an inference peer: nnfast's own trained model exported with
    model.to_onnx (the same weights, labels as output), run by an InferenceSession with
    `threads` intra-op threads, sequential execution, full graph optimisation. Its predict
    returns the class labels, like nnfast's; it checks only the input's dtype and shape."""

    name = "onnxruntime"

    @staticmethod
    def session(model: Any, threads: int, folder: Path) -> Any:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"peers-{model._net.inputs}-{threads}.onnx"
        model.to_onnx(path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @staticmethod
    def predictor(session: Any, x: np.ndarray) -> Callable[[], Any]:
        name = session.get_inputs()[0].name
        feed = {name: x}
        return lambda: session.run(["label"], feed)[0]


# --- environment ---------------------------------------------------------------------------

def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_libraries() -> List[Dict[str, Any]]:
    if threadpoolctl is None:
        return []
    keep = ("user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads",
            "filepath")
    return [{k: lib.get(k) for k in keep} for lib in threadpoolctl.threadpool_info()]


def blas_by_system(libs: List[Dict[str, Any]]) -> Dict[str, str]:
    def find(fragment: str) -> str:
        for lib in libs:
            if lib["user_api"] == "blas" and fragment in (lib["filepath"] or ""):
                return (f"OpenBLAS {lib['version']}, kernel {lib['architecture']}, "
                        f"{os.path.basename(lib['filepath'])}")
        return "not found by threadpoolctl"

    out = {"nnfast": f"{find('scipy_openblas32')} ({nf.blas_info()})"}
    out["floor"] = "the same library as nnfast (nnfast._core.dense_forward/dense_backward)"
    out["numpy"] = find("numpy.libs") if libs else f"numpy {np.__version__} (threadpoolctl not installed)"
    if torch is not None:
        cfg = torch.__config__.show()
        blas = "MKL" if "BLAS_INFO=mkl" in cfg else ("OpenBLAS" if "openblas" in cfg.lower() else "see torch config")
        out["torch"] = (f"{blas} linked into libtorch_cpu (invisible to threadpoolctl), oneDNN "
                        f"{'on' if torch.backends.mkldnn.is_available() else 'off'}, "
                        f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    if onnxruntime is not None:
        out["onnxruntime"] = (f"onnxruntime {onnxruntime.__version__}, CPUExecutionProvider (its own MLAS GEMM), "
                              f"nnfast's model via model.to_onnx")
    if sklearn is not None:
        out["sklearn"] = "NumPy's BLAS (MLPClassifier multiplies with numpy @): " + out["numpy"]
    return out


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def source_state() -> str:
    """The git commit of the checkout nnfast is imported from, and whether it has local changes."""
    root = Path(nf.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "csrc", "nnfast", "setup.py"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{root} (not a git checkout)"
    core = Path(_core.__file__)
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(core.stat().st_mtime))
    return f"git {commit}{' + local changes' if dirty else ''}, core built {built}"


def _is_nnfast_blas(filepath: Optional[str]) -> bool:
    return "scipy_openblas32" in (filepath or "")


def set_threads(n: int) -> None:
    """n threads for every system: nnfast through its own setting (it decides how its BLAS
    is threaded), torch through its own, every other OpenBLAS and OpenMP runtime in the
    process (NumPy's, sklearn's) through threadpoolctl."""
    nf.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    if threadpoolctl is not None:
        controller = threadpoolctl.ThreadpoolController()
        others = [lib.filepath for lib in controller.lib_controllers if not _is_nnfast_blas(lib.filepath)]
        if others:
            controller.select(filepath=others).limit(limits=n)


@contextlib.contextmanager
def nnfast_blas_threads(n: int):
    """nnfast's OpenBLAS at n threads inside the block, as it was after it.

    The floor is the best the BLAS does with n threads, however nnfast itself uses its
    BLAS (multi-threaded BLAS calls, or its own threads each calling single-threaded BLAS).
    """
    if threadpoolctl is None:  # nf.set_num_threads is all there is
        yield
        return
    controller = threadpoolctl.ThreadpoolController()
    mine = [lib.filepath for lib in controller.lib_controllers if _is_nnfast_blas(lib.filepath)]
    if not mine:
        yield
        return
    limiter = controller.select(filepath=mine).limit(limits=n)
    try:
        yield
    finally:
        limiter.restore_original_limits()


# --- the run -------------------------------------------------------------------------------

Results = Dict[str, Dict[str, Dict[int, Dict[str, Any]]]]  # workload -> system -> threads -> measurement


def run_threads(cfg: Config, threads: int, data: Dict[str, Any], peers: List[Any], results: Results,
                extras: Dict[str, Any]) -> None:
    set_threads(threads)
    prime_openblas()
    pools = ", ".join(f"{'nnfast' if _is_nnfast_blas(lib['filepath']) else lib['prefix'] + '(' + Path(lib['filepath']).parent.name + ')'}"
                      f"={lib['num_threads']}" for lib in blas_libraries())
    print(f"  [{threads} thread{'s' if threads > 1 else ''}] nnfast threads {nf.get_num_threads()}; "
          f"BLAS/OpenMP pools: {pools or 'unknown (no threadpoolctl)'}", flush=True)
    record = lambda workload, system, m: results.setdefault(workload, {}).setdefault(system, {}).__setitem__(threads, m)  # noqa: E731
    nnfast_sys = Nnfast()
    models: Dict[Tuple[str, str], Any] = {}
    rate = sgemm_rate(cfg.limit_size, cfg.limit_repeats)
    rate64 = sgemm_rate(cfg.limit_size, cfg.limit_repeats, np.float64)
    extras.setdefault("sgemm_rate", {})[threads] = rate
    extras.setdefault("dgemm_rate", {})[threads] = rate64
    print(f"  [{threads} thread{'s' if threads > 1 else ''}] one core's GEMM rate ({rate['n']}^3, nnfast's OpenBLAS "
          f"on {rate['blas_threads_threadpoolctl'] or rate['blas_threads_core']} thread): SGEMM "
          f"{rate['rate'] / 1e9:.1f} GFLOP/s, DGEMM {rate64['rate'] / 1e9:.1f} GFLOP/s", flush=True)

    for net, repeats in ((cfg.mnist, cfg.train_repeats), (cfg.small, cfg.small_repeats),
                         (cfg.wide, cfg.wide_repeats)):
        X, y = data[net.name]
        warm_rows = min(net.rows, 20 * net.batch)
        workload = f"{net.name}_train"
        print(f"  [{threads} thread{'s' if threads > 1 else ''}] {workload}: nnfast", end="", flush=True)
        holder: Dict[str, Any] = {}

        def nnfast_run() -> float:
            seconds, holder["model"] = nnfast_sys.train(net, X, y)
            return seconds
        record(workload, "nnfast", best_of(nnfast_run, repeats, lambda: nnfast_sys.train(net, X[:warm_rows],
                                                                                        y[:warm_rows])))
        results[workload]["nnfast"][threads]["fit_wall"] = nnfast_sys.fit_wall[f"{net.name}_float32"]
        models[(net.name, "nnfast")] = holder["model"]

        if net is cfg.mnist:  # float64
            X64 = data["mnist64"]
            print(", nnfast float64", end="", flush=True)
            record("mnist_train_f64", "nnfast", best_of(lambda: nnfast_sys.train(net, X64, y, "float64")[0],
                                                        repeats, lambda: nnfast_sys.train(net, X64[:warm_rows],
                                                                                          y[:warm_rows], "float64")))

        for peer in peers:
            print(f", {peer.name}", end="", flush=True)

            def peer_run(peer=peer) -> float:
                seconds, holder[peer.name] = peer.train(net, X, y)
                return seconds
            record(workload, peer.name, best_of(peer_run, repeats, lambda peer=peer: peer.train(
                net, X[:warm_rows], y[:warm_rows])))
            models[(net.name, peer.name)] = holder[peer.name]
        print(flush=True)

    for net in (cfg.mnist, cfg.small):
        X_pred = data[f"{net.name}_predict"]
        x1 = np.ascontiguousarray(X_pred[:1])
        print(f"  [{threads} thread{'s' if threads > 1 else ''}] {net.name} predict", flush=True)
        for system in [nnfast_sys] + peers:
            model = models[(net.name, system.name)]
            record(f"{net.name}_predict1", system.name,
                   latency(system.predictor(model, x1), cfg.latency_blocks, cfg.latency_block))
            one_batch = system.predictor(model, X_pred)
            record(f"{net.name}_predict_batch", system.name, best_of(timed(one_batch), cfg.batch_repeats, one_batch))
        if onnxruntime is not None and extras.get("onnx_folder") is not None:
            session = OnnxRuntime.session(models[(net.name, "nnfast")], threads, extras["onnx_folder"])
            labels = OnnxRuntime.predictor(session, X_pred)()
            if not np.array_equal(labels, models[(net.name, "nnfast")].predict(X_pred)):
                print(f"  NOTE: onnxruntime's labels differ from nnfast's on {net.name} (rounding at near-ties?)")
            record(f"{net.name}_predict1", "onnxruntime",
                   latency(OnnxRuntime.predictor(session, x1), cfg.latency_blocks, cfg.latency_block))
            one_batch = OnnxRuntime.predictor(session, X_pred)
            record(f"{net.name}_predict_batch", "onnxruntime", best_of(timed(one_batch), cfg.batch_repeats, one_batch))
    extras.setdefault("thread_pools", {})[threads] = blas_libraries()


def cold_epochs(cfg: Config, threads: int, quick: bool) -> Dict[str, Any]:
    """nnfast's MNIST epoch in a fresh interpreter, as a user's first nf.train runs: OpenBLAS
    not primed, nothing warmed up. One run each (a fresh process per thread count)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--cold-child", str(threads)] + (["--quick"] if quick else [])
    settle()
    begin = MONITOR.start()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
    others = MONITOR.others(begin)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update({"stat": "one run in a fresh process", "others_cores": others})
    return result


def floor_epochs(cfg: Config, threads: int, quick: bool) -> Dict[str, Dict[str, Any]]:
    """The BLAS floor of each training workload, measured in a fresh interpreter whose
    nnfast OpenBLAS runs `threads` threads.

    Not in the main process: there nnfast decides how its BLAS is threaded (its own
    threads each calling single-threaded BLAS), and switching that library to several
    BLAS threads for the floor was seen to slow nnfast's later runs in the same process.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--floor-child", str(threads),
           "--wait-quiet", str(WAIT_QUIET_SECONDS)] + (["--quick"] if quick else [])
    settle()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor_child(cfg: Config, threads: int) -> None:
    X, y = make_data(cfg.mnist.rows, cfg.mnist.dims[0], cfg.mnist.dims[-1], cfg.seed)
    Xs, _ = make_data(cfg.small.rows, cfg.small.dims[0], cfg.small.dims[-1], cfg.seed + 1)
    out: Dict[str, Any] = {}
    prime_openblas()
    with nnfast_blas_threads(threads):
        Xw, _ = make_data(cfg.wide.rows, cfg.wide.dims[0], cfg.wide.dims[-1], cfg.seed + 4)
        for key, net, data, repeats in (("mnist_train", cfg.mnist, X, cfg.train_repeats),
                                        ("mnist_train_f64", cfg.mnist, X.astype(np.float64), cfg.train_repeats),
                                        ("small_train", cfg.small, Xs, cfg.small_repeats),
                                        ("wide_train", cfg.wide, Xw, cfg.wide_repeats)):
            warm_rows = min(net.rows, 20 * net.batch)
            out[key] = best_of(Floor.epoch(net, data), repeats, Floor.epoch(net, data[:warm_rows]))
            out[key]["stat"] += " (in a separate process)"
            out[key]["call_overhead"] = Floor.call_overhead(net, data.dtype)
    print(json.dumps(out))


def cold_child(cfg: Config, threads: int) -> None:
    set_threads(threads)
    X, y = make_data(cfg.mnist.rows, cfg.mnist.dims[0], cfg.mnist.dims[-1], cfg.seed)
    seconds, _ = Nnfast().train(cfg.mnist, X, y)
    print(json.dumps({"seconds": seconds, "samples": [seconds]}))


WORKLOADS = [  # key, label
    ("mnist_train", "MNIST epoch (a)"),
    ("mnist_train_cold", "MNIST epoch, fresh process"),
    ("mnist_train_f64", "MNIST epoch float64"),
    ("small_train", "small, 2 epochs (b)"),
    ("wide_train", "wide 784-1024-1024-10 (e)"),
    ("mnist_predict1", "predict 1 row, 784-256-128-10 (c)"),
    ("small_predict1", "predict 1 row, 64-64-10 (c)"),
    ("mnist_predict_batch", "predict batch, 784-256-128-10 (d)"),
    ("small_predict_batch", "predict batch, 64-64-10 (d)"),
]


def get(results: Results, workload: str, system: str, threads: int) -> Optional[float]:
    try:
        return results[workload][system][threads]["seconds"]
    except KeyError:
        return None


def busy(results: Results, workload: str, system: str, threads: int) -> bool:
    try:
        others = results[workload][system][threads].get("others_cores")
    except KeyError:
        return False
    return others is not None and others > BUSY_CORES


def print_table(results: Results, threads_list: Sequence[int], systems: Sequence[str]) -> None:
    peers = [s for s in systems if s not in ("nnfast", "floor")]
    head = ["workload", "thr"] + [LABELS[s] for s in systems] + ["nnfast/floor"] + [f"{LABELS[p]}/nnfast" for p in peers]
    rows = []
    for key, label in WORKLOADS:
        for t in threads_list:
            if key not in results or all(get(results, key, s, t) is None for s in systems):
                continue
            nn = get(results, key, "nnfast", t)
            row = [label, str(t)] + [fmt_time(get(results, key, s, t)) + ("*" if busy(results, key, s, t) else "")
                                     for s in systems]
            fl = get(results, key, "floor", t)
            row.append(f"{nn / fl:.2f}x" if nn and fl else "-")
            for p in peers:
                v = get(results, key, p, t)
                row.append(f"{v / nn:.2f}x" if v and nn else "-")
            rows.append(row)
    print_aligned(head, rows)


def print_aligned(head: List[str], rows: List[List[str]]) -> None:
    """A text table: the first column left-aligned, the others right-aligned, a rule under the head."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(r: List[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    print(line(head))
    print("-" * len(line(head)))
    for r in rows:
        print(line(r))


def workload_flops(cfg: Config, key: str) -> Optional[int]:
    """The exact GEMM FLOPs of a workload as nnfast computes it (Net.train_flops,
    Net.predict_flops); the same count divides every system's time."""
    return {"mnist_train": cfg.mnist.train_flops(), "mnist_train_cold": cfg.mnist.train_flops(),
            "mnist_train_f64": cfg.mnist.train_flops(), "small_train": cfg.small.train_flops(),
            "wide_train": cfg.wide.train_flops(),
            "mnist_predict1": cfg.mnist.predict_flops(1), "small_predict1": cfg.small.predict_flops(1),
            "mnist_predict_batch": cfg.mnist.predict_flops(cfg.predict_rows),
            "small_predict_batch": cfg.small.predict_flops(cfg.predict_rows)}.get(key)


def limit_rows(cfg: Config, results: Results, extras: Dict[str, Any], threads_list: Sequence[int],
               systems: Sequence[str]) -> List[Dict[str, Any]]:
    """Per workload and thread count: FLOPs, the machine limit and every system's time over it."""
    out = []
    for key, label in WORKLOADS:
        flops = workload_flops(cfg, key)
        if key not in results or flops is None:
            continue
        for t in threads_list:
            rates = extras.get("dgemm_rate" if key == "mnist_train_f64" else "sgemm_rate", {})
            if t not in rates or all(get(results, key, s, t) is None for s in systems):
                continue
            limit = limit_seconds(flops, t, rates[t]["rate"])
            ratios = {s: get(results, key, s, t) / limit for s in systems if get(results, key, s, t)}
            nn, fl = get(results, key, "nnfast", t), get(results, key, "floor", t)
            out.append({"workload": key, "label": label, "threads": t, "flops": flops, "rate": rates[t]["rate"],
                        "limit_seconds": limit, "time_over_limit": ratios,
                        "nnfast_over_floor": nn / fl if nn and fl else None})
    return out


def print_limit_table(rows: List[Dict[str, Any]], systems: Sequence[str]) -> None:
    head = (["workload", "thr", "GFLOP", "GEMM GF/s", "limit"] + [f"{LABELS[s]}/limit" for s in systems]
            + ["nnfast/floor"])
    table = []
    for r in rows:
        f64 = r["workload"] == "mnist_train_f64"
        table.append([r["label"], str(r["threads"]), f"{r['flops'] / 1e9:.4g}",
                      f"{r['rate'] / 1e9:.1f}" + (" (D)" if f64 else ""), fmt_time(r["limit_seconds"])]
                     + [f"{r['time_over_limit'][s]:.2f}x" if s in r["time_over_limit"] else "-" for s in systems]
                     + [f"{r['nnfast_over_floor']:.2f}x" if r["nnfast_over_floor"] else "-"])
    print_aligned(head, table)


@dataclass
class Target:
    name: str
    threads: Optional[int]
    measured: float        # the measured quantity (a ratio or seconds)
    limit: float           # the target for it
    higher_is_better: bool
    unit: str              # "x" or "us"
    nnfast_seconds: float  # nnfast's time in the measurement ...
    nnfast_needed: float   # ... and the time it must get to, to meet the target
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.passed = self.measured >= self.limit if self.higher_is_better else self.measured <= self.limit

    def show(self, v: float) -> str:
        return f"{v * 1e6:.2f} us" if self.unit == "us" else f"{v:.2f}x"


def targets(results: Results, threads_list: Sequence[int]) -> List[Target]:
    out: List[Target] = []
    for t in threads_list:
        nn, fl = get(results, "mnist_train", "nnfast", t), get(results, "mnist_train", "floor", t)
        if nn and fl:
            out.append(Target("MNIST epoch within 1.25x of the BLAS floor", t, nn / fl, 1.25, False, "x", nn, 1.25 * fl))
        for key, peer, factor, what in (("mnist_train", "torch", 1.7, "MNIST epoch"),
                                        ("mnist_train", "numpy", 2.0, "MNIST epoch"),
                                        ("small_train", "numpy", 4.0, "small-network epochs"),
                                        ("small_train", "torch", 10.0, "small-network epochs")):
            nn, v = get(results, key, "nnfast", t), get(results, key, peer, t)
            if nn and v:
                out.append(Target(f"{what} >= {factor:g}x faster than {LABELS[peer]}", t, v / nn, factor, True, "x",
                                  nn, v / factor))
        for key, limit, what in (("mnist_predict1", 10e-6, "784-256-128-10"), ("small_predict1", 3e-6, "64-64-10")):
            nn = get(results, key, "nnfast", t)
            if nn:
                out.append(Target(f"single-sample predict <= {limit * 1e6:g} us ({what})", t, nn, limit, False, "us",
                                  nn, limit))
        for key, factor, what in (("mnist_predict_batch", 1.0, "10,000-row predict (784-256-128-10) level with"),
                                  ("mnist_predict1", 1.0, "one-row predict (784-256-128-10) faster than")):
            nn, v = get(results, key, "nnfast", t), get(results, key, "onnxruntime", t)
            if nn and v:
                out.append(Target(f"{what} onnxruntime", t, v / nn, factor, True, "x", nn, v / factor))
        f32, f64 = get(results, "mnist_train", "nnfast", t), get(results, "mnist_train_f64", "nnfast", t)
        if f32 and f64:
            out.append(Target("MNIST epoch float64 <= 2.2x float32", t, f64 / f32, 2.2, False, "x", f64, 2.2 * f32))
    if 1 in threads_list and 2 in threads_list:
        t1, t2 = get(results, "mnist_train", "nnfast", 1), get(results, "mnist_train", "nnfast", 2)
        if t1 and t2:
            out.append(Target("MNIST epoch, 2 threads >= 1.7x faster than 1", None, t1 / t2, 1.7, True, "x", t2,
                              t1 / 1.7))
    return out


def print_targets(found: List[Target]) -> None:
    rows = [["target", "thr", "measured", "target", "result", "nnfast time -> needed"]]
    for tg in found:
        op = ">=" if tg.higher_is_better else "<="
        if tg.passed:
            gap = f"{fmt_time(tg.nnfast_seconds)} (headroom {fmt_time(tg.nnfast_needed - tg.nnfast_seconds)})"
        else:
            gap = (f"{fmt_time(tg.nnfast_seconds)} -> {fmt_time(tg.nnfast_needed)} "
                   f"(cut {fmt_time(tg.nnfast_seconds - tg.nnfast_needed)}, "
                   f"{tg.nnfast_seconds / tg.nnfast_needed:.2f}x faster)")
        rows.append([tg.name, "-" if tg.threads is None else str(tg.threads), tg.show(tg.measured),
                     f"{op} {tg.show(tg.limit)}", "PASS" if tg.passed else "MISS", gap])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j in (0, 5) else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))


def plot(results: Results, threads_list: Sequence[int], systems: Sequence[str], path: Path) -> Optional[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"
    panels = [(k, l) for k, l in WORKLOADS if k in results]
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    colors = {"nnfast": "#1f77b4", "floor": "#7f7f7f", "numpy": "#2ca02c", "torch": "#d62728", "sklearn": "#ff7f0e",
              "onnxruntime": "#9467bd"}
    for ax, (key, label) in zip(axes.flat, panels):
        present = [s for s in systems if s in results[key]]
        width = 0.8 / max(1, len(threads_list))
        for j, t in enumerate(threads_list):
            xs = [i + (j - (len(threads_list) - 1) / 2) * width for i in range(len(present))]
            vals = [get(results, key, s, t) or 0.0 for s in present]
            bars = ax.bar(xs, [v * 1e3 for v in vals], width, color=[colors[s] for s in present],
                          alpha=1.0 if j == 0 else 0.55, hatch=None if j == 0 else "//", edgecolor="black",
                          linewidth=0.4)
            for b, v in zip(bars, vals):
                if v:
                    ax.annotate(fmt_time(v), (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                                va="bottom", fontsize=6, rotation=90, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(range(len(present)), [LABELS[s] for s in present], fontsize=7)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_ylabel("ms (log scale)", fontsize=7)
        ax.set_title(label, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.margins(y=0.35)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("nnfast and peers: solid = " + ", hatched = ".join(f"{t} thread{'s' if t > 1 else ''}"
                                                                      for t in threads_list) + " (lower is better)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    global SETTLE_SECONDS, WAIT_QUIET_SECONDS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="BLAS/OpenMP thread counts (default 1 2)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: a smoke run for CI, < 1 min")
    ap.add_argument("--no-peers", action="store_true", help="nnfast and the BLAS floor only")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="folder for the JSON and the plot")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before each measurement, wait up to this long for other processes to go idle "
                         "(for shared machines; default 0: do not wait)")
    ap.add_argument("--cold-child", type=int, metavar="THREADS", help=argparse.SUPPRESS)  # internal: see cold_epochs
    ap.add_argument("--floor-child", type=int, metavar="THREADS", help=argparse.SUPPRESS)  # internal: floor_epochs
    args = ap.parse_args(argv)
    if any(t < 1 for t in args.threads):
        ap.error("--threads must be positive")
    cfg = QUICK if args.quick else FULL
    WAIT_QUIET_SECONDS = args.wait_quiet
    if args.quick:
        SETTLE_SECONDS = 0.02
    if args.cold_child is not None:
        cold_child(cfg, args.cold_child)
        return 0
    if args.floor_child is not None:
        floor_child(cfg, args.floor_child)
        return 0
    began = time.perf_counter()
    import_peers()

    print("nnfast peers benchmark" + (" (--quick: sizes shrunk, numbers meaningless)" if args.quick else ""))
    print(f"  python {platform.python_version()}, numpy {np.__version__}, nnfast {nf.__version__}, "
          f"torch {torch.__version__ if torch else '-'}, scikit-learn {sklearn.__version__ if sklearn else '-'}")
    print(f"  CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; load average {load_average()}")
    source = source_state()
    print(f"  nnfast source: {source}")
    env = {v: os.environ.get(v) for v in ENV_VARS}
    for v, val in env.items():
        print(f"  {v} = {val if val is not None else '(unset)'}")
    if any(val is not None for val in env.values()):
        print("  WARNING: OpenBLAS kernel selection is overridden in this process; the numbers do not show what "
              "a normal install runs. Run as: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/peers.py")

    peers: List[Any] = [Numpy()]
    notes: List[str] = []
    if torch is not None:
        peers.append(Torch())
    else:
        notes.append("PyTorch is not installed: skipped (pip install torch==2.13.0, see bench/requirements.txt)")
    if sklearn is not None:
        peers.append(Sklearn())
    else:
        notes.append("scikit-learn is not installed: skipped (pip install scikit-learn)")
    if onnxruntime is None:
        notes.append("onnxruntime (or onnx) is not installed: no ONNX inference peer (pip install onnx onnxruntime)")
    if threadpoolctl is None:
        notes.append("threadpoolctl is not installed: NumPy's and sklearn's BLAS threads are NOT limited by "
                      "--threads, and the BLAS report below is incomplete (pip install threadpoolctl)")
    if args.no_peers:
        peers, notes = [], notes + ["--no-peers: NumPy, PyTorch, sklearn and onnxruntime not run"]
    extras: Dict[str, Any] = {"onnx_folder": None if args.no_peers or onnxruntime is None else args.out}
    for note in notes:
        print("  NOTE: " + note)

    libs = blas_libraries()
    blas_map = blas_by_system(libs)
    print("  BLAS per system:")
    for s in ("nnfast", "floor") + tuple(p.name for p in peers) + (("onnxruntime",) if extras["onnx_folder"] else ()):
        print(f"    {LABELS[s]:10s} {blas_map.get(s, '-')}")
    print("  BLAS / OpenMP libraries loaded (threadpoolctl):")
    for lib in libs:
        print(f"    {lib['prefix']:20s} {lib['internal_api']:8s} {str(lib['version']):14s} "
              f"arch={lib['architecture']} threads={lib['num_threads']}  {lib['filepath']}")

    print(f"  workloads: mnist = {cfg.mnist.describe()}; small = {cfg.small.describe()}; "
          f"wide = {cfg.wide.describe()}; batch predict {cfg.predict_rows:,} rows")
    data: Dict[str, Any] = {}
    data["mnist"] = make_data(cfg.mnist.rows, cfg.mnist.dims[0], cfg.mnist.dims[-1], cfg.seed)
    data["mnist64"] = data["mnist"][0].astype(np.float64)
    data["small"] = make_data(cfg.small.rows, cfg.small.dims[0], cfg.small.dims[-1], cfg.seed + 1)
    data["wide"] = make_data(cfg.wide.rows, cfg.wide.dims[0], cfg.wide.dims[-1], cfg.seed + 4)
    data["mnist_predict"] = make_data(cfg.predict_rows, cfg.mnist.dims[0], cfg.mnist.dims[-1], cfg.seed + 2)[0]
    data["small_predict"] = make_data(cfg.predict_rows, cfg.small.dims[0], cfg.small.dims[-1], cfg.seed + 3)[0]

    results: Results = {}
    for t in args.threads:
        print(f"  [{t} thread{'s' if t > 1 else ''}] MNIST epoch in a fresh process", flush=True)
        results.setdefault("mnist_train_cold", {}).setdefault("nnfast", {})[t] = cold_epochs(cfg, t, args.quick)
        print(f"  [{t} thread{'s' if t > 1 else ''}] BLAS floor (in a separate process)", flush=True)
        for key, m in floor_epochs(cfg, t, args.quick).items():
            results.setdefault(key, {}).setdefault("floor", {})[t] = m
        run_threads(cfg, t, data, peers, results, extras)

    systems = [s for s in SYSTEMS if any(s in results.get(k, {}) for k, _ in WORKLOADS)]
    print()
    print("Times: training = best of "
          f"{cfg.train_repeats} (MNIST) / {cfg.small_repeats} (small) runs after a warm-up, batch predict = best of "
          f"{cfg.batch_repeats}, single-sample predict = median of {cfg.latency_blocks} blocks of "
          f"{cfg.latency_block} calls. Ratios: peer time / nnfast time (higher = nnfast faster).")
    print_table(results, args.threads, systems)
    print()
    limits = limit_rows(cfg, results, extras, args.threads, systems)
    print("Machine limit: FLOPs / (threads x one core's large-GEMM rate), measured in this run. FLOPs = the GEMMs "
          "nnfast computes: forward x W and dW = x^T dz for every layer, dx = dz W^T for layers 2..L (2 per "
          "multiply-add; bias, activation, loss and optimizer work not counted); every system is divided by the "
          "same count. system/limit = its time over the limit (1.00x = every core at the large-GEMM rate all the "
          "time); (D) = DGEMM rate, for float64.")
    print_limit_table(limits, systems)
    print()
    for t in args.threads:
        ov = results["mnist_train"]["floor"][t]["call_overhead"]
        fl = get(results, "mnist_train", "floor", t)
        print(f"  BLAS floor, {t} thread(s): includes Python->pybind11 call overhead of ~"
              f"{ov['forward_call'] * 1e6:.2f} us per dense_forward and {ov['backward_call'] * 1e6:.2f} us per "
              f"dense_backward call (with a trivial GEMM), ~{fmt_time(ov['per_epoch'])} per MNIST epoch "
              f"({100 * ov['per_epoch'] / fl:.1f}% of the floor)")
        nn = results["mnist_train"]["nnfast"][t]
        print(f"  nnfast, {t} thread(s): nf.train() wall time for the MNIST epoch {fmt_time(nn['fit_wall'])} "
              f"(epoch alone {fmt_time(nn['seconds'])}; the rest is input checks, one-hot, initial cost)")
        cold = get(results, "mnist_train_cold", "nnfast", t)
        if cold:
            print(f"  nnfast, {t} thread(s): MNIST epoch in a fresh process (OpenBLAS not primed) {fmt_time(cold)}, "
                  f"{cold / nn['seconds']:.2f}x the primed time; every other row ran after one 1024^3 GEMM per "
                  f"OpenBLAS (see prime_openblas)")
    print("  PyTorch predict is `with torch.no_grad(): net(x)` on a ready tensor (logits); nnfast, NumPy and "
          "sklearn return class labels (nnfast and sklearn also check their input).")
    if 1 in args.threads and 2 in args.threads:
        print("  2-thread speed-up (1-thread time / 2-thread time):")
        for key, label in WORKLOADS:
            parts = []
            for s in systems:
                t1, t2 = get(results, key, s, 1), get(results, key, s, 2)
                if t1 and t2:
                    parts.append(f"{LABELS[s]} {t1 / t2:.2f}x")
            if parts:
                print(f"    {label:36s} " + ", ".join(parts))
    for t in args.threads:
        f32, f64 = get(results, "mnist_train", "nnfast", t), get(results, "mnist_train_f64", "nnfast", t)
        g32, g64 = get(results, "mnist_train", "floor", t), get(results, "mnist_train_f64", "floor", t)
        if f32 and f64:
            print(f"  float64 / float32, {t} thread(s): nnfast {f64 / f32:.2f}x, BLAS floor {g64 / g32:.2f}x")

    flagged = [(k, sys_, t, m["others_cores"]) for k, per in results.items() for sys_, v in per.items()
               for t, m in v.items() if m.get("others_cores") is not None and m["others_cores"] > BUSY_CORES]
    if flagged:
        print(f"  * {len(flagged)} measurement(s) ran while other processes used more than {BUSY_CORES} cores "
              f"(worst {max(f[3] for f in flagged):.2f}): those numbers are disturbed; rerun on a quiet machine.")
    elif MONITOR.available:
        print(f"  No measurement saw other processes use more than {BUSY_CORES} cores.")
    print(f"  load average at the end: {load_average()}")
    if source_state() != source:
        print(f"  WARNING: the nnfast checkout changed during the run (now: {source_state()}); this process kept the "
              f"core it loaded at the start, but the fresh-process runs may have loaded another. Rerun.")

    found = targets(results, args.threads)
    print()
    print("Targets" + (" (--quick: not meaningful)" if args.quick else "") + ":")
    print_targets(found)

    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    json_path, png_path = args.out / f"peers{suffix}.json", args.out / f"peers{suffix}.png"
    report = {
        "quick": args.quick,
        "threads": args.threads,
        "environment": {
            "python": platform.python_version(), "numpy": np.__version__, "nnfast": nf.__version__,
            "torch": torch.__version__ if torch else None, "sklearn": sklearn.__version__ if sklearn else None,
            "onnxruntime": onnxruntime.__version__ if onnxruntime else None,
            "cpu": cpu_name(), "cpu_count": os.cpu_count(), "env": env, "nnfast_blas": nf.blas_info(),
            "nnfast_source": source, "busy_threshold_cores": BUSY_CORES,
            "blas_by_system": blas_map, "libraries": libs, "thread_pools": extras.get("thread_pools", {}),
        },
        "config": asdict(cfg),
        "notes": notes,
        "results": {k: {s: {str(t): m for t, m in v.items()} for s, v in per.items()} for k, per in results.items()},
        "targets": [asdict(tg) for tg in found],
        "machine_limit": limits,
        "gemm_rates": {"sgemm": {str(t): m for t, m in extras.get("sgemm_rate", {}).items()},
                       "dgemm": {str(t): m for t, m in extras.get("dgemm_rate", {}).items()}},
        "wall_seconds": time.perf_counter() - began,
    }
    json_path.write_text(json.dumps(report, indent=1))
    print()
    print(f"wrote {json_path}")
    note = plot(results, args.threads, systems, png_path)
    print(note if note else f"wrote {png_path}")
    print(f"total {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
