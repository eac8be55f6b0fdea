"""nnfast's own threads: a batch split over threads trains the same network, reproducibly."""

import multiprocessing
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import nnfast as nf


@pytest.fixture
def threads():
    """Sets nnfast's thread count for one test and restores it."""
    before = nf.get_num_threads()
    yield nf.set_num_threads
    nf.set_num_threads(before)


def wide_problem(n=1024, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 64))
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + 2 * (X[:, 3] > 0)
    return X, y


def train(threads_setting, set_threads, dtype="float64", dropout=False, **fit):
    """A network wide enough for the batch to be split (about 11M multiply-adds per batch)."""
    set_threads(threads_setting)
    X, y = wide_problem()
    middle = [nf.Dropout(0.3)] if dropout else []
    model = nf.Sequential([nf.Dense(256, "relu"), *middle, nf.Dense(256, "tanh"), nf.Dense(4, "softmax")],
                          inputs=64, seed=1, dtype=dtype)
    history = model.fit(X, y, epochs=3, batch_size=128, verbose=False, **fit)
    return model, history


@pytest.mark.parametrize("fit", [{}, {"clip_norm": 0.5, "l2": 1e-3, "l1": 1e-4}, {"optimizer": nf.SGD(0.05, 0.9)}],
                         ids=["adam", "clipped-penalised", "momentum"])
def test_two_threads_compute_the_same_training_run(threads, fit):
    one, h1 = train(1, threads, **fit)
    two, h2 = train(2, threads, **fit)
    assert one._net.last_threads == 1 and two._net.last_threads == 2
    for key, value in one.parameters().items():  # the same sums, added in another order
        np.testing.assert_allclose(two.parameters()[key], value, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-9)
    np.testing.assert_allclose(h2["accuracy"], h1["accuracy"])


def test_threaded_runs_are_reproducible_with_dropout(threads):
    a, _ = train(2, threads, dtype="float32", dropout=True)
    b, _ = train(2, threads, dtype="float32", dropout=True)
    assert a._net.last_threads == 2
    for key, value in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[key], value)


def test_threaded_prediction_and_evaluation_match_one_thread(threads):
    model, _ = train(1, threads)
    X, y = wide_problem(3000, seed=5)
    threads(1)
    proba, scores = model.predict_proba(X), model.evaluate(X, y)
    threads(2)
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    two = model.evaluate(X, y)
    assert two["accuracy"] == scores["accuracy"] and two["loss"] == pytest.approx(scores["loss"], rel=1e-12)


def test_divergence_is_caught_in_a_threaded_epoch(threads):
    with pytest.warns(nf.DivergenceWarning):
        model, history = train(2, threads, optimizer=nf.SGD(lr=1e6))
    assert history.stop_reason == "diverged" and all(np.isfinite(v).all() for v in model.parameters().values())


def _train_in_child(queue):
    X, y = wide_problem(512)
    model = nf.Sequential([nf.Dense(256, "relu"), nf.Dense(4, "softmax")], inputs=64, seed=0)
    model.fit(X, y, epochs=1, batch_size=256, verbose=False)
    queue.put(model._net.last_threads)


def in_forked_child(target):
    """What target(queue) put in its queue, run in a forked child that must exit cleanly."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=target, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0, "the child hung or failed"
    return queue.get(timeout=5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_can_train_with_threads(threads):
    train(2, threads)  # the parent's pool has workers now
    assert in_forked_child(_train_in_child) == 2


@pytest.mark.parametrize("env, expected", [
    ({"OMP_NUM_THREADS": "1"}, "1"),                            # what joblib's workers set
    ({"NNFAST_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, "3"),  # nnfast's own variable wins
    ({"NNFAST_NUM_THREADS": "two"}, str(nf.usable_cpus())),     # not a number: the usable CPUs
    ({"NNFAST_NUM_THREADS": "100000"}, str(nf._core.max_threads())),  # far too many: the most allowed
])
def test_default_thread_count_follows_the_environment(env, expected, tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "NNFAST_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", "import nnfast; print(nnfast.get_num_threads())"],
                         env={**base, **env}, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.strip() == expected


def thread_count_in_child(tmp_path, env=None, cpus=None, code="import nnfast; print(nnfast.get_num_threads())"):
    """What `code` prints in a fresh interpreter, restricted to `cpus` before nnfast loads."""
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "NNFAST_NUM_THREADS")}
    if cpus is not None:
        code = f"import os; os.sched_setaffinity(0, {sorted(cpus)!r}); " + code
    return subprocess.run([sys.executable, "-c", code], env={**base, **(env or {})}, cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout.strip()


needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable CPUs")


@needs_two_cpus
def test_the_default_follows_the_affinity_mask_not_the_core_count(tmp_path):
    """Under `taskset -c 0` nnfast ran 2 threads on 1 CPU, 1.4x slower than one."""
    first = min(os.sched_getaffinity(0))
    assert thread_count_in_child(tmp_path, cpus={first}) == "1"
    code = "import nnfast; print(nnfast.get_num_threads(), nnfast.usable_cpus())"
    assert thread_count_in_child(tmp_path, cpus={first}, code=code) == "1 1"
    # the environment still wins
    assert thread_count_in_child(tmp_path, {"NNFAST_NUM_THREADS": "2"}, cpus={first}) == "2"
    assert thread_count_in_child(tmp_path, {"OMP_NUM_THREADS": "2"}, cpus={first}) == "2"


@needs_two_cpus
@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_under_taskset_one_cpu_means_one_thread(tmp_path):
    first = min(os.sched_getaffinity(0))
    out = subprocess.run(["taskset", "-c", str(first), sys.executable, "-c",
                          "import nnfast; print(nnfast.get_num_threads())"],
                         env={k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "NNFAST_NUM_THREADS")},
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_set_num_threads_refuses_far_more_threads_than_cpus(threads):
    most = nf._core.max_threads()
    assert most == min(256, 4 * nf.usable_cpus())
    for n in (most + 1, 512, 10**6):
        with pytest.raises(ValueError, match=rf"between 1 and {most} \(4 per CPU"):
            nf.set_num_threads(n)
    with pytest.raises(ValueError):
        nf.set_num_threads(0)
    with pytest.raises(TypeError):
        nf.set_num_threads(2.0)
    threads(most)
    assert nf.get_num_threads() == most


def write_tree(root, files):
    for name, text in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


V2_MOUNTS = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
V1_MOUNTS = ("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
             "32 31 0:29 /outer /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
             "33 31 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n")


@pytest.mark.parametrize("files, expected", [
    ({}, 0.0),  # no /proc, no cgroups: no quota
    ({"/proc/self/mountinfo": V2_MOUNTS, "/proc/self/cgroup": "0::/app/worker\n",
      "/sys/fs/cgroup/app/worker/cpu.max": "max 100000\n"}, 0.0),  # unlimited
    ({"/proc/self/mountinfo": V2_MOUNTS, "/proc/self/cgroup": "0::/app/worker\n",
      "/sys/fs/cgroup/app/worker/cpu.max": "150000 100000\n"}, 1.5),
    ({"/proc/self/mountinfo": V2_MOUNTS, "/proc/self/cgroup": "0::/app/worker\n",  # the parent is tighter
      "/sys/fs/cgroup/app/worker/cpu.max": "400000 100000\n", "/sys/fs/cgroup/app/cpu.max": "50000 100000\n"},
     0.5),
    ({"/proc/self/mountinfo": V1_MOUNTS, "/proc/self/cgroup": "5:cpuset:/\n4:cpu,cpuacct:/outer/job\n",
      "/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us": "250000\n",
      "/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us": "100000\n"}, 2.5),  # below the mount's root
    ({"/proc/self/mountinfo": V1_MOUNTS, "/proc/self/cgroup": "4:cpu,cpuacct:/outer/job\n",
      "/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us": "-1\n",
      "/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us": "100000\n"}, 0.0),
], ids=["none", "v2-max", "v2-quota", "v2-parent", "v1-quota", "v1-unlimited"])
def test_the_cgroup_cpu_quota_is_read_from_v1_and_v2_files(tmp_path, files, expected):
    write_tree(tmp_path, files)
    assert nf._core.cgroup_cpu_limit(str(tmp_path)) == pytest.approx(expected)


def cpu_cgroup_dir():
    """A fresh cgroup with a CPU quota of half a CPU, and how to join it; None when this
    process cannot make one (not root, no writable cpu controller)."""
    for base, v2 in (("/sys/fs/cgroup/cpu", False), ("/sys/fs/cgroup", True)):
        probe = os.path.join(base, "cpu.max" if v2 else "cpu.cfs_quota_us")
        if not os.path.exists(probe) and not (v2 and os.path.exists(os.path.join(base, "cgroup.controllers"))):
            continue
        path = os.path.join(base, f"nnfast-test-{os.getpid()}")
        try:
            os.mkdir(path)
        except OSError:
            continue
        try:
            if v2:
                with open(os.path.join(path, "cpu.max"), "w") as f:
                    f.write("50000 100000")
            else:
                with open(os.path.join(path, "cpu.cfs_quota_us"), "w") as f:
                    f.write("50000")
            return path
        except OSError:
            os.rmdir(path)
    return None


def test_the_default_follows_a_real_cgroup_cpu_quota(tmp_path):
    path = cpu_cgroup_dir()
    if path is None:
        pytest.skip("cannot create a cgroup with a CPU quota here")
    code = (f"import os; open({os.path.join(path, 'cgroup.procs')!r}, 'w').write(str(os.getpid())); "
            "import nnfast; print(nnfast.get_num_threads(), nnfast.usable_cpus())")
    try:
        assert thread_count_in_child(tmp_path, code=code) == "1 1"
    finally:
        os.rmdir(path)


THREADPOOLCTL_CHILD = """
import sys
import time
import nnfast as nf
imported_by_nnfast = "threadpoolctl" in sys.modules
from threadpoolctl import threadpool_info, threadpool_limits
ours = [i for i in threadpool_info() if i["internal_api"] == "nnfast"]
nf.set_num_threads(2)
with threadpool_limits(limits=1):
    inside = nf.get_num_threads()
with threadpool_limits(limits=1, user_api="nnfast"):
    inside_api = nf.get_num_threads()
print(imported_by_nnfast, len(ours), ours[0]["num_threads"], ours[0]["version"] == nf.__version__, inside,
      inside_api, nf.get_num_threads())
"""


@pytest.mark.parametrize("order", ["nnfast-first", "threadpoolctl-first"])
def test_threadpoolctl_sees_and_limits_nnfast_threads(tmp_path, order):
    tpc = pytest.importorskip("threadpoolctl")
    if not hasattr(tpc, "register"):
        pytest.skip("threadpoolctl < 3.5 takes no custom controllers")
    code = ("import threadpoolctl\n" if order == "threadpoolctl-first" else "") + THREADPOOLCTL_CHILD
    out = thread_count_in_child(tmp_path, {"NNFAST_NUM_THREADS": "2"}, code=code)
    assert out == f"{order == 'threadpoolctl-first'} 1 2 True 1 1 2"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_row_through_a_wide_layer_is_the_same_whichever_core_helps(threads, dtype):
    """One row through a layer of >= 65,536 weights is split between two cores (the
    partner thread) when it is awake: the result must not depend on whether it helped."""
    r = np.random.default_rng(3)
    X = r.normal(size=(64, 300))
    model = nf.Sequential([nf.Dense(256, "relu"), nf.Dense(10, "softmax")], inputs=300, seed=2, dtype=dtype)
    model.fit(X, np.arange(64) % 10, epochs=1, verbose=False)
    rows = [np.ascontiguousarray(X[i:i + 1], dtype=dtype) for i in range(len(X))]
    threads(1)
    alone = [model.predict_proba(x) for x in rows]
    threads(2)
    before, deadline = nf._core.partner_tasks(), time.monotonic() + 20
    while nf._core.partner_tasks() == before and time.monotonic() < deadline:  # a stream wakes the partner
        for x, expected in zip(rows, alone):
            np.testing.assert_array_equal(model.predict_proba(x), expected)
    if nf._core.partner_tasks() == before:  # it runs only on a core of its own
        pytest.skip("the machine was too busy to give the partner thread a core in 20 s")
    for x, expected in zip(rows, alone):
        np.testing.assert_array_equal(model.predict_proba(x), expected)
    # and it is the network's output: the batch path (GEMM) agrees to rounding
    np.testing.assert_allclose(np.vstack(alone), model.predict_proba(X.astype(dtype)),
                               rtol=1e-4 if dtype == "float32" else 1e-12, atol=1e-7)


def _predict_rows_in_child(queue):
    nf.set_num_threads(2)
    X = np.random.default_rng(4).normal(size=(8, 300)).astype(np.float32)
    model = nf.Sequential([nf.Dense(256), nf.Dense(3, "softmax")], inputs=300, seed=0)
    model.fit(X, np.arange(8) % 3, epochs=1, verbose=False)
    queue.put([model.predict_proba(X[i % 8:i % 8 + 1]).tolist() for i in range(3000)][-8:])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_predicts_one_row_after_the_parent_woke_its_partner(threads):
    threads(2)
    model = nf.Sequential([nf.Dense(256), nf.Dense(2, "softmax")], inputs=300, seed=0)
    x = np.ones((1, 300), np.float32)
    model.fit(np.vstack([x, -x]), [0, 1], epochs=1, verbose=False)
    for _ in range(3000):  # the parent's partner is awake (or resting) now
        model.predict_proba(x)
    assert len(in_forked_child(_predict_rows_in_child)) == 8


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 2])
def test_one_row_through_a_wide_layer_of_one_input_is_the_batch_result(threads, dtype, n):
    """A layer of one input and >= 65,536 units has no two halves of its inputs to split:
    splitting at k = 0 asked the BLAS for an empty product, which leaves its output
    unwritten (stale values of the previous row came back, and added up)."""
    model = nf.Sequential([nf.Dense(65536, "tanh"), nf.Dense(1)], inputs=1, seed=0, dtype=dtype)
    X = np.array([[1.0], [2.0], [-0.5]], dtype)
    threads(n)
    batch = model.forward(X)
    for _ in range(3):
        rows = np.vstack([model.forward(X[i:i + 1]) for i in range(len(X))])
        np.testing.assert_allclose(rows, batch, rtol=1e-5 if dtype == "float32" else 1e-12)
