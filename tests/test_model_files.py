"""Model files that are damaged, edited or not files at all fail at load with a ValueError
naming what is wrong, bounded in time and memory; saving keeps permissions and never
leaves more than one orphan temporary behind."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nnfast as nf

HEADER, LAYER = 40, 32


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class ModelBytes:
    """A model file taken apart, edited, and put together with a valid checksum: the
    checksum guards against damage, these edits stand for a hostile or careless editor."""

    def __init__(self, raw: bytes):
        self.head = bytearray(raw[:HEADER])
        n_layers = int.from_bytes(raw[16:20], "little")
        json_bytes = int.from_bytes(raw[24:32], "little")
        self.table = bytearray(raw[HEADER:HEADER + LAYER * n_layers])
        start = HEADER + LAYER * n_layers
        self.doc = json.loads(raw[start:start + json_bytes])
        self.tail = bytearray(raw[(start + json_bytes + 7) // 8 * 8:-8])  # parameters [, mean, std]
        self.pad_byte = 0

    def bytes(self, doc_text: "bytes | None" = None) -> bytes:
        text = doc_text if doc_text is not None else json.dumps(self.doc).encode()
        head = bytearray(self.head)
        head[24:32] = len(text).to_bytes(8, "little")
        body = bytes(head) + bytes(self.table) + text
        pad = (-len(body)) % 8
        body += bytes([self.pad_byte]) * pad + bytes(self.tail)
        return body + fnv1a(body).to_bytes(8, "little")

    def set_layer(self, l: int, offset: int, value: bytes) -> "ModelBytes":
        self.table[LAYER * l + offset:LAYER * l + offset + len(value)] = value
        return self


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A trained classifier with string labels, dropout, leaky_relu and standardisation:
    every part of the format, in about 1.5 KB."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.array(["a", "b", "c"])[np.arange(120) % 3]
    model = nf.Sequential([nf.Dense(4, "leaky_relu", alpha=0.2), nf.Dropout(0.25), nf.Dense(3, "softmax")],
                          inputs=3, seed=1)
    model.fit(X, y, epochs=1, standardize=True, l2=1e-3, verbose=False)
    path = tmp_path_factory.mktemp("small") / "m.nnf"
    model.save(path)
    return model, path.read_bytes(), X


def f32(x: float) -> bytes:
    return np.float32(x).tobytes()


def huge_integer(raw: bytes) -> bytes:
    """The file with its seed written as an integer of 5000 digits (more than Python's
    int() converts from text by default)."""
    m = ModelBytes(raw)
    m.doc["seed"] = "SEED"
    return m.bytes(json.dumps(m.doc).encode().replace(b'"SEED"', b"9" * 5000))


def edits(raw: bytes):
    """(name, file bytes, what the error must mention) for every field of the document
    and the binary part, each edited on its own with the checksum made valid again."""
    def doc(change):
        m = ModelBytes(raw)
        change(m.doc)
        return m.bytes()

    def t(change):  # an edit of the targets
        return doc(lambda d: change(d["targets"]))

    out = [
        ("json array", ModelBytes(raw).bytes(b"[]"), "document"),
        ("json not utf-8", ModelBytes(raw).bytes(b'{"format": "\xff"}'), "utf-8"),
        ("json nested deeply", ModelBytes(raw).bytes(b"[" * 100000 + b"]" * 100000), "document"),
        ("json integer of 5000 digits", huge_integer(raw), "document"),
        ("json not json", ModelBytes(raw).bytes(b"{nope"), "document"),
        ("format", doc(lambda d: d.update(format="pickle")), "format"),
        ("missing key", doc(lambda d: d.pop("penalty")), "'penalty'"),
        ("unknown key", doc(lambda d: d.update(extra=1)), "'extra'"),
        ("nnfast_version", doc(lambda d: d.update(nnfast_version=3)), "nnfast_version"),
        ("dtype other scalar", doc(lambda d: d.update(dtype="float64")), "'dtype'"),
        ("dtype unknown", doc(lambda d: d.update(dtype="float16")), "'dtype'"),
        ("seed negative", doc(lambda d: d.update(seed=-1)), "'seed'"),
        ("seed float", doc(lambda d: d.update(seed=1.5)), "'seed'"),
        ("init", doc(lambda d: d.update(init="magic")), "'init'"),
        ("init_scale nan", doc(lambda d: d.update(init_scale=float("nan"))), "'init_scale'"),
        ("layers empty", doc(lambda d: d.update(layers=[])), "'layers'"),
        ("layers not a list", doc(lambda d: d.update(layers={"a": 1})), "'layers'"),
        ("layer type", doc(lambda d: d["layers"][0].update(type="Conv")), "layers[0]"),
        ("layer extra key", doc(lambda d: d["layers"][0].update(kernel=3)), "layers[0]"),
        ("layer units", doc(lambda d: d["layers"][0].update(units=5)), "Dense 1"),
        ("layer units string", doc(lambda d: d["layers"][0].update(units="4")), "layers[0]"),
        ("layer activation contradicts table", doc(lambda d: d["layers"][0].update(activation="tanh")), "Dense 1"),
        ("layer alpha contradicts table", doc(lambda d: d["layers"][0].update(alpha=0.5)), "Dense 1"),
        ("layer alpha negative", doc(lambda d: d["layers"][0].update(alpha=-1.0)), "layers[0]"),
        ("dropout rate contradicts table", doc(lambda d: d["layers"][1].update(rate=0.5)), "Dense 2"),
        ("dropout rate one", doc(lambda d: d["layers"][1].update(rate=1.0)), "layers[1]"),
        ("two dropouts", doc(lambda d: d["layers"].insert(1, {"type": "Dropout", "rate": 0.1})), "layers"),
        ("loss unknown", doc(lambda d: d.update(loss="hinge")), "'loss'"),
        ("loss without targets", doc(lambda d: d.update(targets=None)), "'loss'"),
        ("loss against targets", doc(lambda d: d.update(loss="mse")), "'loss'"),
        ("penalty negative", doc(lambda d: d["penalty"].update(l1=-1.0)), "penalty.l1"),
        ("penalty infinite", doc(lambda d: d["penalty"].update(l2=float("inf"))), "penalty.l2"),
        ("penalty not an object", doc(lambda d: d.update(penalty=[0, 0])), "'penalty'"),
        ("targets not an object", doc(lambda d: d.update(targets=[])), "'targets'"),
        ("targets n_outputs infinite", t(lambda d: d.update(n_outputs=float("inf"))), "targets.n_outputs"),
        ("targets n_outputs mismatch", t(lambda d: d.update(n_outputs=4)), "targets.n_outputs"),
        ("targets loss", t(lambda d: d.update(loss="nope")), "targets.loss"),
        ("targets kind for loss", t(lambda d: d.update(kind="continuous")), "targets.kind"),
        ("targets flat", t(lambda d: d.update(flat="yes")), "targets.flat"),
        ("classes count", t(lambda d: d["classes"].update(values=["a", "b"])), "targets.classes.values"),
        ("classes unsorted", t(lambda d: d["classes"].update(values=["b", "a", "c"])), "targets.classes.values"),
        ("classes repeated", t(lambda d: d["classes"].update(values=["a", "a", "c"])), "targets.classes.values"),
        ("classes of another dtype", t(lambda d: d["classes"].update(dtype="<f8")), "targets.classes.values"),
        ("classes nan", t(lambda d: d["classes"].update(values=[0.0, 1.0, float("nan")], dtype="<f8")),
         "targets.classes.values"),
        ("classes dtype unknown", t(lambda d: d["classes"].update(dtype="zz")), "targets.classes.dtype"),
        ("classes dtype date", t(lambda d: d["classes"].update(dtype="<M8[s]")), "targets.classes.dtype"),
        ("classes missing", t(lambda d: d.update(classes=None)), "targets.classes"),
        ("classes nested", t(lambda d: d["classes"].update(values=[["a"], "b", "c"])), "targets.classes.values"),
        ("hyperparameters unknown", doc(lambda d: d.update(hyperparameters={"bogus": 1})), "hyperparameters"),
        ("hyperparameters not an object", doc(lambda d: d.update(hyperparameters=[1])), "hyperparameters"),
    ]
    for name, offset, value, mention in [
        ("alpha nan", 16, np.float64(np.nan).tobytes(), "layer_table[0].alpha"),
        ("alpha negative", 16, np.float64(-0.2).tobytes(), "layer_table[0].alpha"),
        ("activation code", 8, (99).to_bytes(4, "little"), "layer_table[0].activation"),
        ("activation contradicts json", 8, (5).to_bytes(4, "little"), "Dense 1"),
        ("softmax hidden", 8, (6).to_bytes(4, "little"), "layer_table[0].activation"),
        ("reserved", 12, (1).to_bytes(4, "little"), "reserved"),
        ("dropout nan", 24, np.float64(np.nan).tobytes(), "layer_table[0].input_dropout"),
        ("units zero", 0, (0).to_bytes(8, "little"), "layer_table[0].units"),
        ("units huge", 0, (2**40).to_bytes(8, "little"), "layer_table[0].units"),
    ]:
        out.append((f"table {name}", ModelBytes(raw).set_layer(0, offset, value).bytes(), mention))
    n_params = 3 * 4 + 4 + 4 * 3 + 3
    for name, index, value, mention in [
        ("parameter nan", 0, f32(np.nan), "parameters"),
        ("parameter infinite", 5, f32(-np.inf), "parameters"),
        ("bias nan", n_params - 1, f32(np.nan), "parameters"),
        ("mean nan", n_params, f32(np.nan), "mean"),
        ("std zero", n_params + 3, f32(0.0), "std"),
        ("std negative", n_params + 4, f32(-1.0), "std"),
        ("std without a finite inverse", n_params + 5, f32(1e-45), "std"),
    ]:
        m = ModelBytes(raw)
        m.tail[4 * index:4 * index + 4] = value
        out.append((f"binary {name}", m.bytes(), mention))
    for name, change, mention in [
        ("version", lambda h: h.__setitem__(slice(8, 12), (2).to_bytes(4, "little")), "version"),
        ("scalar size", lambda h: h.__setitem__(slice(12, 16), (8).to_bytes(4, "little")), "truncated"),
        ("scalar size odd", lambda h: h.__setitem__(slice(12, 16), (2).to_bytes(4, "little")), "scalar size"),
        ("layers zero", lambda h: h.__setitem__(slice(16, 20), (0).to_bytes(4, "little")), "layer count"),
        ("layers many", lambda h: h.__setitem__(slice(16, 20), (4000).to_bytes(4, "little")), "truncated"),
        ("flags", lambda h: h.__setitem__(slice(20, 24), (3).to_bytes(4, "little")), "flags"),
        ("not standardised", lambda h: h.__setitem__(slice(20, 24), (0).to_bytes(4, "little")), "trailing"),
        ("inputs", lambda h: h.__setitem__(slice(32, 40), (4).to_bytes(8, "little")), "truncated"),
        ("inputs zero", lambda h: h.__setitem__(slice(32, 40), (0).to_bytes(8, "little")), "input count"),
    ]:
        m = ModelBytes(raw)
        change(m.head)
        out.append((f"header {name}", m.bytes(), mention))
    m = ModelBytes(raw)
    m.pad_byte = 7
    text = json.dumps(m.doc).encode()
    if (HEADER + len(m.table) + len(text)) % 8 == 0:
        text += b" "  # so that there is padding to spoil
    out.append(("padding", m.bytes(text), "padding"))
    good = ModelBytes(raw).bytes()
    out.append(("trailing bytes", good[:-8] + b"\0" * 8 + fnv1a(good[:-8] + b"\0" * 8).to_bytes(8, "little"),
                "trailing"))
    return out


def test_the_edit_helper_reproduces_the_file(small_model):
    _, raw, _ = small_model
    assert ModelBytes(raw).bytes() == raw


def test_every_edited_field_is_a_value_error_naming_it(small_model, tmp_path):
    model, raw, X = small_model
    for name, content, mention in edits(raw):
        path = tmp_path / "edited.nnf"
        path.write_bytes(content)
        with pytest.raises(ValueError, match="not a readable nnfast model") as info:
            nf.load(path)
        assert mention.lower() in str(info.value).lower(), (name, str(info.value))
    path.write_bytes(ModelBytes(raw).bytes())  # and the helper's own output loads
    np.testing.assert_array_equal(nf.load(path).predict(X), model.predict(X))


FUZZ_CHILD = """
import json, sys
import nnfast as nf
paths = sys.argv[1:]
outcomes = {}
for path in paths:
    try:
        nf.load(path)
        outcome = "loaded"
    except ValueError:
        outcome = "ValueError"
    except BaseException as exc:
        outcome = type(exc).__name__ + ": " + str(exc)[:200]
    outcomes[path] = outcome
print(json.dumps(outcomes))
"""


def run_loads_in_child(paths, cwd):
    """Loads every path in one child process (a crash there is a failure here, not a
    crash of the test run); returns {path: outcome}."""
    out = subprocess.run([sys.executable, "-c", FUZZ_CHILD, *map(str, paths)], cwd=cwd, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, f"the loading process died ({out.returncode}): {out.stderr[-2000:]}"
    return json.loads(out.stdout)


def test_file_fuzz_truncations_flips_and_edits_fail_cleanly_in_a_child(small_model, tmp_path):
    """Every truncation of the file, 300 seeded byte flips and every field edit: each load
    is a ValueError, none crashes, hangs or loads."""
    _, raw, _ = small_model
    cases = [(f"cut{n}", raw[:n]) for n in range(len(raw))]
    rng = np.random.default_rng(2024)
    for k in range(300):
        flipped = bytearray(raw)
        at = int(rng.integers(len(raw)))
        flipped[at] ^= int(rng.integers(1, 256))
        cases.append((f"flip{k}", bytes(flipped)))
    cases += [(f"edit{k}", content) for k, (_, content, _) in enumerate(edits(raw))]
    paths = []
    for name, content in cases:
        path = tmp_path / f"{name}.nnf"
        path.write_bytes(content)
        paths.append(path)
    outcomes = run_loads_in_child(paths, tmp_path)
    bad = {p: o for p, o in outcomes.items() if o != "ValueError"}
    assert not bad, f"{len(bad)} of {len(paths)} loads did not fail with ValueError: {list(bad.items())[:5]}"
    assert len(outcomes) == len(cases)


def child_peak_growth(code: str, cwd) -> int:
    """Bytes the peak resident memory of a fresh child grew while running code."""
    script = f"""
import resource, nnfast as nf
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    {code}
except ValueError as exc:
    print("ValueError", exc)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("ValueError"), lines
    return int(lines[-1])


def test_a_gigabyte_of_zeros_is_refused_without_reading_it(tmp_path):
    """A 1 GiB (sparse) file of zeros was read whole before 'not an nnfast model file'."""
    path = tmp_path / "zeros.nnf"
    with open(path, "wb") as f:
        f.truncate(2**30)
    assert child_peak_growth(f"nf.load({str(path)!r})", tmp_path) < 50 * 2**20


def test_a_header_declaring_more_than_the_file_holds_is_refused_before_reading(small_model, tmp_path):
    """A valid header and layer table whose parameter count exceeds the (sparse, 1 GiB) file."""
    _, raw, _ = small_model
    m = ModelBytes(raw)
    m.set_layer(0, 0, (2**30).to_bytes(8, "little"))
    path = tmp_path / "declares-more.nnf"
    with open(path, "wb") as f:
        f.write(m.bytes())
        f.truncate(2**30)
    assert child_peak_growth(f"nf.load({str(path)!r})", tmp_path) < 50 * 2**20


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_only_regular_files_are_read(tmp_path, kind):
    """/dev/zero read until memory ran out and a FIFO blocked forever: both are refused at once
    (in a child, so a hang is a timeout failure rather than a stuck test run)."""
    if kind == "fifo":
        path = tmp_path / "pipe.nnf"
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "dir.nnf"
        path.mkdir()
    code = f"""
import nnfast as nf
try:
    nf.load({str(path)!r})
except ValueError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "is not a regular file" in out.stdout, out.stdout + out.stderr


# --- saving ----------------------------------------------------------------------------------


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_saving_keeps_the_permissions_of_the_file_it_replaces(small_model, tmp_path):
    model, _, _ = small_model
    path = tmp_path / "private.nnf"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    model.save(path)
    assert mode(path) == 0o600
    os.chmod(path, 0o640)
    model.save(path)
    assert mode(path) == 0o640


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_0666_less_the_umask(small_model, tmp_path, umask):
    model, _, _ = small_model
    old = os.umask(umask)
    try:
        model.save(tmp_path / "new.nnf")
    finally:
        os.umask(old)
    assert mode(tmp_path / "new.nnf") == 0o666 & ~umask


def temporaries(directory: Path):
    return sorted(p.name for p in directory.iterdir() if ".nnf-tmp-" in p.name)


def test_a_failed_save_removes_its_temporary(small_model, tmp_path):
    model, _, _ = small_model
    target = tmp_path / "taken.nnf"
    target.mkdir()
    (target / "inside").write_text("x")  # rename cannot replace a non-empty directory
    with pytest.raises(OSError, match="cannot write"):
        model.save(target)
    assert temporaries(tmp_path) == []
    assert (target / "inside").read_text() == "x"


def test_the_next_save_removes_an_orphan_but_not_a_save_in_progress(small_model, tmp_path):
    model, _, _ = small_model
    path = tmp_path / "m.nnf"
    orphan = tmp_path / ".m.nnf.nnf-tmp-0123456789abcdef"
    orphan.write_bytes(b"half a model")
    other = tmp_path / ".other.nnf.nnf-tmp-0123456789abcdef"  # another file's: not ours to remove
    other.write_bytes(b"x")
    busy = tmp_path / ".m.nnf.nnf-tmp-fedcba9876543210"
    busy.write_bytes(b"being written")
    holder = subprocess.Popen([sys.executable, "-c", f"""
import fcntl, sys, time
f = open({str(busy)!r}, "rb")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    with holder:
        try:
            assert holder.stdout.readline().strip() == "locked"
            model.save(path)
            assert temporaries(tmp_path) == [busy.name, other.name]
        finally:
            holder.kill()
    model.save(path)  # its writer is gone now
    assert temporaries(tmp_path) == [other.name]
    assert nf.load(path).n_params == model.n_params


def test_a_save_killed_midway_leaves_at_most_one_orphan_which_the_next_save_removes(tmp_path):
    """kill -9 of a process saving a 40 MB model over and over, the moment its temporary
    appears (three times: each new writer first sweeps up the last one's orphan)."""
    path = tmp_path / "big.nnf"
    script = f"""
import nnfast as nf
m = nf.Sequential([nf.Dense(1000), nf.Dense(10, "softmax")], inputs=10000)
while True:
    m.save({str(path)!r})
"""
    orphans_seen = 0
    for _ in range(3):
        with subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path) as child:
            deadline = time.monotonic() + 60
            while not temporaries(tmp_path) and time.monotonic() < deadline:
                time.sleep(0.0005)
            child.send_signal(signal.SIGKILL)
        left = temporaries(tmp_path)
        assert len(left) <= 1, left
        orphans_seen += len(left)
    assert orphans_seen >= 1, "no save was ever caught midway"
    model = nf.Sequential([nf.Dense(2), nf.Dense(2, "softmax")], inputs=2)
    model.save(path)
    assert temporaries(tmp_path) == []
    assert nf.load(path).n_params == model.n_params
