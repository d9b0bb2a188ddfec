"""Fuzzed data: either a valid Dataset or one DataError line, and nothing written.

Property-based tests (hypothesis) on every way data comes in: NumPy arrays,
pandas tables, and CSV, Parquet and NPZ files with generated content (NaN, inf,
huge values, odd dtypes, mismatched lengths, one class, empty files, duplicate
and unicode column names, corrupted bytes). Valid inputs may succeed and then
must be usable as given (finite float32 features, int64 classes or finite
float32 targets, splits that add up); everything else must raise a
:class:`~whynet.exceptions.DataError` whose message is one line. No other
exception type may escape, and loading must not create or change files.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from whynet.config import DataConfig
from whynet.data import Dataset, from_arrays, from_frame, load_dataset
from whynet.exceptions import DataError, UserError

# No example database: it would be written into the working directory, which
# these tests require to stay empty.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 3.5e38, 1e300, 5e-324, -0.0]
HUGE_INTS = [2**62, -(2**63), 2**63, 2**64 - 1, 10**30]


clean_floats = st.floats(-1e3, 1e3, allow_nan=False)


def _floats() -> st.SearchStrategy[float]:
    """Mostly ordinary numbers, sometimes NaN, inf or values near the float64 limits."""
    return st.one_of(
        clean_floats,
        clean_floats,
        clean_floats,
        st.sampled_from(SPECIAL_FLOATS),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def _one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (hypothesis favours small integers, not this)."""
    return st.sampled_from([False] * (n - 1) + [True])


odd_text = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["", " ", "a\nb", "\r", "\u2028", "nan", "inf", "1e400", "NULL", "é", "🙂"]),
)
python_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(HUGE_INTS),
    _floats(),
    odd_text,
    st.binary(max_size=4),
    st.complex_numbers(max_magnitude=10),
    st.datetimes(),
)

# dtypes of feature arrays, with how likely each is (the numeric ones most).
X_DTYPES: list[Any] = [
    np.float64, np.float64, np.float64, np.float32, np.float16, np.int64, np.int64, np.int8,
    np.uint8, np.uint16, np.uint64, np.bool_, np.complex128, "U4", "S4", "M8[ns]", "m8[s]",
    object, object, np.longdouble,
]  # fmt: skip


def _array(dtype: Any, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """An array of ``dtype``: about half the float ones hold only ordinary numbers."""
    kind = np.dtype(dtype).kind
    if kind in "fO":
        options = [clean_floats, clean_floats, _floats()]
        if kind == "O":
            options.append(st.one_of(_floats(), python_scalars))
        # Hypothesis checks that elements fit the dtype exactly; cast instead.
        return (
            st.sampled_from(options)
            .flatmap(lambda elements: hnp.arrays(object, shape, elements=elements))
            .map(lambda a: _cast(a, dtype))
        )
    if kind == "c":
        return hnp.arrays(dtype, shape, elements=st.complex_numbers(max_magnitude=1e3))
    return hnp.arrays(dtype, shape)


def _cast(values: np.ndarray, dtype: Any) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return values.astype(dtype)


@st.composite
def labels(draw: st.DrawFn, n: int) -> np.ndarray:
    """Targets of length ``n``: a few classes of some type, or real numbers."""
    kind = draw(
        st.sampled_from(["int", "int", "str", "float", "bool", "object", "one", "huge", "complex"])
    )
    if kind == "float":
        return draw(_array(np.float64, (n,)))
    if kind == "complex":
        return draw(_array(np.complex128, (n,)))
    if kind == "one":
        return np.full(n, draw(st.sampled_from([0, "a", 1.5, True])))
    pools: dict[str, list[Any]] = {
        "int": [0, 1, 2],
        "str": ["cat", "dog", "🙂", "", "a\nb"],
        "bool": [True, False],
        "object": [1, "1", 1.0, None, b"x", math.nan],
        "huge": [1e20, 2e20, -(2**63), 2**64 - 1, 10**30],
    }
    pool = draw(st.lists(st.sampled_from(pools[kind]), min_size=1, max_size=4, unique=True))
    values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return np.array(values, dtype=object if kind in ("object", "huge") else None)


@st.composite
def split_settings(draw: st.DrawFn, *, python: bool) -> dict[str, Any]:
    """Split and missing-value settings: mostly valid; from Python, sometimes of the wrong type."""
    out: dict[str, Any] = {}
    if draw(_one_in(4)):
        tasks = ["classification", "regression"] + (["Regression", ""] if python else [])
        out["task"] = draw(st.sampled_from(tasks))
    if draw(_one_in(5)):
        out["n_samples"] = draw(st.integers(10, 80))
    if draw(_one_in(4)):
        modes = ["impute", "drop", "error"] + (["fill", None] if python else [])
        out["missing"] = draw(st.sampled_from(modes))
    if draw(_one_in(5)):
        out["val_fraction"] = draw(st.sampled_from([0.1, 0.25, 0.4, 0.05]))
        out["test_fraction"] = draw(st.sampled_from([0.1, 0.25, 0.4, 0.05]))
    if python and draw(_one_in(8)):
        key = draw(st.sampled_from(["val_fraction", "test_fraction", "seed", "n_samples"]))
        out[key] = draw(
            st.sampled_from(
                [0, 1, -1, 0.0, 1.0, 0.95, math.nan, math.inf, True, "0.2", None, 2**32, 1.5,
                 np.int64(3), np.float64(0.2), 0, 3]
            )
        )  # fmt: skip
    return out


def _rows(rows: int | None, options: dict[str, Any]) -> int | None:
    """The rows a data set must have, unless ``data.missing: drop`` may drop some."""
    return None if options.get("missing") == "drop" else rows


def _count(n_samples: Any) -> int | None:
    """``n_samples`` as the loaders read it, when it is a valid one."""
    if isinstance(n_samples, int | np.integer) and not isinstance(n_samples, bool):
        return int(n_samples)
    return None


def check_dataset(ds: Dataset, *, rows: int | None = None, n_samples: int | None = None) -> None:
    """The invariants of a loaded data set."""
    assert isinstance(ds, Dataset)
    spec = ds.spec
    splits = (ds.train, ds.val, ds.test)
    assert (spec.n_train, spec.n_val, spec.n_test) == tuple(len(s) for s in splits)
    for split in splits:
        assert len(split.x) == len(split.y) >= 1
        assert split.x.dtype == np.float32 and split.x.flags.c_contiguous
        assert split.x.shape[1:] == spec.input_shape
        assert np.isfinite(split.x).all(), "non-finite features"
        if spec.task == "classification":
            assert split.y.dtype == np.int64
            assert spec.n_classes is not None and spec.class_names is not None
            assert spec.n_classes == len(spec.class_names) >= 2
            assert ((split.y >= 0) & (split.y < spec.n_classes)).all()
        else:
            assert spec.task == "regression" and spec.n_classes is None
            assert split.y.dtype == np.float32
            assert np.isfinite(split.y).all(), "non-finite targets"
    if spec.feature_names is not None and len(spec.input_shape) == 1:
        assert len(spec.feature_names) == spec.input_shape[0]
    if rows is not None:
        used = rows if n_samples is None or n_samples >= rows else n_samples
        assert spec.n_train + spec.n_val + spec.n_test == used
    assert isinstance(spec.fingerprint, str) and len(spec.fingerprint) == 16


def check_data_outcome(
    fn: Callable[[], Dataset], *, rows: int | None = None, n_samples: int | None = None
) -> Dataset | None:
    """Run ``fn``: a valid data set, or a one-line DataError; nothing else escapes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = fn()
    except DataError as error:
        assert isinstance(error, UserError)
        message = str(error)
        assert message.strip(), "empty message"
        assert message.splitlines() == [message], f"multi-line message: {message!r}"
        assert error.__cause__ is None
        assert error.__suppress_context__ or error.__context__ is None
        event("outcome: DataError")
        event("error: " + " ".join(message.split()[1:5]))
        return None
    check_dataset(ds, rows=rows, n_samples=n_samples)
    event(f"outcome: {ds.spec.task}")
    return ds


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory; each example checks it stays empty."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert list(cwd.iterdir()) == []


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# Arrays.


@st.composite
def array_inputs(draw: st.DrawFn) -> tuple[Any, Any, int | None]:
    """``(x, y, rows)``; ``rows`` is None when x and y are not one row per target."""
    n = draw(st.one_of(st.integers(15, 60), st.integers(0, 15)))
    dtype = draw(st.sampled_from(X_DTYPES))
    sample = draw(
        st.sampled_from([(3,), (3,), (1,), (0,), (), (4, 4), (4, 4, 1), (2, 3, 3), (2, 2, 2, 1)])
    )
    x: Any = draw(_array(dtype, (n, *sample)))
    y: Any = draw(labels(n))
    rows: int | None = n
    shape = draw(st.sampled_from(range(20)))
    if shape == 0:  # lengths that do not match
        y = y[: max(0, n - draw(st.integers(1, 3)))]
        rows = None
    elif shape == 1:
        y = y[:, None]  # (n, 1) is read as (n,)
    elif shape == 2:
        y = np.stack([y, y], axis=1)
        rows = None
    elif shape == 3:
        x = np.asarray(draw(python_scalars), dtype=object)  # a scalar x
        rows = None
    elif shape == 4:  # ragged nested lists
        x = [[1.0, 2.0], [3.0]] * max(1, n // 2)
        rows = None
    elif shape == 5:
        y = list(y)
    return x, y, rows


@settings(FUZZ, max_examples=300)
@given(inputs=array_inputs(), options=split_settings(python=True))
def test_from_arrays(
    inputs: tuple[Any, Any, int | None], options: dict[str, Any], empty_cwd: Path
) -> None:
    x, y, rows = inputs
    x_before = x.copy() if isinstance(x, np.ndarray) else None
    n_samples = options.get("n_samples")
    check_data_outcome(
        lambda: from_arrays(x, y, **options),
        rows=_rows(rows, options),
        n_samples=_count(n_samples),
    )
    if x_before is not None:  # the caller's array is not changed
        assert x.dtype == x_before.dtype and x.shape == x_before.shape
        if x.dtype.hasobject:
            assert all(a is b for a, b in zip(x.ravel(), x_before.ravel(), strict=True))
        else:
            assert x.tobytes() == x_before.tobytes()
    assert list(empty_cwd.iterdir()) == []


@st.composite
def usable_labels(draw: st.DrawFn, n: int) -> tuple[np.ndarray, str]:
    """``(y, task)``: balanced classes of some type, or finite numbers of any size."""
    task = draw(st.sampled_from(["auto", "auto", "classification", "regression"]))
    if task == "regression" or (task == "auto" and draw(st.booleans())):
        dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.uint64]))
        return draw(
            hnp.arrays(
                dtype,
                (n,),
                elements=hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False),
            )
        ), task
    k = draw(st.sampled_from([2, 2, 3, 4]))
    names = draw(
        st.sampled_from(
            [[0, 1, 2, 3], ["no", "yes", "maybe", ""], [1.5, -2.0, 1e300, 5e-324],
             [2**63, 2**64 - 1, 10**30, -(2**63)], ["🙂", "a\nb", "\u2028", "é"]]
        )
    )  # fmt: skip
    order = draw(st.permutations(range(n)))
    y = np.array(
        [names[i % k] for i in order],
        dtype=object if isinstance(names[0], int) and names[0] > 2**62 else None,
    )
    if k == 2 and draw(_one_in(5)):
        y = np.array([i % 2 == 0 for i in order])
    return y, task


@st.composite
def usable_features(draw: st.DrawFn, n: int) -> np.ndarray:
    """Finite features of any numeric dtype and size: constant, tiny or near the limits."""
    dtype = np.dtype(
        draw(
            st.sampled_from(
                [
                    np.float64,
                    np.float32,
                    np.float16,
                    np.int64,
                    np.uint64,
                    np.int8,
                    np.uint8,
                    np.bool_,
                ]
            )
        )
    )
    sample = draw(st.sampled_from([(1,), (3,), (5,), (4, 4), (3, 3, 2)]))
    elements = draw(
        st.sampled_from(
            [
                hnp.from_dtype(dtype, allow_nan=False, allow_infinity=False),
                hnp.from_dtype(
                    dtype, allow_nan=False, allow_infinity=False, min_value=0, max_value=100
                )
                if dtype.kind != "b"
                else hnp.from_dtype(dtype),
            ]
        )
    )
    return draw(hnp.arrays(dtype, (n, *sample), elements=elements))


@settings(FUZZ, max_examples=100)
@given(data=st.data(), n=st.integers(20, 80), seed=st.integers(0, 2**32 - 1))
def test_from_arrays_finite_inputs(data: st.DataObject, n: int, seed: int, empty_cwd: Path) -> None:
    """Finite inputs of any size load as finite float32 (or say which feature is too large)."""
    y, task = data.draw(usable_labels(n))
    x = data.draw(usable_features(n))
    check_data_outcome(lambda: from_arrays(x, y, task=task, seed=seed), rows=n)


@settings(FUZZ, max_examples=100)
@given(data=st.data(), n=st.integers(20, 80), n_samples=st.one_of(st.none(), st.integers(10, 80)))
def test_from_frame_finite_inputs(
    data: st.DataObject, n: int, n_samples: int | None, empty_cwd: Path
) -> None:
    """A table of finite numbers, text and bools loads as finite float32."""
    y, task = data.draw(usable_labels(n))
    columns = {}
    for i in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["number", "number", "text", "bool"]))
        if kind == "number":
            columns[f"n{i}"] = data.draw(usable_features(n)).reshape(n, -1)[:, 0]
        elif kind == "text":
            columns[f"t{i}"] = data.draw(
                st.lists(st.sampled_from(["a", "b", "🙂", ""]), min_size=n, max_size=n)
            )
        else:
            columns[f"b{i}"] = data.draw(hnp.arrays(np.bool_, (n,)))
    frame = pd.DataFrame(columns)
    frame["target"] = y
    check_data_outcome(
        lambda: from_frame(frame, target="target", task=task, n_samples=n_samples),
        rows=n,
        n_samples=n_samples,
    )


# Tables.

COLUMN_KINDS = [
    "float", "float", "float", "int", "int", "bool", "str", "str", "object", "category",
    "datetime", "timedelta", "complex", "bytes", "Int64", "string", "Float64", "boolean",
    "huge_int",
]  # fmt: skip


@st.composite
def columns(draw: st.DrawFn, kind: str, n: int) -> Any:
    if kind == "float":
        return draw(_array(np.float64, (n,)))
    if kind == "int":
        return draw(hnp.arrays(np.int64, (n,), elements=st.integers(-100, 100)))
    if kind == "huge_int":
        return np.array(
            draw(st.lists(st.sampled_from(HUGE_INTS), min_size=n, max_size=n)), dtype=object
        )
    if kind == "bool":
        return draw(hnp.arrays(np.bool_, (n,)))
    if kind in ("str", "category", "string"):
        pool = draw(st.lists(odd_text, min_size=1, max_size=4, unique=True))
        values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        if kind == "str":
            return np.array(values, dtype=object)
        return pd.array(values, dtype="category" if kind == "category" else "string")
    if kind == "object":
        return np.array(draw(st.lists(python_scalars, min_size=n, max_size=n)), dtype=object)
    if kind == "datetime":
        return pd.to_datetime(draw(hnp.arrays("M8[s]", (n,))))
    if kind == "timedelta":
        return draw(
            hnp.arrays("m8[s]", (n,), elements=st.integers(-1000, 1000).map(np.timedelta64))
        )
    if kind == "complex":
        return draw(hnp.arrays(np.complex128, (n,), elements=st.complex_numbers(max_magnitude=10)))
    if kind == "bytes":
        return np.array(draw(st.lists(st.binary(max_size=3), min_size=n, max_size=n)), dtype=object)
    pools: dict[str, list[Any]] = {
        "Int64": [1, 2, 3, pd.NA],
        "Float64": [0.5, 1.5, pd.NA],
        "boolean": [True, False, pd.NA],
    }
    values = draw(st.lists(st.sampled_from(pools[kind]), min_size=n, max_size=n))
    if draw(st.booleans()):
        values = [v for v in values if v is not pd.NA] or [pools[kind][0]]
        values = (values * n)[:n]
    return pd.array(values, dtype=kind)


column_names = st.one_of(
    st.sampled_from(["a", "b", "label", "target", "x0", "Unnamed: 0", "index", " a", "A"]),
    odd_text,
    st.integers(-2, 3),
)


@st.composite
def frames(draw: st.DrawFn, *, n_min: int = 0) -> tuple[pd.DataFrame, Any, int]:
    """``(frame, target, rows)``: a table whose target column has a few classes or numbers."""
    n = draw(st.one_of(st.integers(max(n_min, 15), 50), st.integers(n_min, 15)))
    n_features = draw(st.sampled_from([1, 1, 2, 2, 3, 4, 0]))
    size = n_features + 1
    names = draw(st.lists(column_names, min_size=size, max_size=size, unique=not draw(_one_in(6))))
    data = []
    for _ in range(n_features):
        kind = draw(st.sampled_from(COLUMN_KINDS))
        data.append(pd.Series(draw(columns(kind, n))))
    target_kind = draw(st.sampled_from(["labels", "labels", "labels", "float", "category"]))
    if target_kind == "labels":
        target_values: Any = draw(labels(n))
    elif target_kind == "float":
        target_values = draw(_array(np.float64, (n,)))
    else:
        target_values = pd.array(draw(labels(n)).astype(str), dtype="category")
    position = draw(st.integers(0, n_features))
    data.insert(position, pd.Series(target_values))
    frame = pd.concat(data, axis=1, ignore_index=True)
    frame.columns = pd.Index(names, dtype=object)
    target: Any = names[position]
    how = draw(st.sampled_from(range(10)))
    if how == 0:
        target = draw(odd_text)  # maybe not a column
    elif how == 1:
        target = str(target)  # an int column named by its text
    elif how == 2:
        target = draw(st.sampled_from([None, 7, 1.5, ["a"], ("a",), names[position:]]))
    return frame, target, n


@settings(FUZZ, max_examples=300)
@given(table=frames(), options=split_settings(python=True))
def test_from_frame(
    table: tuple[pd.DataFrame, Any, int], options: dict[str, Any], empty_cwd: Path
) -> None:
    frame, target, rows = table
    before = frame.copy(deep=True)
    n_samples = options.get("n_samples")
    check_data_outcome(
        lambda: from_frame(frame, target=target, **options),
        rows=_rows(rows, options),
        n_samples=_count(n_samples),
    )
    pd.testing.assert_frame_equal(frame, before)  # the caller's table is not changed
    assert list(empty_cwd.iterdir()) == []


@settings(FUZZ, max_examples=20)
@given(frame=st.sampled_from([None, [], {}, np.zeros((20, 2)), pd.Series([1, 2]), "x.csv"]))
def test_from_frame_not_a_frame(frame: Any, empty_cwd: Path) -> None:
    check_data_outcome(lambda: from_frame(frame, target="a"))


# Files.


def _load(path: Path, target: Any, options: dict[str, Any], seed: int = 0) -> Callable[[], Dataset]:
    config = DataConfig(source=str(path), target=None if target is None else str(target), **options)
    return lambda: load_dataset(config, seed=seed)


def _check_file(
    tmp_path: Path, cwd: Path, path: Path, target: Any, options: dict[str, Any], rows: int | None
) -> None:
    before = _snapshot(path.parent)
    check_data_outcome(
        _load(path, target, options), rows=_rows(rows, options), n_samples=options.get("n_samples")
    )
    assert _snapshot(path.parent) == before, "loading changed the input folder"
    assert list(cwd.iterdir()) == [], f"loading wrote {list(cwd.iterdir())}"


CSV_TOKENS = [
    ",", ",", ",", "\n", "\n", "\r\n", '"', '""', "a", "b", "label", "0", "1", "2", "1.5", "-3",
    "nan", "NaN", "inf", "-inf", "1e308", "1e400", "-1e400", "99999999999999999999", "True",
    "x", " ", "\t", ";", "#", "é", "🙂", "\x00", "\u2028", "NULL", "N/A", "2024-01-01", "1+2j",
]  # fmt: skip


@st.composite
def csv_texts(draw: st.DrawFn) -> tuple[bytes, str | None, int | None]:
    """``(content, target, rows)`` of a CSV file; ``rows`` when pandas reads it back exactly."""
    how = draw(st.sampled_from(range(10)))
    if how <= 4:
        frame, target, _ = draw(frames())
        index = draw(st.booleans())
        try:
            text = frame.to_csv(index=index)
        except Exception:  # some generated values pandas cannot write
            return b"", None, None
        return text.encode("utf-8", "surrogatepass"), target, None
    if how <= 6:
        header = draw(
            st.lists(st.sampled_from(["a", "b", "label", "é", ""]), min_size=1, max_size=4)
        )
        lines = [",".join(header)]
        for _ in range(draw(st.integers(0, 30))):
            cells = draw(
                st.lists(st.sampled_from(CSV_TOKENS[10:]), min_size=1, max_size=len(header) + 1)
            )
            lines.append(",".join(c.strip(',\n\r"') for c in cells))
        return (
            "\n".join(lines).encode("utf-8", "surrogatepass"),
            draw(st.sampled_from(header)),
            None,
        )
    if how == 7:
        text = "".join(draw(st.lists(st.sampled_from(CSV_TOKENS), max_size=80)))
        return text.encode("utf-8", "surrogatepass"), "label", None
    if how == 8:
        return draw(st.binary(max_size=100)), "label", None
    return (
        draw(st.sampled_from([b"", b"\n", b"label\n", b"a,label\n", b" ", b"\xef\xbb\xbf"])),
        "label",
        None,
    )


@settings(FUZZ, max_examples=250)
@given(content=csv_texts(), options=split_settings(python=False), upper=st.booleans())
def test_load_csv(
    content: tuple[bytes, str | None, int | None],
    options: dict[str, Any],
    upper: bool,
    tmp_path: Path,
    empty_cwd: Path,
) -> None:
    data, target, rows = content
    path = _inputs(tmp_path) / ("data.CSV" if upper else "data.csv")
    path.write_bytes(data)
    _check_file(tmp_path, empty_cwd, path, target, options, rows)


def _parquet_bytes(frame: pd.DataFrame, index_name: Any) -> bytes | None:
    buffer = io.BytesIO()
    if index_name is not None:
        frame = frame.set_axis(pd.Index(range(len(frame)), name=index_name), axis=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # column names of mixed types, stored as text
            frame.to_parquet(buffer, index=index_name is not None)
    except Exception:  # pyarrow cannot store every generated table
        return None
    return buffer.getvalue()


@settings(FUZZ, max_examples=200)
@given(
    table=frames(),
    index_name=st.one_of(st.none(), st.none(), column_names.map(str)),
    damage=st.one_of(
        st.none(),
        st.none(),
        st.none(),
        st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    ),
    options=split_settings(python=False),
)
def test_load_parquet(
    table: tuple[pd.DataFrame, Any, int],
    index_name: Any,
    damage: tuple[int, bytes] | None,
    options: dict[str, Any],
    tmp_path: Path,
    empty_cwd: Path,
) -> None:
    frame, target, rows = table
    data = _parquet_bytes(frame, index_name)
    if data is None:
        # Text columns and names, as a user would store the same table.
        data = _parquet_bytes(
            frame.map(str).set_axis([str(c) for c in frame.columns], axis=1), index_name
        )
        if data is None:
            data = b"PAR1" + repr(frame).encode("utf-8", "surrogatepass")[:100] + b"PAR1"
    expected: int | None = rows if index_name is None else None
    if damage is not None:
        at, junk = damage
        at %= max(1, len(data))
        data = data[:at] + junk + data[at + len(junk) :]
        expected = None
    path = _inputs(tmp_path) / "data.parquet"
    path.write_bytes(data)
    _check_file(tmp_path, empty_cwd, path, target, options, expected)


@st.composite
def npz_files(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """``(content, rows)`` of an NPZ file."""
    x, y, rows = draw(array_inputs())
    how = draw(st.sampled_from(range(10)))
    keys = ("x", "y")
    if how == 0:
        keys = draw(st.sampled_from([("X", "Y"), ("X", "y"), ("features", "y"), ("x", "labels")]))
    buffer = io.BytesIO()
    if how == 1:
        np.save(buffer, np.asarray(x, dtype=object) if isinstance(x, list) else x)  # .npy, not .npz
        return buffer.getvalue(), None
    if how == 2:
        return draw(st.binary(max_size=200)), None
    if how == 3:
        return b"", None
    arrays = {keys[0]: np.asarray(x, dtype=object) if isinstance(x, list) else x, keys[1]: y}
    (np.savez_compressed if draw(st.booleans()) else np.savez)(buffer, **arrays)
    data = buffer.getvalue()
    if how == 4:  # damaged bytes
        at = draw(st.integers(0, len(data) - 1))
        junk = draw(st.binary(min_size=1, max_size=16))
        return data[:at] + junk + data[at + len(junk) :], None
    if how == 5:  # truncated
        return data[: draw(st.integers(0, len(data) - 1))], None
    return data, rows if keys[0] in ("x", "X") and keys[1] in ("y", "Y") else None


@settings(FUZZ, max_examples=250)
@given(content=npz_files(), options=split_settings(python=False))
def test_load_npz(
    content: tuple[bytes, int | None], options: dict[str, Any], tmp_path: Path, empty_cwd: Path
) -> None:
    data, rows = content
    path = _inputs(tmp_path) / "data.npz"
    path.write_bytes(data)
    _check_file(tmp_path, empty_cwd, path, None, options, rows)


@settings(FUZZ, max_examples=60)
@given(
    stem=st.text(min_size=1, max_size=12).filter(
        lambda s: "/" not in s and "\x00" not in s and s not in (".", "..")
    ),
    suffix=st.sampled_from([".csv", ".parquet", ".npz", ".txt", ""]),
    content=st.sampled_from([b"", b"a,label\n", b"a,label\n1,x\n", b"garbage"]),
    target=st.one_of(st.none(), odd_text),
)
def test_load_odd_file_names(
    stem: str, suffix: str, content: bytes, target: str | None, tmp_path: Path, empty_cwd: Path
) -> None:
    inputs = _inputs(tmp_path)
    path = inputs / (stem + suffix)
    try:
        path.write_bytes(content)
    except (OSError, UnicodeEncodeError):  # a name this file system refuses
        return
    _check_file(tmp_path, empty_cwd, path, target, {}, None)


@settings(FUZZ, max_examples=40)
@given(
    source=st.one_of(
        odd_text,
        st.sampled_from(["~nobody-here/x.csv", "~/nope.csv", "digits\n", ".", "nope.csv", "a/b"]),
    )
)
def test_load_odd_sources(source: str, empty_cwd: Path) -> None:
    # An existing folder is read as an image folder (e.g. "~", "/"): not the point here.
    try:
        folder = Path(source).expanduser().is_dir()
    except RuntimeError:  # "~name" of an unknown user
        folder = False
    assume(source in ("", ".") or not folder)
    config = DataConfig(source=source, target="label", n_samples=30)
    check_data_outcome(lambda: load_dataset(config, seed=0))
    assert list(empty_cwd.iterdir()) == []
