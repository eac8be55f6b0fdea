#!/usr/bin/env python
"""Times one-row classification through nnfast's pybind11 core, a minimal pybind11
binding and a Cython binding of the same C++ forward pass (bench/binding_probe/README.md).

    python bench/binding_probe/build.py     # once (needs Cython: pip install cython)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE chrt -f 10 python bench/binding_probe/run.py

For each network (64-64-10, 784-256-128-10; float32, trained one epoch as bench/breakdown.py
does) the probes build their own Network<float> from the model's parameters and
standardization; every variant must give every test row the label model.predict gives
(asserted). Each variant is timed as the best of 7 means of 20,000 calls (timeit's
compiled loop around time.perf_counter_ns), the variants alternating within each of
the 7 rounds, at one thread and at the default thread count (nnfast's and both probes'
set alike: each extension module has its own copy of the core's thread setting).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import timeit
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/ (peers)
import nnfast as nf  # noqa: E402  (first: it loads the BLAS the probes link)
from peers import make_data  # noqa: E402

sys.path.insert(0, str(HERE))
try:
    from _cy_probe import CyProbe, set_num_threads as cy_threads  # noqa: E402
    from _pb_probe import PbProbe, set_num_threads as pb_threads  # noqa: E402
except ImportError as e:
    sys.exit(f"{e}: build the probes first: python {HERE / 'build.py'}")

NETS = ((64, 64, 10), (784, 256, 128, 10))
# name, statement (timeit compiles it into its loop), what it is
VARIANTS = [
    ("model.predict(x)", "model.predict(x)", "(d) public API, end to end"),
    ("core.predict_classes(x, False, True)", "core.predict_classes(x, False, True)",
     "(a) nnfast's pybind11 core as shipped: the call model.predict makes (returns an int64 array)"),
    ("pb.predict_row(x)", "pb.predict_row(x)", "(b) minimal pybind11, buffer protocol, returns an int"),
    ("pb.predict_row_array_t(x)", "pb.predict_row_array_t(x)", "(b') minimal pybind11, py::array_t caster"),
    ("cy.predict_row(x)", "cy.predict_row(x)", "(c) Cython, buffer protocol, returns an int"),
    ("cy.predict_row_memoryview(x)", "cy.predict_row_memoryview(x)", "(c') Cython, typed memoryview"),
    ("pb.predict(x, classes)", "pb.predict(x, classes)",
     "(e') model.predict's one-row path whole in pybind11 (checks, call, label array)"),
    ("cy.predict(x, classes)", "cy.predict(x, classes)",
     "(e) model.predict's one-row path whole in Cython (checks, call, label array)"),
    ("C++ forward, C loop", "floor", "(f) classify_row alone, no binding: the floor under (a)-(e)"),
    ("model._checked(x)", "model._checked(x)", "Python input check (the slow path: columns, check_matrix)"),
    ("labels[index]", "labels[index]", "label decoding classes[index], 10 string labels"),
    ("pass", "pass", "the timing loop alone"),
]


def build(dims):
    X, y = make_data(2000, dims[0], dims[-1], 0)
    hp = nf.Hyperparameters(hidden=dims[1:-1], epochs=1, dtype="float32")
    model, _ = nf.train(hp, X, y, verbose=False)
    core = model._net
    layers = core.layers
    scaling = core.standardization()
    mean, std = (None, None) if scaling is None else scaling
    args = (core.inputs, [s.units for s in layers], [int(s.activation) for s in layers], [s.alpha for s in layers],
            np.array(core.params), mean, std)
    return model, X, PbProbe(*args), CyProbe(*args)


def check_same(model, X, pb, cy) -> int:
    """Every variant's label of each of 200 rows equals model.predict's; returns the row count."""
    core = model._net
    rows = [np.ascontiguousarray(X[i:i + 1]) for i in range(200)]
    for x in rows:
        label = int(model.predict(x)[0])
        got = [int(core.predict_classes(x, False, True)[0]), pb.predict_row(x), pb.predict_row_array_t(x),
               cy.predict_row(x), cy.predict_row_memoryview(x), int(pb.predict(x, None)[0]),
               int(cy.predict(x, None)[0])]
        assert got == [label] * len(got), (label, got)
    return len(rows)


def time_all(env, rounds=7, number=20_000):
    """Best over `rounds` of the mean ns per call over `number` calls; variants alternate within a round."""
    cy, x = env["cy"], env["x"]

    class Floor:  # the C loop, timed inside the probe, in the same rounds as the rest
        def timeit(self, n):
            return cy.time_forward(x, n) * n

    timers = [(name, Floor() if stmt == "floor" else timeit.Timer(stmt, timer=time.perf_counter_ns, globals=env))
              for name, stmt, _ in VARIANTS]
    for _, t in timers:
        t.timeit(2000)  # warm: buffers, the partner thread, caches
    best = {name: float("inf") for name, _ in timers}
    for r in range(rounds):
        order = timers if r % 2 == 0 else timers[::-1]
        for name, t in order:
            best[name] = min(best[name], t.timeit(number) / number)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--number", type=int, default=20_000, help="calls per mean")
    ap.add_argument("--rounds", type=int, default=7, help="means per variant (the best is kept)")
    args = ap.parse_args()
    default_threads = nf.get_num_threads()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"python {platform.python_version()}, numpy {np.__version__}, CPU {cpu}, {os.cpu_count()} CPUs; "
          f"nnfast {nf.__version__}, BLAS {nf.blas_info()}")
    print(f"scheduling: {os.sched_getscheduler(0)} (1 = SCHED_FIFO), priority {os.sched_getparam(0).sched_priority}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}")
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    results = {}
    for dims in NETS:
        model, X, pb, cy = build(dims)
        checked = check_same(model, X, pb, cy)
        x = np.ascontiguousarray(X[:1])
        labels = np.array([f"class-{k}" for k in range(dims[-1])])
        env = dict(model=model, core=model._net, pb=pb, cy=cy, x=x, classes=None, labels=labels,
                   index=model._net.predict_classes(x, False, True))
        assert model._labels[2] is None, "the test labels are 0..n-1: model.predict decodes nothing"
        for threads in sorted({1, default_threads}):
            nf.set_num_threads(threads)
            pb_threads(threads)
            cy_threads(threads)
            best = time_all(env, args.rounds, args.number)
            results[dims, threads] = best
            net = "-".join(map(str, dims))
            print(f"\n== {net}, float32, {threads} thread(s); labels agree on {checked} rows; "
                  f"best of {args.rounds} means of {args.number} calls; load average now "
                  + "%.2f %.2f %.2f" % os.getloadavg() + " ==")
            for name, _, what in VARIANTS:
                print(f"  {name:40s} {best[name]:8.0f} ns   {what}")
            total, shipped = best["model.predict(x)"], best["core.predict_classes(x, False, True)"]
            print(f"  Python side of model.predict (d - a): {total - shipped:.0f} ns, {100 * (total - shipped) / total:.0f}% "
                  f"of the call; Cython (c) - pybind11 (b): {best['cy.predict_row(x)'] - best['pb.predict_row(x)']:+.0f} ns; "
                  f"(e) - (e'): {best['cy.predict(x, classes)'] - best['pb.predict(x, classes)']:+.0f} ns; "
                  f"(e) - (d): {best['cy.predict(x, classes)'] - total:+.0f} ns")
        nf.set_num_threads(default_threads)
    print("\nload average at end: %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
