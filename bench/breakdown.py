#!/usr/bin/env python
"""Where nnfast's time goes: its training batch and its single-sample predict, taken apart.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/breakdown.py [--threads 1 2] [--quick]

Training: the real epoch (nnfast._core.Network32.train_epoch, what nf.train runs) is
timed per batch at each thread count, then every step of one batch is re-run on its own,
on one thread, through the nnfast._core kernels with the same shapes: gather, the GEMMs, bias + activation, the
loss, the activation derivatives, the optimizer step. Each kernel call from Python
pays a binding cost that the C++ loop does not; it is measured on 1x1 shapes and
subtracted ("C++ est."). The same epoch with plain SGD instead of Adam shows the
optimizer's share inside the real loop, without the binding.

The epoch itself, at the per-thread split sizes, in one process: bench/epoch_probe.cpp
(compiled here with setup.py's flags) runs Network::train_epoch and the same epoch rebuilt
from the core's own functions with a timer per phase: the GEMMs (and their rate against a
2048^3 SGEMM on one core, in the same process), gathers, bias + activations, the loss, the
bias row sums, activation derivatives, barriers, the reduction of the per-thread gradients
and the Adam step. Fractions of the epoch; `--probe-only` runs just that.

Predict: model.predict on one row, split into the input check, the core forward pass
and the label decoding, and the core pass split into its per-layer GEMVs.

First it shows OpenBLAS's cold-start effect on the biggest GEMM of the MNIST batch (see
peers.prime_openblas), then primes OpenBLAS, so everything after is in the steady state.
It never changes the thread count of nnfast's BLAS (nnfast manages it).
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path
from typing import Callable, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nnfast as nf  # noqa: E402
from nnfast import _core  # noqa: E402
from nnfast._validation import check_matrix  # noqa: E402
from peers import FULL, QUICK, Net, make_data, prime_openblas, set_threads  # noqa: E402

A = _core.Activation


def blas_threads() -> int:
    """Threads of nnfast's BLAS as the core leaves them (cores that run their own threads keep it at 1)."""
    return _core.blas_threads() if hasattr(_core, "blas_threads") else nf.get_num_threads()


def per_call(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best over `repeat` of the mean seconds per call over `number` calls."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def core_network(net: Net, optimizer, seed: int = 0):
    model = nf.Sequential([nf.Dense(u, "relu") for u in net.dims[1:-1]] + [nf.Dense(net.dims[-1], "softmax")],
                          inputs=net.dims[0], seed=seed)
    core = model._net  # the C++ network nf.train drives
    core.configure(optimizer.config())
    core.reseed(seed)
    return model, core


def epoch_seconds(net: Net, X: np.ndarray, Y: np.ndarray, optimizer, repeats: int, shuffle: bool = True) -> float:
    best = float("inf")
    for r in range(repeats + 1):  # the first is a warm-up
        _, core = core_network(net, optimizer)
        start = time.perf_counter()
        for _ in range(net.epochs):
            core.train_epoch(X, Y, None, net.batch, shuffle, _core.Loss.cross_entropy, _core.Metric.accuracy)
        if r:
            best = min(best, time.perf_counter() - start)
    return best


def batch_components(net: Net, X: np.ndarray, Y: np.ndarray, calls: int) -> List[Tuple[str, float, float]]:
    """(component, seconds per batch through Python, estimated C++ seconds) for one full batch."""
    B, dims = net.batch, net.dims
    L = len(dims) - 1
    rng = np.random.default_rng(0)
    model, core = core_network(net, nf.Adam())
    params = model.parameters()
    W = [params[f"W{l + 1}"] for l in range(L)]
    b = [params[f"b{l + 1}"] for l in range(L)]
    idx = rng.permutation(len(X))[:B]
    xb = np.empty((B, dims[0]), np.float32)
    yb = np.empty((B, dims[-1]), np.float32)
    acts = [xb]
    for l in range(L - 1):
        acts.append(_core.bias_activation_forward(_core.dense_forward(acts[-1], W[l]), b[l], A.relu, 0.0))
    z = np.ascontiguousarray(_core.dense_forward(acts[-1], W[-1]))
    a_out = _core.bias_activation_forward(z, b[-1], A.softmax, 0.0)
    np.take(X, idx, axis=0, out=xb)
    np.take(Y, idx, axis=0, out=yb)
    _, dz_out = _core.loss_forward_backward(_core.Loss.cross_entropy, A.softmax, 0.0, z, a_out, yb, None, True, 1 / B)
    deltas = [np.ascontiguousarray(rng.standard_normal((B, d)) * 1e-3, dtype=np.float32) for d in dims[1:]]
    n = core.n_params
    p, g = core.params.copy(), (rng.standard_normal(n) * 1e-3).astype(np.float32)
    s1, s2 = np.zeros(n, np.float32), np.abs(g) * 1e-3
    cfg = nf.Adam().config()

    # binding cost of each kind of call, on 1x1 shapes (it includes a trivial kernel)
    t1 = np.ones((1, 1), np.float32)
    t2 = np.ones((2, 1), np.float32)
    one = np.ones(1, np.float32)
    overhead = {
        "dense_forward": per_call(lambda: _core.dense_forward(t2, t1), calls * 10),
        "dense_backward": per_call(lambda: _core.dense_backward(t2, t2, t1, True), calls * 10),
        "bias_act": per_call(lambda: _core.bias_activation_forward(t1, one, A.relu, 0.0), calls * 10),
        "act_back": per_call(lambda: _core.activation_backward(t1, t1, A.relu, 0.0), calls * 10),
        "loss": per_call(lambda: _core.loss_forward_backward(_core.Loss.cross_entropy, A.softmax, 0.0, t1, t1, t1,
                                                             None, True, 1.0), calls * 10),
        "opt": per_call(lambda: _core.optimizer_step(cfg, one, one, one.copy(), one.copy(), 1, 1), calls * 10),
        "take": per_call(lambda: np.take(t1, [0], axis=0, out=t1), calls * 10),
    }

    out: List[Tuple[str, float, float]] = []

    def add(name: str, kind: str, fn: Callable[[], object], count: int = 1) -> None:
        raw = per_call(fn, calls) * count
        out.append((name, raw, max(raw - overhead[kind] * count, 0.0)))

    add("gather X, Y rows (np.take ~ C++ memcpy)", "take",
        lambda: (np.take(X, idx, axis=0, out=xb), np.take(Y, idx, axis=0, out=yb)))
    for l in range(L):
        add(f"GEMM forward  L{l + 1} ({B}x{dims[l]} @ {dims[l]}x{dims[l + 1]})", "dense_forward",
            lambda l=l: _core.dense_forward(acts[l], W[l]))
    for l in range(L - 1):
        z_h = _core.dense_forward(acts[l], W[l])
        add(f"bias + relu   L{l + 1} ({B}x{dims[l + 1]})", "bias_act",
            lambda z_h=z_h, l=l: _core.bias_activation_forward(z_h, b[l], A.relu, 0.0))
    add(f"bias + softmax L{L} ({B}x{dims[-1]})", "bias_act",
        lambda: _core.bias_activation_forward(z, b[-1], A.softmax, 0.0))
    add("softmax cross-entropy + gradient", "loss",
        lambda: _core.loss_forward_backward(_core.Loss.cross_entropy, A.softmax, 0.0, z, a_out, yb, None, True, 1 / B))
    for l in range(L - 1, -1, -1):
        what = "dW, db" + (", dX" if l > 0 else "")
        add(f"GEMM backward L{l + 1} ({what})", "dense_backward",
            lambda l=l: _core.dense_backward(deltas[l], acts[l], W[l], l > 0))
        if l > 0:
            add(f"relu'         L{l} ({B}x{dims[l]})", "act_back",
                lambda l=l: _core.activation_backward(deltas[l - 1], acts[l], A.relu, 0.0))
    add(f"Adam step ({n:,} params)", "opt", lambda: _core.optimizer_step(cfg, p, g, s1, s2, core.n_weights, 10))
    return out


def training_report(net: Net, threads: int, repeats: int, calls: int) -> None:
    X, y = make_data(net.rows, net.dims[0], net.dims[-1], 0)
    Y = np.eye(net.dims[-1], dtype=np.float32)[y]
    batches = net.batches
    adam = epoch_seconds(net, X, Y, nf.Adam(), repeats)
    sgd = epoch_seconds(net, X, Y, nf.SGD(lr=1e-3), repeats)
    print(f"\n== training, {net.name}: {net.describe()}; {threads} thread(s), {batches} batches ==")
    print(f"real epoch(s), Adam: {adam * 1e3:.1f} ms = {adam / batches * 1e6:.0f} us per batch; with plain SGD: "
          f"{sgd * 1e3:.1f} ms = {sgd / batches * 1e6:.0f} us per batch (best of {repeats})")
    print(f"  -> Adam costs {(adam - sgd) / batches * 1e6:.0f} us per batch more than SGD inside the real loop")
    rows = batch_components(net, X, Y, calls)
    per_batch = adam / batches
    print(f"one batch taken apart, one kernel at a time on one thread, BLAS as nnfast sets it "
          f"(BLAS threads: {blas_threads()}) (mean per call over {calls} calls, best of 5):")
    print(f"  {'component':48s} {'via Python':>11s} {'C++ est.':>10s} {'% of batch':>10s}")
    gemm = other = 0.0
    for name, raw, est in rows:
        if name.startswith("GEMM"):
            gemm += est
        else:
            other += est
        print(f"  {name:48s} {raw * 1e6:9.1f}us {est * 1e6:8.1f}us {100 * est / per_batch:9.1f}%")
    rest = per_batch - gemm - other
    print(f"  {'GEMMs (with db row sums)':48s} {'':11s} {gemm * 1e6:8.1f}us {100 * gemm / per_batch:9.1f}%")
    print(f"  {'everything else measured':48s} {'':11s} {other * 1e6:8.1f}us {100 * other / per_batch:9.1f}%")
    print(f"  {'not accounted for (metric, shuffle, ...)':48s} {'':11s} {rest * 1e6:8.1f}us "
          f"{100 * rest / per_batch:9.1f}%")
    print(f"  {'nnfast batch':48s} {'':11s} {per_batch * 1e6:8.1f}us {100.0:9.1f}%")


PROBE_PHASES = [  # (name in epoch_probe's output, label)
    ("gemm_forward", "GEMM forward x W"),
    ("gemm_weight_grad", "GEMM dW = x^T dz"),
    ("gemm_input_grad", "GEMM dx = dz W^T (layers 2..L)"),
    ("gather", "gather rows of X, Y"),
    ("bias_activation", "bias + relu / softmax"),
    ("loss", "cross-entropy + its gradient"),
    ("bias_sum", "bias gradient row sums"),
    ("activation_backward", "relu' (activation backward)"),
    ("barrier", "barriers (waiting for the other thread)"),
    ("reduce", "gradient reduction between threads"),
    ("optimizer", "Adam step over the parameters"),
    ("metric", "accuracy sums"),
]


def build_probe() -> Path:
    """Compiles bench/epoch_probe.cpp with setup.py's flags against nnfast's OpenBLAS (once per
    source version, in the temp folder); returns the binary."""
    import hashlib
    import subprocess
    import tempfile

    import scipy_openblas32 as ob

    root = HERE.parent
    source = HERE / "epoch_probe.cpp"
    digest = hashlib.sha1(b"".join(f.read_bytes() for f in [source] + sorted((root / "csrc").glob("*.hpp"))))
    binary = Path(tempfile.gettempdir()) / f"nnfast_epoch_probe_{digest.hexdigest()[:12]}"
    if not binary.exists():
        lib = ob.get_lib_dir()
        cmd = ["g++", "-O3", "-fno-math-errno", "-fno-trapping-math", "-std=c++17", "-pthread",
               f"-I{root / 'csrc'}", f"-I{ob.get_include_dir()}", "-DNNFAST_BLAS_SCIPY_OPENBLAS=1", str(source),
               f"-L{lib}", f"-l{ob.get_library()}", f"-Wl,-rpath,{lib}", "-o", str(binary)]
        print("compiling: " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return binary


def probe_report(net: Net, threads: int, repeats: int) -> dict:
    """The epoch taken apart in C++ (bench/epoch_probe.cpp): fractions of the epoch per phase."""
    import subprocess

    cmd = [str(build_probe()), str(threads), str(net.rows), str(net.batch), str(repeats)] + [str(d) for d in net.dims]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    r = {k: float(v) for k, v in (line.split() for line in out.strip().splitlines())}
    rate, real, wall = r["square_sgemm_rate"], r["real_epoch"], r["instrumented_epoch"]
    print(f"\n== training epoch taken apart in C++ (bench/epoch_probe.cpp), {net.name}: {net.describe()}; "
          f"{threads} thread(s), best of {repeats} ==")
    print(f"real epoch (Network::train_epoch) {real * 1e3:.1f} ms; the instrumented rebuild {wall * 1e3:.1f} ms "
          f"({wall / real:.2f}x: the phases below are where the real epoch's time goes when this is near 1.00x)")
    print(f"one core's large-SGEMM rate (2048^3, this process): {rate / 1e9:.1f} GFLOP/s; seconds are per epoch, "
          f"mean over the threads; % of the instrumented epoch")
    print(f"  {'phase':44s} {'ms':>8s} {'%':>6s}  GEMM rate (% of the square SGEMM's)")
    flops = {"gemm_forward": r["flops_gemm_forward"], "gemm_weight_grad": r["flops_gemm_weight_grad"],
             "gemm_input_grad": r["flops_gemm_input_grad"]}
    total = 0.0
    for key, label in PROBE_PHASES:
        sec = r[key]
        total += sec
        extra = ""
        if key in flops and sec > 0:
            extra = f"{flops[key] / sec / 1e9:6.1f} GFLOP/s ({100 * flops[key] / sec / rate:.0f}%)"
        print(f"  {label:44s} {sec * 1e3:8.2f} {100 * sec / wall:5.1f}%  {extra}")
    gemm = sum(r[k] for k in flops)
    print(f"  {'shuffle (one thread, before the batches)':44s} {r['shuffle'] * 1e3:8.2f} {100 * r['shuffle'] / wall:5.1f}%")
    print(f"  {'not in a phase (timers, loop)':44s} {(wall - total - r['shuffle']) * 1e3:8.2f} "
          f"{100 * (wall - total - r['shuffle']) / wall:5.1f}%")
    print(f"  -> GEMMs {100 * gemm / wall:.1f}% of the epoch, everything else {100 * (1 - gemm / wall):.1f}%; all the "
          f"GEMMs' FLOPs at the square rate would take {sum(flops.values()) / rate * 1e3:.1f} ms per thread "
          f"(the limit) against {wall * 1e3:.1f} ms")
    r.update({"threads": threads, "net": net.name})
    return r


def predict_report(net: Net, threads: int, number: int) -> None:
    X, y = make_data(2000, net.dims[0], net.dims[-1], 0)
    hp = nf.Hyperparameters(hidden=net.hidden, batch_size=net.batch, epochs=1)
    model, _ = nf.train(hp, X, y, verbose=False)
    x1 = np.ascontiguousarray(X[:1])
    core = model._net
    a1 = core.predict(x1)
    targets = model._targets
    params = model.parameters()
    L = len(net.dims) - 1
    print(f"\n== single-sample predict, {'-'.join(map(str, net.dims))}; {threads} thread(s) ==")
    print(f"  (mean per call over {number} calls, best of 5)")
    parts = [
        ("model.predict(x)  [public API, total]", lambda: model.predict(x1)),
        ("  check_matrix(x)  [input check]", lambda: check_matrix(x1, "X", np.float32, net.dims[0])),
        ("    of which all_finite: x.min(), x.max()", lambda: np.isfinite(x1.min()) and np.isfinite(x1.max())),
        ("  core predict (pybind11 + C++ forward)", lambda: core.predict(x1)),
        ("  decode (argmax, classes_[...])", lambda: targets.decode(a1)),
    ]
    for l in range(L):
        W = params[f"W{l + 1}"]
        xin = np.ones((1, W.shape[0]), np.float32)
        parts.append((f"    layer {l + 1} GEMV {W.shape[0]}x{W.shape[1]} ({W.nbytes / 1024:.0f} KB of W), via "
                      f"dense_forward", lambda xin=xin, W=W: _core.dense_forward(xin, W)))
    t1 = np.ones((2, 1), np.float32)
    parts.append(("    binding cost of one dense_forward call (1x1)", lambda: _core.dense_forward(t1[:1], t1[:1])))
    measured = {}
    for name, fn in parts:
        measured[name] = per_call(fn, number)
        print(f"  {name:62s} {measured[name] * 1e6:8.2f} us")
    total, core_call = measured[parts[0][0]], measured[parts[3][0]]
    print(f"  Python side of model.predict (total - core call): {(total - core_call) * 1e6:.2f} us, "
          f"{100 * (total - core_call) / total:.0f}% of the call")
    W1 = params["W1"]
    gemv = per_call(lambda: _core.dense_forward(x1, W1), number)
    print(f"  layer-1 GEMV streams its weights at {W1.nbytes / gemv / 1e9:.1f} GB/s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    ap.add_argument("--probe-only", action="store_true",
                    help="only the C++ epoch breakdown (bench/epoch_probe.cpp), not the Python kernels and predict")
    ap.add_argument("--no-kernels", action="store_true",
                    help="skip the Python per-kernel batch breakdown (the C++ one and predict still run)")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    print(f"nnfast breakdown; BLAS: {nf.blas_info()}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    w = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    set_threads(1)
    cold = per_call(lambda: _core.dense_forward(x, w), 20, 3)
    prime_openblas()
    warm = per_call(lambda: _core.dense_forward(x, w), 20, 3)
    print(f"GEMM 128x784 @ 784x256, BLAS threads {blas_threads()}: {cold * 1e6:.0f} us in this fresh process, "
          f"{warm * 1e6:.0f} us after one 1024^3 GEMM ({cold / warm:.1f}x)")
    for t in args.threads:
        probe_report(cfg.mnist, t, repeats=1 if args.quick else 3)
    if args.probe_only:
        return 0
    for t in args.threads:
        set_threads(t)
        if not args.no_kernels:
            for net in (cfg.mnist, cfg.small):
                training_report(net, t, repeats=1 if args.quick else 3, calls=50 if args.quick else 400)
        for net in (cfg.mnist, cfg.small):
            predict_report(net, t, number=200 if args.quick else 5000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
