"""The command line's data in and task out: CSV, NPY and NPZ files read as they are meant
(by pandas, NumPy or plain Python alike), bad files and bad output paths refused in one
line before any training, the target column and the task said out loud."""

import csv
import os
import subprocess
import sys
import warnings
from importlib.metadata import entry_points

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnfast as nf
from nnfast import cli
from nnfast.cli import readers

pytest.importorskip("nnfast.tune")
pytest.importorskip("matplotlib")

QUICK = ["--set", "epochs=2", "--set", "hidden=[8]"]


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``nnfast argv...`` run in this process."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, command, *fragments):
    assert status == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line: nothing was trained, nothing else said
    assert lines[0].startswith(f"nnfast {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def write(path, content):
    """Write text exactly as given (no newline translation), or bytes."""
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


@pytest.fixture(params=["pandas", "numpy", "python"])
def backend(request, monkeypatch):
    """Each way a CSV file is parsed: pandas, NumPy (pandas absent), plain Python (both refuse)."""
    if request.param == "pandas":
        pytest.importorskip("pandas")
    elif request.param == "numpy":
        monkeypatch.setattr(readers, "_pandas", lambda: None)
    else:
        monkeypatch.setattr(readers, "_parse_fast", lambda layout: None)
    return request.param


def labelled_csv(path, rows=240, header=True, seed=0):
    """Two well-separated classes 'cat' and 'dog' in four features (cat first)."""
    rng = np.random.default_rng(seed)
    y = np.array(["cat", "dog"] * (rows // 2))
    X = rng.normal(size=(rows, 4)) + np.where(y == "cat", -2.0, 2.0)[:, None]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(["a", "b", "c", "d", "animal"])
        writer.writerows([[*map(float, r), label] for r, label in zip(X, y)])
    return X, y


# --- CSV: header detection and the forms a CSV file comes in ----------------------------------

def test_a_headerless_csv_with_a_label_target_keeps_its_first_row(tmp_path, backend):
    # the header was guessed from the target column: 'a' is not a number, so row 1 was taken for names
    path = write(tmp_path / "h.csv", "1,2,a\n3,4,b\n5,6,a\n7,8,b\n")
    X, y = cli.read_table(str(path))
    assert X.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]] and y.tolist() == ["a", "b", "a", "b"]


def test_the_first_row_is_a_header_when_a_feature_column_says_so(tmp_path, backend):
    path = write(tmp_path / "h.csv", "x1,x2,label\n1,2,a\n3,4,b\n")
    table = cli.read_data(str(path))
    assert table.X.tolist() == [[1, 2], [3, 4]] and table.columns == ["x1", "x2", "label"]
    assert table.target == "the last column, 'label'"


@pytest.mark.parametrize("header, rows", [("auto", 2), ("no", 2), ("yes", 1)])
def test_header_option_decides_for_a_first_row_of_numbers(tmp_path, backend, header, rows):
    path = write(tmp_path / "n.csv", "1,2,0\n3,4,1\n")
    X, y = cli.read_table(str(path), header=header)
    assert len(X) == rows == len(y)


def test_header_no_reads_a_row_of_words_as_data_and_says_where(tmp_path, backend):
    path = write(tmp_path / "h.csv", "x1,x2,label\n1,2,a\n")
    with pytest.raises(cli.CommandError, match=r"h\.csv line 1, column 0: 'x1' is not a number"):
        cli.read_table(str(path), header="no")


FORMS = {
    "plain": b"x,y,label\n1,2.5,cat\n3,4,dog\n",
    "no final newline": b"x,y,label\n1,2.5,cat\n3,4,dog",
    "windows line endings": b"x,y,label\r\n1,2.5,cat\r\n3,4,dog\r\n",
    "old mac line endings": b"x,y,label\r1,2.5,cat\r3,4,dog\r",
    "byte order mark": b"\xef\xbb\xbfx,y,label\r\n1,2.5,cat\r\n3,4,dog\r\n",
    "quoted fields": b'"x","y","label"\n"1","2.5","cat"\n3,"4",dog\n',
    "blank lines": b"\n\nx,y,label\n\n1,2.5,cat\n\n\n3,4,dog\n\n",
    "lines of spaces": b"x,y,label\n   \n1,2.5,cat\n \t \n3,4,dog\n",
    "spaces around values": b"x, y ,label\n 1 ,2.5 , cat\n3,  4,dog \n",
    "exponents and signs": b"x,y,label\n1e0,+2.5,cat\n0.3e1,4.000,dog\n",
}


@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_the_same_table_reads_the_same(tmp_path, backend, form):
    path = write(tmp_path / "t.csv", FORMS[form])
    table = cli.read_data(str(path))
    assert table.X.dtype == np.float64 and table.X.tolist() == [[1.0, 2.5], [3.0, 4.0]]
    assert table.y.tolist() == ["cat", "dog"]
    assert table.columns == ["x", "y", "label"]  # no BOM or quotes left in a name


def test_a_byte_order_mark_does_not_hide_the_first_column_name(tmp_path, backend):
    path = write(tmp_path / "b.csv", b"\xef\xbb\xbflabel,x\r\n0,1.5\r\n1,2.5\r\n")
    table = cli.read_data(str(path), target="label")
    assert table.y.tolist() == [0, 1] and table.X.tolist() == [[1.5], [2.5]] and table.target == "column 'label'"


def test_quoted_header_names_may_hold_commas_and_newlines(tmp_path, backend):
    path = write(tmp_path / "q.csv", b'"height, cm","weight\nkg",kind\n170,65,a\n180,80,b\n')
    table = cli.read_data(str(path), target="kind")
    assert table.X.tolist() == [[170, 65], [180, 80]] and table.columns[:2] == ["height, cm", "weight\nkg"]


def test_targets_become_classes_values_or_labels_as_before(tmp_path, backend):
    write(tmp_path / "c.csv", "1,0\n2,1\n3,2\n4,1\n")
    write(tmp_path / "r.csv", "".join(f"{i},{i * 0.37}\n" for i in range(30)))
    write(tmp_path / "l.csv", "1,x\n2,y\n3, x\n")
    assert cli.read_table(str(tmp_path / "c.csv"))[1].dtype == np.int64  # whole numbers, few values: classes
    assert cli.read_table(str(tmp_path / "r.csv"))[1].dtype == np.float64
    assert cli.read_table(str(tmp_path / "l.csv"))[1].tolist() == ["x", "y", "x"]  # spaces around labels dropped


def test_well_formed_files_are_parsed_by_pandas_or_numpy_not_the_slow_pass(tmp_path, monkeypatch):
    def refuse(layout):
        raise AssertionError("the plain-Python pass ran on a well-formed file")
    monkeypatch.setattr(readers, "_parse_python", refuse)
    forms = [f for f in FORMS if f != "lines of spaces"]  # NumPy refuses those; the plain pass reads them
    for use_pandas in ([True, False] if readers._pandas() is not None else [False]):
        if not use_pandas:
            monkeypatch.setattr(readers, "_pandas", lambda: None)
        for form in forms:
            path = write(tmp_path / "t.csv", FORMS[form])
            assert cli.read_table(str(path))[0].shape == (2, 2), form


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False),
                               st.sampled_from(["a", "b b", "c,d", 'say "hi"'])), min_size=1, max_size=8),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
       ending=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(), blank=st.booleans())
def test_what_csv_writes_every_reader_reads_back_exactly(tmp_path_factory, rows, quoting, ending, bom, blank):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.writer(f, quoting=quoting, lineterminator=ending)
        writer.writerow(["p", "q", "label"])
        for row in rows:
            writer.writerow(row)
            if blank:
                f.write(ending)
    results = []
    for parse in ("fast", "numpy", "python"):
        saved = readers._pandas, readers._parse_fast
        try:
            if parse == "numpy":
                readers._pandas = lambda: None
            elif parse == "python":
                readers._parse_fast = lambda layout: None
            results.append(cli.read_table(str(path)))
        finally:
            readers._pandas, readers._parse_fast = saved
    for X, y in results:
        assert X.tolist() == [[r[0], r[1]] for r in rows]  # exact: every parser rounds correctly
        assert y.tolist() == [r[2].strip() for r in rows]


# --- CSV: values missing or wrong, named by line and column ----------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("x,y,label\n1,2,a\n3,,b\n", "t.csv line 3, column 1 ('y'): a missing value (an empty field)"),
    ("x,y,label\n1,2,a\nNA,4,b\n", "t.csv line 3, column 0 ('x'): a missing value ('NA')"),
    ("x,y,label\n1,2,a\n\n3,nan,b\n", "t.csv line 4, column 1 ('y'): a missing value ('nan')"),
    ("x,y,label\n1,2,a\n3,inf,b\n", "t.csv line 3, column 1 ('y'): 'inf' is not a finite number"),
    ("x,y,label\n1,2,a\n3,4 cm,b\n", "t.csv line 3, column 1 ('y'): '4 cm' is not a number"),
    ("x,y,label\n1,2,a\n3,4\n", "t.csv line 3 has 2 fields; the header has 3"),
    ("x,y,label\n1,2,a\n3,4,b,5\n", "t.csv line 3 has 4 fields; the header has 3"),
    ("x,y,label\n1,2,a\n3,4,\n", "t.csv line 3, the target column 2 ('label'): the target is missing"),
    ("1,2,0.5\n3,4,inf\n5,6,1.5\n", "t.csv line 2, the target column 2: 'inf' is not a finite number"),
    ("x,y,label\n", "t.csv has a header row but no data rows"),
    ("\n\n  \n", "t.csv has only blank lines"),
])
def test_bad_values_are_refused_naming_the_line_and_column(tmp_path, backend, text, fragment):
    path = write(tmp_path / "t.csv", text)
    with pytest.raises(cli.CommandError) as error:
        cli.read_table(str(path))
    assert fragment in str(error.value)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path, backend):
    path = write(tmp_path / "t.csv", "x,y,label\n1,2,a\n".encode() + "3,4,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(cli.CommandError, match=r"t\.csv is not UTF-8 text \(byte 0xe9 on line 3\): save it as UTF-8"):
        cli.read_table(str(path))


def test_missing_values_in_train_are_a_one_line_error(tmp_path, capsys):
    path = write(tmp_path / "t.csv", "x,y,label\n1,2,a\n3,,b\n")
    status, _, err = run(capsys, "train", "--data", path)
    assert_one_line_error(status, err, "train", "line 3, column 1 ('y'): a missing value")


# --- the target column ---------------------------------------------------------------------------

@pytest.fixture
def eleven(tmp_path):
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.integers(0, 3, 60), rng.normal(size=(60, 10))])
    np.savetxt(tmp_path / "w.csv", data, delimiter=",", fmt="%.6g")
    np.save(tmp_path / "w.npy", data)
    return tmp_path, data


@pytest.mark.parametrize("target", ["100", "11", "-12"])
@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_a_target_outside_the_columns_is_an_error(eleven, target, suffix):
    where, _ = eleven
    # --target 100 on 11 columns used to mean column 1 (100 % 11)
    with pytest.raises(cli.CommandError, match=f"--target {target} is outside the 11 columns of .*w{suffix}: "
                                               r"give 0 to 10, or -11 to -1 from the end"):
        cli.read_table(str(where / f"w{suffix}"), target)


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_negative_targets_count_from_the_end(eleven, suffix):
    where, data = eleven
    for target, column in [("-11", 0), ("0", 0), ("-1", 10), ("last", 10), (None, 10), ("3", 3)]:
        table = cli.read_data(str(where / f"w{suffix}"), target)
        assert np.allclose(table.y, data[:, column], atol=1e-5), target
        assert table.X.shape == (60, 10)
    assert cli.read_data(str(where / f"w{suffix}"), "-11").target == "column -11"
    assert cli.read_table(str(where / f"w{suffix}"), "0")[1].dtype == np.int64  # three classes, in .npy too


def test_an_index_is_not_matched_against_a_first_row_of_numbers(tmp_path):
    # --target 0 used to be looked up among the first row's values: "3.5,7,0" made it
    # column 2 (the 0 there) and dropped that row as a header; or "names 2 columns"
    path = write(tmp_path / "t.csv", "3.5,7,0\n1.5,2,0\n0,1,2\n")
    table = cli.read_data(str(path), "0")
    assert table.y.tolist() == [3.5, 1.5, 0.0] and table.X.tolist() == [[7, 0], [2, 0], [1, 2]]
    assert cli.read_data(str(path), "2").y.tolist() == [0, 0, 2]
    named = cli.read_data(str(path), "0", header="yes")  # a header of numbers, asked for: "0" is its name
    assert named.y.tolist() == [0, 2] and named.target == "column '0'"
    header = write(tmp_path / "h.csv", "a,0,b\n1,2,3\n4,5,6\n")  # a header (text in it): names first
    assert cli.read_data(str(header), "0").y.tolist() == [2, 5]


@pytest.mark.parametrize("target, header, fragment", [
    ("lable", "auto", "has no column named 'lable' (did you mean 'label'?); its columns: 'x', 'y', 'label'"),
    ("label", "no", "--target 'label' is a name, but with --header no the columns of"),
])
def test_a_target_name_that_is_not_there_is_an_error(tmp_path, target, header, fragment):
    path = write(tmp_path / "t.csv", "x,y,label\n1,2,a\n3,4,b\n")
    with pytest.raises(cli.CommandError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        cli.read_table(str(path), target, header=header)
    path = write(tmp_path / "n.csv", "1,2,0\n3,4,1\n")
    with pytest.raises(cli.CommandError, match="the first row of .* holds numbers, not names; give the column's index"):
        cli.read_table(str(path), "label")


@pytest.mark.parametrize("args, fragment", [
    (["--data", "digits", "--target", "3"], "--target applies to CSV and NPY files, not to the bundled dataset"),
    (["--data", "digits", "--header", "yes"], "--header applies to CSV files"),
])
def test_column_options_on_data_without_columns_are_errors(capsys, args, fragment):
    status, _, err = run(capsys, "train", *args)
    assert_one_line_error(status, err, "train", fragment)


# --- predict on the labelled file ---------------------------------------------------------------------

def test_predict_drops_the_label_column_named_by_target(tmp_path, capsys):
    X, y = labelled_csv(tmp_path / "animals.csv")
    status, _, err = run(capsys, "train", "--data", tmp_path / "animals.csv", "--target", "animal", *QUICK,
                         "--set", "epochs=20", "--out", tmp_path / "m.nnf")
    assert status == 0, err
    status, out, err = run(capsys, "predict", tmp_path / "m.nnf", "--data", tmp_path / "animals.csv",
                           "--target", "animal")
    assert status == 0, err
    predicted = out.split()
    assert len(predicted) == len(y) and np.mean(np.array(predicted) == y) > 0.9
    model = nf.load(str(tmp_path / "m.nnf"))
    assert predicted == [str(v) for v in model.predict(X)]

    # the label column of rows yet to be labelled may be empty: it is dropped unread
    write(tmp_path / "new.csv", "a,b,c,d,animal\n-2,-2,-2,-2,\n2,2,2,2,\n")
    status, out, err = run(capsys, "predict", tmp_path / "m.nnf", "--data", tmp_path / "new.csv", "--target", "-1")
    assert status == 0, err
    assert out.split() == ["cat", "dog"]

    status, _, err = run(capsys, "predict", tmp_path / "m.nnf", "--data", tmp_path / "animals.csv")
    assert_one_line_error(status, err, "predict", "line 2, column 4 ('animal'): 'cat' is not a number; if it is a "
                                                  "label column, leave it out with --target")
    np.savetxt(tmp_path / "numbered.csv", np.column_stack([X, y == "dog"]), delimiter=",")
    status, _, err = run(capsys, "predict", tmp_path / "m.nnf", "--data", tmp_path / "numbered.csv")
    assert_one_line_error(status, err, "predict", "numbered.csv has 5 feature columns but", "takes 4 (is one of "
                                                  "them a label column? leave it out with --target)")


# --- files that are not what their names say ----------------------------------------------------------------

BAD_FILES = {
    "fake.npz": (b"a,b\n1,2\n", "fake.npz is not an .npz archive: it is text, CSV by the look of it (name it .csv)"),
    "img.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "img.csv is not CSV text: it is a PNG image"),
    "empty.csv": (b"", "empty.csv is empty"),
    "empty.npy": (b"", "empty.npy is empty"),
    "text.npy": (b"1,2,3\n", "text.npy is not a NumPy .npy file: it is text"),
    "zip.csv": (b"PK\x03\x04rest", "zip.csv is not CSV text: it is a ZIP archive"),
    "nul.csv": (b"1,2\x00\x00,3\n", "nul.csv is not CSV text: it is binary data"),
    "gz.csv": (b"\x1f\x8b\x08\x00", "gz.csv is not CSV text: it is gzip-compressed (decompress it first)"),
    "utf16.csv": ("a,b\n1,2\n".encode("utf-16"), "utf16.csv is not CSV text: it is UTF-16 text (save it as UTF-8)"),
    "trunc.npy": (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
                  "cannot read"),
}


@pytest.mark.parametrize("name", BAD_FILES)
@pytest.mark.parametrize("command", ["train", "tune", "lr-range", "predict"])
def test_a_file_that_is_not_what_its_name_says_is_a_one_line_error(tmp_path, capsys, monkeypatch, name, command):
    monkeypatch.chdir(tmp_path)
    content, fragment = BAD_FILES[name]
    write(tmp_path / name, content)
    if command == "predict":
        model, _ = nf.train(nf.Hyperparameters(hidden=(4,), epochs=1), np.eye(4), [0, 1, 0, 1], verbose=False)
        model.save(str(tmp_path / "m.nnf"))
        args = ["predict", "m.nnf", "--data", name]
    else:
        args = [command, "--data", name, *QUICK] + (["--trials", "1", "--no-test"] if command == "tune" else [])
    status, out, err = run(capsys, *args)
    assert_one_line_error(status, err, command, fragment)
    assert out == ""


def test_npz_holding_objects_or_missing_arrays_is_a_one_line_error(tmp_path, capsys):
    np.savez(tmp_path / "noX.npz", data=np.zeros((3, 2)))
    status, _, err = run(capsys, "train", "--data", tmp_path / "noX.npz")
    assert_one_line_error(status, err, "train", "has no array named 'X' (it holds 'data')")
    np.savez(tmp_path / "obj.npz", X=np.array([[1, None]], dtype=object), y=np.array([1]))
    status, _, err = run(capsys, "train", "--data", tmp_path / "obj.npz")
    assert_one_line_error(status, err, "train", "array 'X' holds Python objects, which nnfast does not unpickle")
    status, _, err = run(capsys, "train", "--data", tmp_path)
    assert_one_line_error(status, err, "train", "is a directory")


def test_an_empty_study_file_is_refused_and_left_alone(tmp_path, capsys):
    write(tmp_path / "empty.db", b"")
    status, _, err = run(capsys, "report", tmp_path / "empty.db")
    assert_one_line_error(status, err, "report", "empty.db is empty, not a study")
    assert (tmp_path / "empty.db").stat().st_size == 0  # SQLite used to turn it into a database


# --- output paths: checked before any work ----------------------------------------------------------------

OUTPUTS = [  # command, the output option, what else it needs
    ("train", "--out", QUICK),
    ("tune", "--out", [*QUICK, "--trials", "1"]),
    ("tune", "--report", [*QUICK, "--trials", "1"]),
    ("tune", "--storage", [*QUICK, "--trials", "1"]),
    ("lr-range", "--plot", ["--steps", "20"]),
    ("predict", "--out", []),
    ("report", "--out", []),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A model to predict with and a finished study to report on."""
    where = tmp_path_factory.mktemp("inputs")
    X, y = nf.data.load_digits()
    model, _ = nf.train(nf.Hyperparameters(hidden=(8,), epochs=1), X[:100], y[:100], verbose=False)
    model.save(str(where / "m.nnf"))
    assert cli.main(["tune", "--trials", "1", "--no-test", *QUICK, "--storage", str(where / "s.db"),
                     "--space", str(write(where / "space.json", '{"lr": [0.01]}'))]) == 0
    return where


@pytest.mark.parametrize("command, option, extra", OUTPUTS, ids=[f"{c} {o}" for c, o, _ in OUTPUTS])
@pytest.mark.parametrize("where, fragment", [
    ("nodir/file.out", "there is no directory nodir"),
    (".", "is a directory; give a file name"),
    ("/proc/nnfast-test.out", "cannot write"),  # unwritable, even for root
])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, monkeypatch, inputs,
                                                                       command, option, extra, where, fragment):
    monkeypatch.chdir(tmp_path)
    if command == "predict":
        args = ["predict", inputs / "m.nnf", "--data", "digits"]
    elif command == "report":
        args = ["report", inputs / "s.db"]
    else:
        args = [command]
    if option == "--storage" and where == "/proc/nnfast-test.out":
        fragment = "--storage /proc/nnfast-test.out"
    status, out, err = run(capsys, *args, *extra, option, where)
    assert_one_line_error(status, err, command, fragment)
    assert out == "" and sorted(os.listdir(tmp_path)) == []  # nothing trained, nothing written


def test_train_checks_its_fractions_before_reading_data(capsys):
    status, _, err = run(capsys, "train", "--test-size", "1.5")
    assert_one_line_error(status, err, "train", "--test-size must be between 0 and 1, got 1.5")


# --- one set of defaults; the task said out loud ------------------------------------------------------

def test_train_tune_and_lr_range_start_from_the_same_defaults(tmp_path, capsys):
    base = nf.Hyperparameters(**cli.BASE_HYPERPARAMETERS)
    assert base.standardize and cli.TUNE_BASE is cli.BASE_HYPERPARAMETERS
    status, _, err = run(capsys, "train", "--set", "hidden=[8]", "--out", tmp_path / "m.nnf")
    assert status == 0, err
    assert nf.load(str(tmp_path / "m.nnf")).hyperparameters == base.replace(hidden=(8,))  # it did not standardise
    # an --hp file goes over the defaults too, as --set does
    write(tmp_path / "hp.json", '{"hidden": [8], "epochs": 3}')
    status, _, err = run(capsys, "train", "--hp", tmp_path / "hp.json", "--out", tmp_path / "m.nnf")
    assert status == 0, err
    assert nf.load(str(tmp_path / "m.nnf")).hyperparameters == base.replace(hidden=(8,), epochs=3)
    for command in ("train", "tune", "lr-range"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "epochs=40, patience=6, standardize=true" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("make, args, task", [
    (lambda p: labelled_csv(p, header=True), ["--target", "animal"],
     "task: classification (2 classes) from column 'animal'"),
    (lambda p: labelled_csv(p, header=False), [], "task: classification (2 classes) from the last column"),
    (lambda p: np.savetxt(p, np.random.default_rng(0).normal(size=(80, 3)), delimiter=","), [],
     "task: regression from the last column"),
    (lambda p: np.savetxt(p, np.random.default_rng(0).normal(size=(80, 3)), delimiter=","), ["--target", "0"],
     "task: regression from column 0"),
    (None, [], "task: classification (10 classes) from the labels of the bundled digits dataset"),
])
@pytest.mark.parametrize("command", ["train", "lr-range", "tune"])
def test_each_command_says_which_task_it_learns_from_which_column(tmp_path, capsys, make, args, task, command):
    data = "digits"
    if make is not None:
        make(tmp_path / "d.csv")
        data = tmp_path / "d.csv"
    extra = {"train": QUICK, "lr-range": ["--steps", "20"],
             "tune": [*QUICK, "--trials", "1", "--no-test", "--report", tmp_path / "r.html"]}[command]
    status, _, err = run(capsys, command, "--data", data, *args, *extra)
    assert status == 0, err
    assert task in err.splitlines()


def test_the_task_follows_the_loss_the_hyperparameters_choose():
    from nnfast.cli.common import describe_task

    hp = nf.Hyperparameters()
    assert describe_task(hp, np.array([0.5, 1.5])) == "regression"
    assert describe_task(hp, np.zeros((4, 3))) == "regression (3 outputs)"
    assert describe_task(hp, np.eye(3)) == "classification (3 classes, one-hot)"
    assert describe_task(hp.replace(loss="mse"), np.array([0, 1, 2])) == "regression"
    assert describe_task(hp.replace(loss="binary_cross_entropy"), np.eye(4)) == "multi-label classification (4 labels)"
    assert describe_task(hp, np.array(["a", "b", "a"])) == "classification (2 classes)"


# --- entry points -----------------------------------------------------------------------------------------

def test_the_console_script_and_python_m_reach_main(tmp_path):
    scripts = [ep for ep in entry_points(group="console_scripts") if ep.name == "nnfast"]
    assert scripts and scripts[0].value == "nnfast.cli:main" and scripts[0].load() is cli.main
    proc = subprocess.run([sys.executable, "-m", "nnfast", "train", "--data", "missing.csv"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr == "nnfast train: error: no dataset or file named 'missing.csv' " \
                                                   "(bundled: digits)\n"


def test_the_names_other_code_imports_stay_in_nnfast_cli():
    for name in ("main", "read_table", "read_space", "space_from_data", "DEFAULT_SPACE", "TUNE_BASE",
                 "read_hyperparameters", "CommandError"):
        assert hasattr(cli, name), name


# --- review of issue 11: the target's text, a header named by the target, outputs over inputs --

def test_a_target_written_with_a_point_is_floating_point_as_pandas_reads_it(tmp_path, backend):
    # ratings written 1.0..5.0 were read as integers and taken for 5 classes; pandas and the
    # Python API read them as floats, a regression target
    rng = np.random.default_rng(0)
    rows = "".join(f"{a:.3f},{b:.3f},{float(r)}\n" for a, b, r in zip(*rng.normal(size=(2, 300)),
                                                                        rng.integers(1, 6, 300)))
    write(tmp_path / "f.csv", rows)
    write(tmp_path / "i.csv", rows.replace(".0\n", "\n"))
    write(tmp_path / "e.csv", "1,2e0\n2,3e0\n3,2e0\n")
    assert cli.read_table(str(tmp_path / "f.csv"))[1].dtype == np.float64
    assert cli.read_table(str(tmp_path / "i.csv"))[1].dtype == np.int64
    assert cli.read_table(str(tmp_path / "e.csv"))[1].dtype == np.float64
    hp = nf.Hyperparameters()
    assert hp.resolve_task(cli.read_table(str(tmp_path / "f.csv"))[1], warn=False).task == "regression"


@pytest.mark.parametrize("target", ["0", "1", "2", "0.5", "-1.25"])
def test_a_first_row_whose_target_is_a_name_over_numbers_is_the_header(tmp_path, backend, target):
    # pandas' to_csv of a frame with integer feature names: "0,1,target"; the name became a
    # class of one row (or, over float values, made the split fail)
    values = [target] * 4 if "." in target or "-" in target else [target, "1", "0", "1"]
    write(tmp_path / "h.csv", "0,1,target\n" + "".join(f"{i},{i + 1},{v}\n" for i, v in enumerate(values)))
    table = cli.read_data(str(tmp_path / "h.csv"))
    assert table.X.shape == (4, 2) and table.columns == ["0", "1", "target"]
    assert "target" not in [str(v) for v in table.y]
    # labels are labels: a word in a column of words says nothing about a header
    write(tmp_path / "l.csv", "1,2,a\n3,4,b\n5,6,a\n")
    assert len(cli.read_table(str(tmp_path / "l.csv"))[0]) == 3
    # a word that appears again further down is a label, not a name
    write(tmp_path / "m.csv", "1,2,x\n3,4,1\n5,6,x\n")
    assert len(cli.read_table(str(tmp_path / "m.csv"))[0]) == 3


def test_an_output_that_is_the_input_is_refused_before_any_work(tmp_path, capsys):
    data = tmp_path / "d.csv"
    labelled_csv(data, rows=60)
    before = data.read_bytes()
    status, _, err = run(capsys, "train", "--data", data, "--out", data, *QUICK)
    assert_one_line_error(status, err, "train", "is the file the command reads")
    assert data.read_bytes() == before
    model = tmp_path / "m.nnf"
    assert run(capsys, "train", "--data", data, "--out", model, *QUICK)[0] == 0
    for argv in (["predict", model, "--data", data, "--target", "animal", "--out", data],
                 ["predict", model, "--data", data, "--target", "animal", "--out", model],
                 ["export", model, "--onnx", model]):
        saved = {p: p.read_bytes() for p in (data, model)}
        status, _, err = run(capsys, *argv)
        assert_one_line_error(status, err, argv[0], "is the file the command reads")
        assert {p: p.read_bytes() for p in (data, model)} == saved
    # through a link too: the same file by another name
    (tmp_path / "link.csv").symlink_to(data)
    status, _, err = run(capsys, "train", "--data", data, "--out", tmp_path / "link.csv", *QUICK)
    assert_one_line_error(status, err, "train", "is the file the command reads")


def test_help_states_the_task_rule(capsys):
    for command in ("train", "tune", "lr-range"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "task=regression" in out and "more than 20 distinct values" in out, command


def test_warnings_are_one_line_without_source_code(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(400, 2)), rng.integers(0, 30, 400)  # 30 integers in 400 rows: a quantity
    np.savetxt(tmp_path / "w.csv", np.c_[X, y], delimiter=",", fmt=["%.5f", "%.5f", "%d"])
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite turns warnings into errors: shown, as outside it
        status, _, err = run(capsys, "train", "--data", tmp_path / "w.csv", *QUICK)
    assert status == 0, err
    lines = [line for line in err.splitlines() if "warning" in line]
    assert lines and all(line.startswith("nnfast train: warning: task='auto'") for line in lines), err
    assert ".py:" not in err and "train_model(" not in err


def test_train_that_diverges_reports_the_validation_scores_of_the_weights_it_kept(capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        status, out, err = run(capsys, "train", "--set", "optimizer=sgd", "--set", "lr=10", "--set", "epochs=5")
    assert status == 0 and "diverged" in out
    line = next(x for x in out.splitlines() if x.startswith("validation "))
    assert "nan" not in line and "(the weights kept when training diverged)" in line
