"""Reading the data a command trains or predicts on: a bundled dataset, a CSV, NPY or NPZ file.

Before a file is parsed, its first bytes are checked against what its name says: an
empty file, a PNG named .csv or CSV text named .npz is refused in one line that says
what the file is. CSV is parsed by pandas when it is installed (several times faster than
NumPy, which parses it otherwise, and far faster than Python's csv module); when either
refuses a file or finds values missing, a plain-Python pass over the file finds the
first bad line and says what is wrong there (line, column, value), or reads the file
itself when nothing is (NumPy refuses lines of spaces, which are blank lines here).
So what a file means never depends on which parser read it.

Whether the first row of a CSV is a header is decided on the feature columns
(``--header auto``): a target of labels such as ``cat`` makes no header of a first
row of numbers. One exception: a first row whose target is text found nowhere else in
a column of numbers (``0,1,target`` over numbers) is the header, not a class of one row.

A target written as integers (``2``) is read as integers, one written with a point or an
exponent (``2.0``) as floating-point values, as pandas reads them: the task rule then
takes the latter for a regression target, as it does for arrays in Python.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import difflib
import importlib
import math
import os
import re
import warnings
import zipfile
from array import array
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

from ..data import load_digits
from .common import CommandError

__all__ = ["Table", "read_data", "read_table", "DATASETS", "HEADER_CHOICES", "MISSING"]

DATASETS: Dict[str, Callable[[], Tuple[np.ndarray, np.ndarray]]] = {"digits": load_digits}
FILE_TYPES = (".csv", ".npy", ".npz")
HEADER_CHOICES = ("auto", "yes", "no")
#: what a CSV field may say for "no value" (compared lower-cased, spaces stripped): refused
#: by name, since the network needs every value
MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "?", "#n/a", "<na>"})


@dataclass
class Table:
    """Data as a command reads it.

    Attributes
    ----------
    X : ndarray of shape (rows, features)
        float64 from CSV, as stored from NPY and NPZ.
    y : ndarray of shape (rows,) or (rows, outputs), or None
        The target: int64 for a column of whole numbers (the task rule decides whether
        they are classes), float64 for other numbers, str labels otherwise (CSV and NPY);
        as stored (NPZ).
    target : str
        Where y came from, for messages: ``"column 'digit'"``, ``"the last column"``,
        ``"array 'y'"``; empty without a target.
    columns : list of str, or None
        The header of a CSV that has one (every column, the target's included).
    feature_names : list of str, or None
        The header's names of X's columns, in order (the target's left out).
    """

    X: np.ndarray
    y: Optional[np.ndarray]
    target: str = ""
    columns: Optional[List[str]] = None
    feature_names: Optional[List[str]] = None


def read_table(spec: str, target: Optional[str] = "last", need_target: bool = True,
               header: str = "auto") -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(X, y) of :func:`read_data`."""
    table = read_data(spec, target, header=header, need_target=need_target)
    return table.X, table.y


def read_data(spec: str, target: Optional[str] = None, header: str = "auto", need_target: bool = True) -> Table:
    """The data of a bundled dataset name, a CSV file, an .npy or an .npz file.

    Parameters
    ----------
    spec : str
        ``"digits"``, or a path ending in .csv, .npy or .npz.
    target : str, optional
        The target column of a CSV or NPY file: a header name, an index from 0
        (negative from the end: -1 is the last) or ``"last"``; None means the last
        when ``need_target``, else no target at all. An index outside the columns
        is an error. Bundled datasets and NPZ files (arrays ``X`` and ``y``) keep
        their target apart and take no ``target``.
    header : {"auto", "yes", "no"}
        Whether the first row of a CSV names the columns. ``"auto"``: it does when a
        field of a feature column in it is not a number (or ``target`` names one).
    need_target : bool
        False to read features only (``predict``): a ``target`` column given is then
        dropped from X.

    Returns
    -------
    Table

    Raises
    ------
    CommandError
        With a one-line message for any file that cannot be read as asked: missing,
        empty, not what its name says, not UTF-8, rows of different lengths, a
        missing or non-numeric value (naming its line and column), a target outside
        the columns.
    """
    if header not in HEADER_CHOICES:
        raise CommandError(f"--header takes {', '.join(HEADER_CHOICES)}, got {header!r}")
    if spec in DATASETS:
        _no_column_options(f"the bundled dataset {spec!r}", target, header)
        X, y = DATASETS[spec]()
        return Table(X, y if need_target else None, f"the labels of the bundled {spec} dataset" if need_target else "")
    if os.path.isdir(spec):
        raise CommandError(f"{spec} is a directory; give a .csv, .npy or .npz file")
    if not os.path.exists(spec):
        raise CommandError(f"no dataset or file named {spec!r} (bundled: {', '.join(DATASETS)})")
    kind = os.path.splitext(spec)[1].lower()
    if kind not in FILE_TYPES:
        raise CommandError(f"{spec}: unknown file type (use .csv, .npy or .npz)")
    try:
        _check_contents(spec, kind)
        if kind == ".npz":
            _no_column_options(f"{spec} (an .npz keeps the target in its array 'y')", target, header)
            return _read_npz(spec, need_target)
        if kind == ".npy":
            _no_column_options(None, None, header)
            return _read_npy(spec, target, need_target)
        return _read_csv(spec, target, header, need_target)
    except OSError as exc:
        raise CommandError(f"cannot read {spec}: {exc.strerror or exc}") from None


def _no_column_options(what: Optional[str], target: Optional[str], header: str) -> None:
    if what is not None and target not in (None, "last"):
        raise CommandError(f"--target applies to CSV and NPY files, not to {what}")
    if header != "auto":
        raise CommandError("--header applies to CSV files")


# --- what a file holds ---------------------------------------------------------------------

_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"\x93NUMPY", "a NumPy array (name it .npy)"),
    (b"PK\x03\x04", "a ZIP archive (an .npz is one: name it .npz if it holds arrays X and y)"),
    (b"PK\x05\x06", "an empty ZIP archive"), (b"\x1f\x8b", "gzip-compressed (decompress it first)"),
    (b"BZh", "bzip2-compressed (decompress it first)"), (b"\xfd7zXZ\x00", "xz-compressed (decompress it first)"),
    (b"SQLite format 3\x00", "an SQLite database (a study? see nnfast report)"),
    (b"NNFAST\x00\x00", "an nnfast model (predict with it: nnfast predict MODEL --data ROWS)"),
    (b"\x7fELF", "a program"),
    (b"\xff\xfe", "UTF-16 text (save it as UTF-8)"), (b"\xfe\xff", "UTF-16 text (save it as UTF-8)"),
]


def _what_it_is(head: bytes) -> str:
    """What the first bytes of a file say it is, in words."""
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    if b"\x00" in head:
        return "binary data"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "binary data, or text that is not UTF-8"
    first = head.split(b"\n", 1)[0]
    return "text, CSV by the look of it (name it .csv)" if b"," in first else "text"


def _check_contents(path: str, kind: str) -> None:
    """Refuse a file whose first bytes say it is not what its name says."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        raise CommandError(f"{path} is empty")
    if kind == ".npy":
        if not head.startswith(b"\x93NUMPY"):
            raise CommandError(f"{path} is not a NumPy .npy file: it is {_what_it_is(head)}")
        return
    if kind == ".npz":
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise CommandError(f"{path} is not an .npz archive: it is {_what_it_is(head)}")
        return
    what = _what_it_is(head)
    if what.startswith("binary data, or text"):
        _not_utf8(path)
    if not what.startswith("text"):
        raise CommandError(f"{path} is not CSV text: it is {what}")


def _not_utf8(path: str) -> None:
    """Raise CommandError naming the line of the first byte that is not UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CommandError(f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): "
                           f"save it as UTF-8") from None
    raise CommandError(f"{path} is not UTF-8 text: save it as UTF-8")


# --- NPY and NPZ ---------------------------------------------------------------------------

_Loaded = TypeVar("_Loaded")


def _load_array(path: str, load: Callable[[], _Loaded], name: str) -> _Loaded:
    try:
        return load()
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickled" in str(exc):
            raise CommandError(f"{path}: {name} holds Python objects, which nnfast does not unpickle; "
                               f"save numbers (and labels as numbers or strings)") from None
        raise CommandError(f"cannot read {path}: {exc}") from None
    except (EOFError, zipfile.BadZipFile) as exc:
        raise CommandError(f"cannot read {path}: it is truncated or damaged ({exc})") from None


def _features(path: str, X: np.ndarray, name: str) -> np.ndarray:
    if X.ndim != 2:
        raise CommandError(f"{path}: {name} must be a 2-D array (rows, columns), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise CommandError(f"{path}: {name} must hold numbers, not {X.dtype} values")
    return X


def _read_npy(path: str, target: Optional[str], need_target: bool) -> Table:
    arr = _features(path, _load_array(path, lambda: np.load(path, allow_pickle=False), "the array"), "the array")
    width = arr.shape[1]
    column, label = _target_index(path, target, width, need_target)
    if column is None:
        return Table(arr, None)
    if width < 2 and need_target:
        raise CommandError(f"{path} has one column, the target: no features to learn from")
    X = np.delete(arr, column, axis=1)
    return Table(X, _target_from_numbers(arr[:, column]), label)


def _read_npz(path: str, need_target: bool) -> Table:
    with _load_array(path, lambda: np.load(path, allow_pickle=False), "the archive") as data:
        names = list(data.files)
        if "X" not in names:
            held = ", ".join(repr(n) for n in names) if names else "no arrays"
            raise CommandError(f"{path} has no array named 'X' (it holds {held}); save it with "
                               f"numpy.savez(path, X=X, y=y)")
        if need_target and "y" not in names:
            raise CommandError(f"{path} has no array named 'y', the target (it holds {', '.join(map(repr, names))})")
        X = _features(path, _load_array(path, lambda: data["X"], "array 'X'"), "array 'X'")
        y = _load_array(path, lambda: data["y"], "array 'y'") if need_target else None
    if y is not None:
        if y.ndim not in (1, 2) or len(y) != len(X):
            raise CommandError(f"{path}: array 'y' must have one row per row of 'X' ({len(X)}), got shape {y.shape}")
        return Table(X, y, "array 'y'")
    return Table(X, None)


def _target_index(path: str, target: Optional[str], width: int, need_target: bool) -> Tuple[Optional[int], str]:
    """The target column of an NPY file (no names) and how to call it."""
    if target is None:
        if not need_target:
            return None, ""
        target = "last"
    if target == "last":
        return width - 1, "the last column"
    index = _as_index(target)
    if index is None:
        raise CommandError(f"--target {target!r}: an .npy file has no column names; give the column's index "
                           f"({_index_range(width)})")
    return _checked_index(path, target, index, width), _column_words(index % width, width, None, target)


def _as_index(text: str) -> Optional[int]:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _index_range(width: int) -> str:
    return f"0 to {width - 1}, or -{width} to -1 from the end" if width > 1 else "0 or -1"


def _checked_index(path: str, target: str, index: int, width: int) -> int:
    if not -width <= index < width:
        raise CommandError(f"--target {target} is outside the {width} column{'s' if width != 1 else ''} of {path}: "
                           f"give {_index_range(width)}")
    return index % width


def _column_words(column: int, width: int, columns: Optional[List[str]], given: Optional[str]) -> str:
    """How a message names the target column: ``column 'digit'``, ``the last column``, ``column 3``."""
    name = f" {columns[column]!r}" if columns else ""
    if given in (None, "last"):
        return f"the last column{',' + name if name else ''}"
    if columns and given == columns[column]:
        return f"column{name}"
    last = " (the last)" if column == width - 1 else ""
    return f"column {given}{name}{last}" if not name else f"column {given} ({name.strip()}){last}"


# --- CSV ------------------------------------------------------------------------------------

@dataclass
class _Layout:
    """What the first row of a CSV file told: its width, the target, the header."""

    path: str
    width: int
    column: Optional[int]  # the target's index
    header: bool
    header_end: int  # physical lines up to the end of the first record (blank lines before it included)
    names: Optional[List[str]]
    keep_target: bool = True  # False: the target column is dropped unread (predict on a labelled file)
    hint: str = ""  # said after "is not a number"

    @property
    def features(self) -> List[int]:
        return [i for i in range(self.width) if i != self.column]

    def where(self, line: int, column: int) -> str:
        name = f" ({self.names[column]!r})" if self.names else ""
        what = "the target column" if column == self.column else "column"
        return f"{self.path} line {line}, {what} {column}{name}"


def _blank(record: List[str]) -> bool:
    """A line with nothing on it, or only spaces (pandas skips both; so does every path here)."""
    return not record or (len(record) == 1 and not record[0].strip())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _records(path: str) -> Iterator[Tuple[int, List[str]]]:
    """(physical line at the end of the record, fields) of each non-blank record of a CSV file."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            for record in reader:
                if not _blank(record):
                    yield reader.line_num, record
        except csv.Error as exc:
            raise CommandError(f"{path} line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError:
            _not_utf8(path)


def _read_csv(path: str, target: Optional[str], header: str, need_target: bool) -> Table:
    first = next(_records(path), None)
    if first is None:
        raise CommandError(f"{path} has only blank lines")
    header_end, record = first
    fields = [f.strip() for f in record]
    width = len(fields)
    column, named = _csv_target(path, target, fields, header, need_target)
    features = [i for i in range(width) if i != column]
    if not features:
        raise CommandError(f"{path} has one column, the target: no features to learn from")
    if header == "auto":  # the feature columns decide: a target of labels says nothing about a header
        has_header = named or any(fields[i] and not _is_number(fields[i]) for i in features)
    else:
        has_header = header == "yes"
    hint = "" if need_target or column is not None else "; if it is a label column, leave it out with --target"
    layout = _Layout(path, width, column, has_header, header_end, fields if has_header else None, need_target, hint)
    parsed = _parse_fast(layout)
    X, codes, labels = parsed if parsed is not None else _parse_python(layout)
    if (header == "auto" and not has_header and codes is not None and labels is not None
            and _target_names_the_column(codes, labels)):
        # "f1,f2,target" over numbers: the features' names were numbers, the target's is not
        layout = replace(layout, header=True, names=fields)
        parsed = _parse_fast(layout)
        X, codes, labels = parsed if parsed is not None else _parse_python(layout)
    if X.shape[0] == 0:
        raise CommandError(f"{path} has a header row but no data rows")
    names = None if layout.names is None else [layout.names[i] for i in features]
    if column is None or not need_target:
        return Table(X, None, "", layout.names, names)
    assert codes is not None and labels is not None  # the parsers read a target column kept (keep_target)
    return Table(X, _target_values(codes, labels, layout, column), _column_words(column, width, layout.names, target),
                 layout.names, names)


def _target_names_the_column(codes: np.ndarray, labels: List[str]) -> bool:
    """Whether the target of the first row is a name over a column of numbers: text
    there and nowhere else, every other row's target a number."""
    first = codes[0] if len(codes) else -1
    if first < 0 or _is_number(labels[first].strip()) or len(codes) < 2:
        return False
    return bool((codes == first).sum() == 1) and all(_is_number(t.strip()) for i, t in enumerate(labels) if i != first)


def _csv_target(path: str, target: Optional[str], fields: List[str], header: str,
                need_target: bool) -> Tuple[Optional[int], bool]:
    """The index of the target column, and whether ``target`` named it by its header."""
    width = len(fields)
    if target is None:
        if not need_target:
            return None, False
        target = "last"
    if target == "last":
        return width - 1, False
    # a name only where the first row can be a header: with --header auto, a first row of
    # numbers is data, and --target 0 there is an index, not a value of that row
    may_be_names = header == "yes" or (header == "auto" and not all(_is_number(f) for f in fields if f))
    if may_be_names and target.strip() in fields:
        if fields.count(target.strip()) > 1:
            raise CommandError(f"--target {target!r} names {fields.count(target.strip())} columns of {path}; "
                               f"give the index of one ({_index_range(width)})")
        return fields.index(target.strip()), True
    index = _as_index(target)
    if index is not None:
        return _checked_index(path, target, index, width), False
    if header == "no":
        raise CommandError(f"--target {target!r} is a name, but with --header no the columns of {path} have none; "
                           f"give the column's index ({_index_range(width)})")
    if all(_is_number(f) for f in fields if f):
        raise CommandError(f"--target {target!r} is a name, but the first row of {path} holds numbers, not names; "
                           f"give the column's index ({_index_range(width)})")
    close = difflib.get_close_matches(target, fields, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(repr(f) for f in fields[:12]) + (", ..." if width > 12 else "")
    raise CommandError(f"{path} has no column named {target!r}{hint}; its columns: {shown}")


def _pandas() -> Optional[ModuleType]:
    """pandas, when it is installed (imported on first use: it takes a while)."""
    try:
        return importlib.import_module("pandas")
    except ImportError:
        return None


#: what a CSV parser gives: X (rows, features), and for a target column read its codes (rows,),
#: indices into its distinct texts, and those texts (None, None without one)
_Parsed = Tuple[NDArray[np.float64], Optional[NDArray[np.signedinteger[Any]]], Optional[List[str]]]


def _parse_fast(layout: _Layout) -> Optional[_Parsed]:
    """(X, target codes, labels) by pandas or NumPy, or None when they refuse the file or
    find a value missing: then the plain pass says where, or reads what they could not."""
    pandas = _pandas()
    try:
        X, codes, labels = _parse_pandas(pandas, layout) if pandas is not None else _parse_numpy(layout)
    except (ValueError, TypeError, UnicodeDecodeError, IndexError):  # pandas' parser errors are ValueErrors
        return None
    if X.size and not (np.isfinite(X.min()) and np.isfinite(X.max())):  # NaN from short rows, "nan", "inf"
        return None
    if codes is not None and labels is not None and (
            np.any(codes < 0) or any(str(v).strip().lower() in MISSING for v in labels)):
        return None  # a short row (pandas fills it with NaN) or a missing target
    return X, codes, labels


def _parse_pandas(pandas: ModuleType, layout: _Layout) -> _Parsed:
    dtype: Dict[int, type] = {i: np.float64 for i in layout.features}
    if layout.column is not None:
        dtype[layout.column] = object  # labels of any kind; numbers among them are converted below
    frame = pandas.read_csv(layout.path, header=0 if layout.header else None, names=list(range(layout.width)),
                            index_col=False, dtype=dtype, na_filter=False, encoding="utf-8-sig", quotechar='"',
                            skip_blank_lines=True, engine="c", comment=None)
    if layout.column is None:
        return frame.to_numpy(np.float64), None, None
    target = frame.pop(layout.column)
    if not layout.keep_target:
        return frame.to_numpy(np.float64), None, None
    codes, labels = pandas.factorize(target, sort=False, use_na_sentinel=True)  # NaN (a short row) is -1
    return frame.to_numpy(np.float64), codes, [str(v) for v in labels]


def _parse_numpy(layout: _Layout) -> _Parsed:
    labels: Dict[str, int] = {}

    def label_code(text: str) -> float:  # the target, a label of any kind, as its code
        return float(labels.setdefault(text, len(labels))) if layout.keep_target else 0.0

    converters: Optional[Mapping[Union[int, str], Callable[[str], float]]] = (
        None if layout.column is None else {layout.column: label_code})
    with warnings.catch_warnings():
        # blank lines are skipped, as they should be: NumPy says so in a warning
        warnings.filterwarnings("ignore", message="Input line", category=UserWarning)
        warnings.filterwarnings("ignore", message="loadtxt: input contained no data", category=UserWarning)
        data = np.loadtxt(layout.path, delimiter=",", quotechar='"', dtype=np.float64, comments=None,
                          skiprows=layout.header_end if layout.header else 0, ndmin=2, encoding="utf-8-sig",
                          converters=converters)
    if data.shape[0] == 0:
        data = np.empty((0, layout.width))
    if data.shape[1] != layout.width:
        raise ValueError("rows of another width")
    if layout.column is None:
        return data, None, None
    X = np.delete(data, layout.column, axis=1)
    if not layout.keep_target:
        return X, None, None
    return X, data[:, layout.column].astype(np.intp), list(labels)


def _parse_python(layout: _Layout) -> _Parsed:
    """The file read record by record: the first bad line raises CommandError naming it."""
    features, column = layout.features, layout.column
    values = array("d")
    codes = array("q")
    labels: Dict[str, int] = {}
    rows = 0
    records = _records(layout.path)
    if layout.header:
        next(records, None)
    for line, record in records:
        if len(record) != layout.width:
            first = "the header" if layout.header else "the first row"
            raise CommandError(f"{layout.path} line {line} has {len(record)} field{'s' if len(record) != 1 else ''}; "
                               f"{first} has {layout.width}")
        for i in features:
            values.append(_number(record[i], layout, line, i))
        if column is not None and layout.keep_target:
            text = record[column].strip()
            if text.lower() in MISSING:
                raise CommandError(f"{layout.where(line, column)}: the target is missing ({_short(record[column])}); "
                                   f"drop the row or fill it in")
            codes.append(labels.setdefault(text, len(labels)))
        rows += 1
    X = np.frombuffer(values, dtype=np.float64).reshape(rows, len(features)) if rows else np.empty((0, len(features)))
    if column is None or not layout.keep_target:
        return X, None, None
    return X, np.frombuffer(codes, dtype=np.int64), list(labels)


def _number(text: str, layout: _Layout, line: int, column: int) -> float:
    value = text.strip()
    if value.lower() in MISSING:
        what = "an empty field" if not value else _short(text)
        raise CommandError(f"{layout.where(line, column)}: a missing value ({what}); every feature needs a "
                           f"number: fill it in or drop the row")
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or "_" in value:
        raise CommandError(f"{layout.where(line, column)}: {_short(text)} is not a number{layout.hint}")
    if not math.isfinite(number):
        raise CommandError(f"{layout.where(line, column)}: {_short(text)} is not a finite number")
    return number


def _line_of_row(layout: _Layout, row: int) -> int:
    """The physical line that holds data row ``row`` (from 0) of the file."""
    records = _records(layout.path)
    if layout.header:
        next(records, None)
    for i, (line, _) in enumerate(records):
        if i == row:
            return line
    return -1  # not reached: the row was read from this file


def _target_values(codes: NDArray[np.signedinteger[Any]], labels: List[str], layout: _Layout,
                   column: int) -> np.ndarray:
    """The target column (``column`` of the file) from its codes (rows,) and distinct texts:
    numbers or labels."""
    texts = [t.strip() for t in labels]
    if not all(_is_number(t) for t in texts):  # labels of any kind, kept as text
        distinct, inverse = np.unique(np.array(texts), return_inverse=True)  # " a" and "a" are one label
        texts_of_rows: NDArray[np.str_] = distinct[inverse[codes]]
        return texts_of_rows
    numbers = np.array([float(t) for t in texts], dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad[codes])[0])
        raise CommandError(f"{layout.where(_line_of_row(layout, row), column)}: "
                           f"{_short(labels[codes[row]])} is not a finite number")
    if all(_INTEGER.match(t) for t in texts):  # written as integers: read as pandas reads them
        return _target_from_numbers(numbers[codes])
    values: NDArray[np.float64] = numbers[codes]
    return values  # "2.0", "1e3": floating-point values, a regression target as in Python


#: a target written as an integer (what pandas reads as int64)
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def _target_from_numbers(y: np.ndarray) -> np.ndarray:
    """A column of numbers as the target: whole numbers as int64, anything else float64.
    Whether integers are class labels or quantities is the task rule's to say
    (``task="auto"``, nnfast._targets.resolve_task), as for arrays given in Python.
    (A CSV target comes here only when it is written as integers, ``2`` not ``2.0``;
    an .npy file's one dtype cannot tell, so its whole numbers count as integers.)"""
    y = np.asarray(y, dtype=np.float64)
    if not np.isfinite(y).all():
        return y  # training names the problem
    whole = y.size and np.all(y == np.round(y)) and np.abs(y).max() < 2**53
    return y.astype(np.int64) if whole else y


def add_data_arguments(parser: argparse.ArgumentParser, *, predict: bool = False, default: Optional[str] = "digits",
                       purpose: str = "") -> None:
    """--data, --target and --header, as every command that reads data takes them;
    ``purpose`` starts --data's help (what the command does with the data)."""
    if predict:
        parser.add_argument("--data", required=True, help="the rows to predict: a .csv, .npy or .npz file")
        parser.add_argument("--target", metavar="COLUMN",
                            help="a label column to leave out (CSV or NPY: its header name, or its index from 0, "
                                 "negative from the end), to predict on the file the model was trained on")
    else:
        shown = f" (default: {default})" if default else ""
        parser.add_argument("--data", help=f"{purpose}bundled dataset name ({', '.join(DATASETS)}), or a .csv, "
                                           f".npy or .npz file{shown}")
        parser.add_argument("--target", metavar="COLUMN",
                            help="the target column of a CSV or NPY file: its header name, or its index from 0 "
                                 "(negative from the end: -1 is the last); default: the last column")
    parser.add_argument("--header", choices=HEADER_CHOICES,
                        help="whether the first row of a CSV file names the columns (default: auto, which says "
                             "yes when a feature column holds something other than a number there, or the "
                             "target holds text there over a column of numbers)")
