"""ONNX export: the graph run by ONNX Runtime gives what the model gives (issue 13)."""

import subprocess
import sys

import numpy as np
import pytest

import nnfast as nf

onnx = pytest.importorskip("onnx")

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh")
DTYPES = ("float32", "float64")
TOL = 1e-5


def _data(rows=120, features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)) * [1.0, 10.0, 0.1, 3.0, 50.0][:features] + 2.0
    return X, rng


def _run(model, X):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": np.asarray(X, dtype=model.dtype)})))


def _check_classifier(model, X):
    out = _run(model, X)
    assert sorted(out) == ["label", "probabilities"]
    assert out["probabilities"].dtype == np.dtype(model.dtype)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=0, atol=TOL)
    np.testing.assert_array_equal(out["label"], model.predict(X))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_softmax_classifier(activation, dtype):
    X, rng = _data()
    y = rng.integers(0, 3, len(X)) * 2 + 1  # labels 1, 3, 5: the graph maps indices to them
    alpha = {"leaky_relu": 0.2, "elu": 0.7}.get(activation)
    model = nf.Sequential([nf.Dense(12, activation, alpha=alpha), nf.Dense(7, activation), nf.Dense(3, "softmax")],
                          dtype=dtype, seed=1)
    model.fit(X, y, epochs=3, standardize=True, verbose=False)
    _check_classifier(model, X)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_regressor(activation, dtype):
    X, rng = _data()
    y = X[:, 0] - 0.1 * X[:, 1] + rng.normal(size=len(X))
    model = nf.Sequential([nf.Dense(9, activation), nf.Dense(1, activation)], dtype=dtype, seed=2)
    model.fit(X, y, loss="mse", epochs=3, standardize=True, verbose=False)
    out = _run(model, X)
    assert list(out) == ["predictions"] and out["predictions"].shape == (len(X),)
    np.testing.assert_allclose(out["predictions"], model.predict(X), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_classifier_with_string_labels(dtype):
    X, rng = _data(seed=3)
    y = np.where(X[:, 0] + rng.normal(size=len(X)) > 2.0, "spam", "ham")
    model = nf.Sequential([nf.Dense(8, "tanh"), nf.Dense(1, "sigmoid")], dtype=dtype)
    model.fit(X, y, epochs=5, standardize=True, verbose=False)
    out = _check_classifier(model, X)
    assert out["probabilities"].shape == (len(X), 2) and set(out["label"]) <= {"spam", "ham"}


@pytest.mark.parametrize("dtype", DTYPES)
def test_multilabel_soft_and_unscaled_models(dtype):
    X, rng = _data(seed=4)
    multi = (rng.random((len(X), 3)) < 0.4).astype(int)
    model = nf.Sequential([nf.Dense(6, "relu"), nf.Dense(3, "sigmoid")], dtype=dtype)
    model.fit(X, multi, loss="binary_cross_entropy", epochs=2, standardize=False, verbose=False)
    out = _check_classifier(model, X)
    assert out["label"].shape == (len(X), 3)

    soft = rng.dirichlet(np.ones(4), size=len(X))
    model = nf.Sequential([nf.Dense(6, "elu"), nf.Dense(4, "softmax")], dtype=dtype)
    model.fit(X, soft, epochs=2, standardize=True, verbose=False)
    _check_classifier(model, X)


@pytest.mark.parametrize("dtype", DTYPES)
def test_regression_on_columns_and_an_unfitted_network(dtype):
    X, rng = _data(seed=5)
    Y = np.column_stack([X[:, 0], X[:, 3] * 0.5])
    model = nf.Sequential([nf.Dense(10, "leaky_relu"), nf.Dense(2, "identity")], dtype=dtype)
    model.fit(X, Y, epochs=2, standardize=True, verbose=False)
    out = _run(model, X)
    assert out["predictions"].shape == (len(X), 2)
    np.testing.assert_allclose(out["predictions"], model.predict(X), rtol=TOL, atol=TOL)

    fresh = nf.Sequential([nf.Dense(4, "tanh"), nf.Dense(2, "softmax")], inputs=X.shape[1], dtype=dtype)
    np.testing.assert_allclose(_run(fresh, X)["outputs"], fresh.forward(X), rtol=0, atol=TOL)


def test_batch_size_is_dynamic_and_the_file_is_written(tmp_path):
    X, rng = _data(seed=6)
    model = nf.Sequential([nf.Dense(5, "relu"), nf.Dense(2, "softmax")])
    model.fit(X, rng.integers(0, 2, len(X)), epochs=1, verbose=False)
    proto = model.to_onnx(tmp_path / "m.onnx")
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    assert loaded.SerializeToString() == proto.SerializeToString()
    for rows in (1, 7):
        out = _run(model, X[:rows])
        np.testing.assert_array_equal(out["label"], model.predict(X[:rows]))


def test_cli_writes_the_graph(tmp_path):
    X, rng = _data(seed=7)
    model = nf.Sequential([nf.Dense(5, "relu"), nf.Dense(3, "softmax")])
    model.fit(X, rng.integers(0, 3, len(X)), epochs=1, verbose=False)
    model.save(tmp_path / "m.nnf")
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.nnf"), "--onnx", str(tmp_path / "m.onnx")]) == 0
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    assert [o.name for o in loaded.graph.output] == ["label", "probabilities"]


def test_export_needs_no_runtime(tmp_path):
    """Writing the graph imports onnx only: a process where onnxruntime cannot be imported exports."""
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "import numpy as np, nnfast as nf\n"
            "m = nf.Sequential([nf.Dense(3, 'relu'), nf.Dense(2, 'softmax')])\n"
            "m.fit(np.arange(40.).reshape(20, 2), np.arange(20) % 2, epochs=1, verbose=False)\n"
            f"m.to_onnx({str(tmp_path / 'm.onnx')!r})\n"
            "assert 'onnxruntime' not in [k for k, v in sys.modules.items() if v is not None]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)  # not the checkout's nnfast/
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_without_onnx_the_error_says_what_to_install(monkeypatch):
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"nnfast\[onnx\]"):
        model.to_onnx()


def test_unbuilt_model_is_refused():
    with pytest.raises(RuntimeError, match="not built"):
        nf.Sequential([nf.Dense(2, "softmax")]).to_onnx()


@pytest.mark.parametrize("labels", [np.array([False, True]), np.array([0.5, 2.5]), np.array([7, -3], np.int32)])
def test_labels_keep_their_dtype(labels):
    X, rng = _data(seed=8)
    y = labels[(X[:, 0] > 2.0).astype(int)]
    model = nf.Sequential([nf.Dense(4, "relu"), nf.Dense(2, "softmax")])
    model.fit(X, y, epochs=2, verbose=False)
    out = _check_classifier(model, X)
    assert out["label"].dtype == labels.dtype


def test_cli_without_onnx_says_what_to_install(tmp_path, monkeypatch, capsys):
    model = nf.Sequential([nf.Dense(2, "softmax")], inputs=3)
    model.fit(np.eye(3)[[0, 1, 2, 0]], [0, 1, 0, 1], epochs=1, verbose=False)
    model.save(tmp_path / "m.nnf")
    monkeypatch.setitem(sys.modules, "onnx", None)
    from nnfast.cli import main

    assert main(["export", str(tmp_path / "m.nnf"), "--onnx", str(tmp_path / "m.onnx")]) == 1
    assert "pip install 'nnfast[onnx]'" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
    assert main(["export", str(tmp_path / "m.nnf"), "--c", str(tmp_path / "c"),
                 "--onnx", str(tmp_path / "m.onnx")]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nnf"]  # the C export is not written either


def test_column_names_are_kept_in_the_graph(tmp_path):
    pd = pytest.importorskip("pandas")
    X, rng = _data(seed=9, features=3)
    frame = pd.DataFrame(X, columns=["age", "income", "ünï"])
    model = nf.Sequential([nf.Dense(4, "relu"), nf.Dense(2, "softmax")])
    model.fit(frame, rng.integers(0, 2, len(X)), epochs=1, verbose=False)
    proto = model.to_onnx(tmp_path / "m.onnx")
    metadata = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    import json

    assert json.loads(metadata["feature_names"]) == ["age", "income", "ünï"]
    assert proto.graph.input[0].doc_string.endswith("in order: age, income, ünï")
    unnamed = nf.Sequential([nf.Dense(2, "softmax")])
    unnamed.fit(X, rng.integers(0, 2, len(X)), epochs=1, verbose=False)
    assert len(unnamed.to_onnx().metadata_props) == 0


def test_bytes_labels_are_their_text():
    X, rng = _data(seed=10)
    model = nf.Sequential([nf.Dense(3, "softmax")])
    model.fit(X, np.array([b"x", b"y", b"z"])[rng.integers(0, 3, len(X))], epochs=1, verbose=False)
    out = _run(model, X)
    assert out["label"].tolist() == [label.decode() for label in model.predict(X).tolist()]


def test_labels_onnx_cannot_hold_and_an_empty_name_are_refused():
    X, rng = _data(seed=11)
    model = nf.Sequential([nf.Dense(2, "softmax")])
    model.fit(X, np.array([b"yes\xff", b"no"])[rng.integers(0, 2, len(X))], epochs=1, verbose=False)
    with pytest.raises(ValueError, match="is not UTF-8 text"):  # ONNX Runtime failed on it when predicting
        model.to_onnx()
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        nf.Sequential([nf.Dense(2, "softmax")], inputs=3).to_onnx(name="")
