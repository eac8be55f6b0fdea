"""C export: the generated C99 compiles warning-free and computes what nnfast's one-row path
computes, bit for bit (issue 13)."""

import shutil
import subprocess

import numpy as np
import pytest

import nnfast as nf
from nnfast.export import c_source, to_c

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="needs gcc")
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
ROWS = 300

# reads n rows from argv[1], writes the outputs (and class indices) to argv[2]
DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "NAME.h"

int main(int argc, char **argv)
{
    FILE *in, *out;
    long n, i;
    T *x, *y;
    if (argc != 3 || !(in = fopen(argv[1], "rb")) || !(out = fopen(argv[2], "wb"))) return 2;
    if (fread(&n, sizeof n, 1, in) != 1) return 3;
    x = malloc(sizeof(T) * (size_t)(n * UP_N_INPUTS));
    y = malloc(sizeof(T) * (size_t)(n * UP_N_OUTPUTS));
    if (!x || !y || fread(x, sizeof(T), (size_t)(n * UP_N_INPUTS), in) != (size_t)(n * UP_N_INPUTS)) return 4;
    NAME_predict_batch(x, n, y);
    fwrite(y, sizeof(T), (size_t)(n * UP_N_OUTPUTS), out);
#ifdef LABELS
    for (i = 0; i < n; ++i) {
        int k = NAME_predict_class(x + i * UP_N_INPUTS);
        fwrite(&k, sizeof k, 1, out);
    }
#else
    (void)i;
#endif
    fclose(in);
    fclose(out);
    free(x);
    free(y);
    return 0;
}
"""


def _compile_and_run(model, X, tmp_path, name="model", int8=False):
    """(outputs (rows, n_outputs), class indices or None) from the compiled export."""
    written = to_c(model, tmp_path, name=name, int8=int8)
    ctype = "float" if model.dtype == "float32" else "double"
    labels = model.task == "classification" and model._targets.kind in ("categorical", "soft", "binary")
    driver = tmp_path / "driver.c"
    driver.write_text(DRIVER.replace("NAME", name).replace("UP", name.upper()))
    exe = tmp_path / "run"
    defines = [f"-DT={ctype}"] + (["-DLABELS"] if labels else [])
    subprocess.run([GCC, *FLAGS, *defines, str(driver), written.source, "-lm", "-o", str(exe)], check=True,
                   capture_output=True, text=True)
    X = np.ascontiguousarray(X, dtype=model.dtype)
    (tmp_path / "in.bin").write_bytes(np.int64(len(X)).tobytes() + X.tobytes())
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    raw = (tmp_path / "out.bin").read_bytes()
    size = len(X) * model.n_outputs * np.dtype(model.dtype).itemsize
    out = np.frombuffer(raw[:size], dtype=model.dtype).reshape(len(X), model.n_outputs)
    return out, (np.frombuffer(raw[size:], dtype=np.intc) if labels else None)


def _one_row(model, X):
    """nnfast's one-row path, row by row."""
    return np.concatenate([model.forward(X[i:i + 1]) for i in range(len(X))])


def _data(seed, features=7):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(ROWS, features)) * np.linspace(0.5, 20.0, features) + 3.0, rng


@needs_gcc
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_activation_bit_exact(dtype, tmp_path):
    X, rng = _data(1)
    y = rng.choice(["a", 'q"u?o\\te', "ünï"], ROWS)  # labels that need escaping in C
    layers = [nf.Dense(9, "identity"), nf.Dense(6, "relu"), nf.Dense(11, "leaky_relu", alpha=0.3),
              nf.Dense(5, "elu", alpha=0.8), nf.Dense(7, "sigmoid"), nf.Dense(10, "tanh"), nf.Dense(3, "softmax")]
    model = nf.Sequential(layers, dtype=dtype, seed=3)
    model.fit(X, y, epochs=3, standardize=True, verbose=False)
    X = X.astype(dtype)
    out, index = _compile_and_run(model, X, tmp_path)
    np.testing.assert_array_equal(out, _one_row(model, X))  # bit for bit
    np.testing.assert_allclose(out, model.predict_proba(X), rtol=1e-5, atol=1e-6)  # the batched path: GEMM's order
    np.testing.assert_array_equal(model.classes_[index], model.predict(X))
    assert model.classes_.tolist() == sorted({"a", 'q"u?o\\te', "ünï"})


@needs_gcc
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_and_regressors_bit_exact(dtype, tmp_path):
    X, rng = _data(2, features=4)
    binary = nf.Sequential([nf.Dense(8, "elu"), nf.Dense(1, "sigmoid")], dtype=dtype)
    binary.fit(X, X[:, 0] > 3.0, epochs=3, verbose=False)  # unscaled inputs: no standardisation in the C
    (tmp_path / "binary").mkdir()
    out, index = _compile_and_run(binary, X, tmp_path / "binary")
    np.testing.assert_array_equal(out, _one_row(binary, X.astype(dtype)))
    np.testing.assert_array_equal(binary.classes_[index], binary.predict(X))
    np.testing.assert_allclose(out[:, 0], binary.predict_proba(X)[:, 1], rtol=1e-5, atol=1e-6)

    Y = np.column_stack([X[:, 1] * 0.1, np.sin(X[:, 2])])
    regressor = nf.Sequential([nf.Dense(13, "tanh"), nf.Dense(2, "identity")], dtype=dtype)
    regressor.fit(X, Y, epochs=3, standardize=True, verbose=False)
    (tmp_path / "regressor").mkdir()
    out, index = _compile_and_run(regressor, X, tmp_path / "regressor", name="reg")
    assert index is None
    np.testing.assert_array_equal(out, _one_row(regressor, X.astype(dtype)))
    np.testing.assert_allclose(out, regressor.predict(X), rtol=1e-5, atol=1e-6)


@needs_gcc
@pytest.mark.parametrize("inputs", [1, 4, 12, 13, 64])
@pytest.mark.parametrize("int8", [False, True])
def test_no_hidden_layer_compiles_at_every_input_count(inputs, int8, tmp_path):
    # one dense call inlined with I a multiple of 4 (>= 12) made gcc -O2 -Werror fail on its tail loop
    X, rng = _data(7, features=inputs)
    model = nf.train(nf.Hyperparameters(hidden=(), epochs=1, seed=0), X, rng.integers(0, 3, ROWS), verbose=False)[0]
    X = X.astype(model.dtype)
    out, index = _compile_and_run(model, X, tmp_path, int8=int8)
    if not int8:
        np.testing.assert_array_equal(out, _one_row(model, X))
        np.testing.assert_array_equal(model.classes_[index], model.predict(X))
    for level in ("-O1", "-O3", "-Os"):
        subprocess.run([GCC, *FLAGS, level, "-c", str(tmp_path / "model.c"), "-o", str(tmp_path / "model.o")],
                       check=True, capture_output=True)


@needs_gcc
def test_cli_writes_compilable_files(tmp_path):
    X, rng = _data(3, features=3)
    model = nf.Sequential([nf.Dense(4, "relu"), nf.Dense(3, "softmax")])
    model.fit(X, rng.integers(0, 3, ROWS), epochs=1, verbose=False)
    model.save(tmp_path / "m.nnf")
    (tmp_path / "out").mkdir()
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "out"), "--name", "iris"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["iris.c", "iris.h"]
    source = (tmp_path / "out" / "iris.c").read_text()
    assert source.count("#include") == 2 and "#include <math.h>" in source
    subprocess.run([GCC, *FLAGS, "-c", "iris.c", "-o", "iris.o"], cwd=tmp_path / "out", check=True)


def test_names_must_be_c_identifiers():
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    for bad in ("1st", "my-model", "int", "", "x" * 41):
        with pytest.raises(ValueError, match="C identifier"):
            c_source(model, bad)
    for reserved in ("_x", "__x", "_X"):  # reserved to the C implementation at file scope
        with pytest.raises(ValueError, match="underscore"):
            c_source(model, reserved)
    for header in ("math", "stdio", "Stdlib", "STRING", "unistd"):  # <name>.h would stand in for <header.h>
        with pytest.raises(ValueError, match="system header"):
            c_source(model, header)
    for good in ("model", "x_", "Math2", "my_math"):
        assert f"void {good}_predict(" in c_source(model, good)[0]


def test_cli_creates_the_directory_and_needs_a_target(tmp_path, capsys):
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    model.fit(np.eye(3)[[0, 1, 2, 0]], [0, 1, 0, 1], epochs=1, verbose=False)
    model.save(tmp_path / "m.nnf")
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "new" / "dir")]) == 0
    assert sorted(p.name for p in (tmp_path / "new" / "dir").iterdir()) == ["model.c", "model.h"]
    (tmp_path / "file").write_text("")
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "file")]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.nnf")]) == 1
    assert "nothing to do" in capsys.readouterr().err


@needs_gcc
def test_column_names_are_kept_in_the_c(tmp_path):
    pd = pytest.importorskip("pandas")
    # names that would end or nest the header's comment, splice lines or inject code if copied as they are
    names = ["age", "a*/b", "ünï", "w/*kg*/", "ends in ??/", "*\\\n/ int injected = 1; /*"]
    X, rng = _data(8, features=len(names))
    frame = pd.DataFrame(X, columns=names)
    model = nf.Sequential([nf.Dense(4, "relu"), nf.Dense(1, "sigmoid")])
    model.fit(frame, np.array(["a", "z/*"])[rng.integers(0, 2, ROWS)], epochs=1, verbose=False)
    written = to_c(model, tmp_path, name="net")
    header = (tmp_path / "net.h").read_text()
    assert '   0: "age"\n   1: "a* /b"\n   2: "?n?"\n   3: "w/ *kg* /"\n   4: "ends in ? ?/"\n' in header
    assert "P(z/ *)" in header
    driver = tmp_path / "names.c"
    driver.write_text('#include <stdio.h>\n#include "net.h"\nint main(void)\n{\n    int j;\n'
                      '    for (j = 0; j < NET_N_INPUTS; ++j) printf("%s|", net_feature_names[j]);\n'
                      '    printf("%s", net_class_labels[1]);\n    return 0;\n}\n')
    exe = tmp_path / "names"
    for compiler, flags in ((GCC, FLAGS), (shutil.which("g++"), ["-x", "c++", "-std=c++17", "-Wall", "-Wextra",
                                                                 "-Werror", "-pedantic", "-O2"])):
        if compiler is None:
            continue
        subprocess.run([compiler, *flags, str(driver), written.source, "-lm", "-o", str(exe)], check=True)
        shown = subprocess.run([str(exe)], check=True, capture_output=True).stdout.decode("utf-8")
        assert shown.split("|") == names + ["z/*"]
    unnamed = nf.Sequential([nf.Dense(2, "softmax")])
    unnamed.fit(X, rng.integers(0, 2, ROWS), epochs=1, verbose=False)
    assert "feature_names" not in "".join(c_source(unnamed))


def test_int8_quantisation_per_output_channel():
    from nnfast.export import quantize_int8

    rng = np.random.default_rng(5)
    W = (rng.normal(size=(20, 6)) * np.array([1e-3, 1.0, 50.0, 0.0, 2.0, 7.0])).astype(np.float32)
    q, scale = quantize_int8(W)
    assert q.dtype == np.int8 and scale.dtype == np.float32 and scale.shape == (6,)
    assert np.abs(q).max() == 127 and (q[:, 3] == 0).all()
    assert (np.abs(q * scale - W) <= scale / 2 * (1 + 1e-6)).all()  # each weight within half a step


@needs_gcc
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_int8_export_computes_the_quantised_model(dtype, tmp_path):
    from nnfast.export import quantized_copy

    X, rng = _data(4, features=6)
    y = (X[:, 0] > 3.0).astype(int) + (X[:, 5] > 3.0)
    model = nf.Sequential([nf.Dense(10, "relu"), nf.Dense(9, "tanh"), nf.Dense(3, "softmax")], dtype=dtype)
    model.fit(X, y, epochs=5, standardize=True, verbose=False)
    out, index = _compile_and_run(model, X, tmp_path, int8=True)
    assert "static const signed char model_W1[60]" in (tmp_path / "model.c").read_text()
    quantised = quantized_copy(model)
    # the C scales each sum once, (x q) s; the copy holds q s: the same up to rounding
    np.testing.assert_allclose(out, quantised.forward(X.astype(dtype)), rtol=1e-4, atol=1e-5)
    assert not np.array_equal(quantised.parameters()["W1"], model.parameters()["W1"])
    assert (model.classes_[index] == model.predict(X)).mean() > 0.9


def test_cli_int8_reports_the_accuracy_change_and_the_size(tmp_path, capsys):
    X, rng = _data(6, features=5)
    y = (X[:, 0] + X[:, 1] > 8.0).astype(int)
    model = nf.Sequential([nf.Dense(8, "relu"), nf.Dense(2, "softmax")])
    model.fit(X, y, epochs=5, standardize=True, verbose=False)
    model.save(tmp_path / "m.nnf")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    from nnfast.cli import main
    from nnfast.export import quantized_copy

    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path), "--int8", "--data",
                 str(tmp_path / "d.npz")]) == 0
    out = capsys.readouterr().out
    before, after = model.evaluate(X, y)["accuracy"], quantized_copy(model).evaluate(X, y)["accuracy"]
    assert f"accuracy on {tmp_path / 'd.npz'} (300 rows): {before:.4f} as float32, {after:.4f} with int8" in out
    assert "weights: 96 bytes as int8 with scales (224 bytes as float32)" in out  # 5x8 + 8x2 weights, 10 scales
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path), "--data", str(tmp_path / "d.npz")]) == 1
    assert "give --int8" in capsys.readouterr().err


def test_cli_checks_the_name_before_writing_anything(tmp_path, capsys):
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    model.fit(np.eye(3)[[0, 1, 2, 0]], [0, 1, 0, 1], epochs=1, verbose=False)
    model.save(tmp_path / "m.nnf")
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.nnf"), "--onnx", str(tmp_path / "m.onnx"), "--c", str(tmp_path),
                 "--name", "my-model"]) == 1
    assert "C identifier" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nnf"]


def _int8_cli(tmp_path, *args):
    from nnfast.cli import main

    return main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "c"), "--int8", *args])


def test_cli_int8_checks_the_data_before_writing(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    X, rng = _data(9, features=4)
    y = np.where(X[:, 0] > 3.0, 7, 8)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = nf.Sequential([nf.Dense(5, "relu"), nf.Dense(2, "softmax")])
    model.fit(frame, y, epochs=2, verbose=False)
    model.save(tmp_path / "m.nnf")
    bad = {  # each: the file, and what the one-line error says
        "three.csv": (frame[["a", "b", "c"]].assign(y=y), "has 3 feature columns but"),
        "first.csv": (pd.concat([pd.Series(y, name="y"), frame[["a", "b", "c"]]], axis=1).assign(d=X[:, 3]),
                      "are not those the model was fitted with"),  # the label first: the header tells
        "labels.csv": (frame.assign(y=y + 1), "not seen in training"),
    }
    for name, (table, message) in bad.items():
        table.to_csv(tmp_path / name, index=False)
        assert _int8_cli(tmp_path, "--data", str(tmp_path / name)) == 1
        assert message in capsys.readouterr().err
        assert not (tmp_path / "c").exists()
    raw = np.column_stack([y, X])  # the label first in a file without names: its labels are not the model's
    np.save(tmp_path / "first.npy", raw)
    assert _int8_cli(tmp_path, "--data", str(tmp_path / "first.npy")) == 1
    assert "cannot score" in capsys.readouterr().err and not (tmp_path / "c").exists()
    frame.assign(y=y).to_csv(tmp_path / "good.csv", index=False)
    assert _int8_cli(tmp_path, "--data", str(tmp_path / "good.csv")) == 0
    assert "accuracy on" in capsys.readouterr().out


def test_cli_int8_scores_a_regressor_by_r2(tmp_path, capsys):
    X, rng = _data(10, features=3)
    Y = np.column_stack([X[:, 0], X[:, 1] - X[:, 2]])
    model = nf.Sequential([nf.Dense(6, "tanh"), nf.Dense(2, "identity")])
    model.fit(X, Y, epochs=3, standardize=True, verbose=False)
    model.save(tmp_path / "m.nnf")
    assert _int8_cli(tmp_path) == 0
    assert "no --data: the R^2 change was not measured" in capsys.readouterr().out
    np.savetxt(tmp_path / "two.csv", np.column_stack([X, Y]), delimiter=",")
    assert _int8_cli(tmp_path, "--data", str(tmp_path / "two.csv")) == 1
    err = capsys.readouterr().err
    assert "predicts 2 values a row" in err and ".npz" in err
    np.savez(tmp_path / "two.npz", X=X, y=Y)
    assert _int8_cli(tmp_path, "--data", str(tmp_path / "two.npz")) == 0
    before, after = model.evaluate(X, Y)["r2"], nf.export.quantized_copy(model).evaluate(X, Y)["r2"]
    assert f"R^2 on {tmp_path / 'two.npz'} (300 rows): {before:.4f} as float32, {after:.4f} with int8" in \
        capsys.readouterr().out


def _small_model(tmp_path):
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    model.fit(np.eye(3)[[0, 1, 2, 0]], [0, 1, 0, 1], epochs=1, verbose=False)
    model.save(tmp_path / "m.nnf")
    return model


def test_a_failed_write_leaves_the_old_files_and_no_new_ones(tmp_path, monkeypatch, capsys):
    _small_model(tmp_path)
    from nnfast.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "model.h").write_text("old header")
    calls = []

    def full_disk(descriptor):  # the second file's write fails: the disk is full
        calls.append(descriptor)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(out)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(out / "model.c") in err
    assert sorted(p.name for p in out.iterdir()) == ["model.h"] and (out / "model.h").read_text() == "old header"
    calls.clear()
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "new" / "dir")]) == 1
    assert not (tmp_path / "new").exists()  # the directories it created are gone again
    calls.clear()
    assert main(["export", str(tmp_path / "m.nnf"), "--onnx", str(tmp_path / "m.onnx"), "--c", str(out)]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nnf", "out"]
    (out / "model.c").mkdir()  # a directory where a file goes: refused before anything is written
    monkeypatch.undo()
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(out)]) == 1
    assert "is a directory" in capsys.readouterr().err and (out / "model.h").read_text() == "old header"


def test_outputs_that_collide_are_refused(tmp_path, capsys):
    _small_model(tmp_path)
    from nnfast.cli import main

    (tmp_path / "oc").mkdir()
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "oc"),
                 "--onnx", str(tmp_path / "oc" / "model.h")]) == 1
    assert "which --onnx writes too" in capsys.readouterr().err
    (tmp_path / "cm").mkdir()
    (tmp_path / "m.nnf").rename(tmp_path / "cm" / "model.c")
    assert main(["export", str(tmp_path / "cm" / "model.c"), "--c", str(tmp_path / "cm")]) == 1
    assert "the model file the command reads" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cm", "model.c", "oc"]
    assert main(["export", str(tmp_path / "cm" / "model.c"), "--onnx", str(tmp_path / "m.onnx"),
                 "--name", "net"]) == 1
    assert "--name is for the C export" in capsys.readouterr().err


def test_names_of_headers_glibc_includes_are_refused():
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    for header in ("features", "endian", "Features"):  # <stdio.h> includes <features.h>
        with pytest.raises(ValueError, match="system header"):
            c_source(model, header)
    with pytest.raises(ValueError, match="directory is empty"):
        to_c(model, "")


def test_bytes_labels_are_their_text():
    X = np.random.default_rng(0).normal(size=(30, 3))
    model = nf.Sequential([nf.Dense(3, "softmax")])
    model.fit(X, np.array([b"x", b"y", b'q"'])[np.arange(30) % 3], epochs=1, verbose=False)
    source = c_source(model)[1]
    assert '"x",\n    "y"' in source and "b'" not in source


def test_onnx_into_the_directory_the_c_export_creates(tmp_path, capsys):
    pytest.importorskip("onnx")
    _small_model(tmp_path)
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "new"),
                 "--onnx", str(tmp_path / "new" / "m.onnx")]) == 0
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["m.onnx", "model.c", "model.h"]


def test_devices_fifos_and_links_are_never_replaced(tmp_path, capsys):
    # files were renamed over their targets: `--onnx /dev/null` (as root) made /dev/null a plain file
    import os

    model = _small_model(tmp_path)
    from nnfast.cli import main

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # the check before writing used to wait on it for a reader
    assert main(["export", str(tmp_path / "m.nnf"), "--onnx", str(fifo)]) == 1
    assert "not a regular file" in capsys.readouterr().err and fifo.is_fifo()
    (tmp_path / "c").mkdir()
    os.mkfifo(tmp_path / "c" / "model.h")
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "c")]) == 1
    assert "not a regular file" in capsys.readouterr().err and not (tmp_path / "c" / "model.c").exists()
    with pytest.raises(OSError, match="not a regular file"):
        to_c(model, tmp_path / "c")
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real / "model.h")  # a link's target is replaced, the link stays
    written = to_c(model, real)
    os.replace(written.header, tmp_path / "old.h")
    from nnfast.export._files import write_all

    write_all([(str(tmp_path / "link"), b"new")])
    assert (tmp_path / "link").is_symlink() and (real / "model.h").read_bytes() == b"new"


def test_a_name_too_long_fails_before_anything_is_written(tmp_path, capsys):
    _small_model(tmp_path)
    from nnfast.cli import main

    long = tmp_path / ("b" * 300 + ".onnx")
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "new"), "--onnx", str(long)]) == 1
    err = capsys.readouterr().err
    assert "its file name is too long" in err and "[Errno" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nnf"]  # no temporaries, no directory


def test_more_names_labels_and_targets(tmp_path, capsys):
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    for header in ("cblas", "xmmintrin", "omp"):  # nnfast's C++ headers include <cblas.h>
        with pytest.raises(ValueError, match="system header"):
            c_source(model, header)
    X = np.random.default_rng(1).normal(size=(60, 3))
    floats = nf.Sequential([nf.Dense(2, "softmax")])
    floats.fit(X, np.array([0.1, 0.7], np.float32)[np.arange(60) % 2], epochs=1, verbose=False)
    assert '"0.1",\n    "0.7"' in c_source(floats)[1]  # not the float32's double, "0.10000000149011612"
    labels = nf.Sequential([nf.Dense(4, "sigmoid")])  # multi-label: four targets, only from an .npz
    labels.fit(X, (X[:, :1] > np.array([[-1.0, 0.0, 0.5, 1.0]])).astype(int), epochs=1, verbose=False)
    labels.save(tmp_path / "m.nnf")
    np.savetxt(tmp_path / "ml.csv", np.column_stack([X, X[:, 0] > 0]), delimiter=",")
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "c"), "--int8", "--data",
                 str(tmp_path / "ml.csv")]) == 1
    assert "predicts 4 values a row" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_long_non_ascii_names_links_in_a_loop_and_an_empty_name(tmp_path, capsys):
    import os

    _small_model(tmp_path)
    from nnfast.cli import main

    name = tmp_path / ("é" * 120 + ".onnx")  # 245 bytes: legal; its temporary's name was cut in characters
    if pytest.importorskip("onnx"):
        assert main(["export", str(tmp_path / "m.nnf"), "--onnx", str(name)]) == 0
        assert name.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    os.symlink(tmp_path / "l2", tmp_path / "l1")
    os.symlink(tmp_path / "l1", tmp_path / "l2")
    from nnfast.export._files import write_all

    with pytest.raises(OSError, match="symbolic links form a loop"):  # the link was replaced by a file
        write_all([(str(tmp_path / "l1"), b"x")])
    assert (tmp_path / "l1").is_symlink()
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "c"), "--name", ""]) == 1
    assert "C identifier" in capsys.readouterr().err  # "" was taken for the default name


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    import os

    model = _small_model(tmp_path)
    (tmp_path / "model.h").write_text("old")
    os.chmod(tmp_path / "model.h", 0o600)  # a private file came back 0644
    to_c(model, tmp_path)
    assert (tmp_path / "model.h").stat().st_mode & 0o777 == 0o600
    assert "old" not in (tmp_path / "model.h").read_text()
