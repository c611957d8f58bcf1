"""Adapters between PL/Python and the numpy functions of ``python_udfs`` (runs in the server).

The functions ``warehouse udfs deploy`` generates call the numerics through the closures built
here (``scalar`` and ``batch``), once per session and SQL function. Pure: numpy and the
standard library only, nothing server-specific (no ``plpy``) at import time, so the venv's
tests import and exercise this module directly.

Scalar functions receive Python floats/bools (and, for fits, whole arrays as lists, integers,
text or jsonb text; None only for optional arguments of non-STRICT functions) and return a
Python float, str, dict of floats, list of floats or JSON text; NaN becomes None (SQL NULL):
PL/Python cannot return numpy scalars or arrays.

Batch functions move arrays across the PL/Python boundary as *binary array images* instead of
Python lists: PL/Python converts a returned float8 list element by element through
``repr()`` + ``float8in`` (~0.3-0.5 µs each), a ``bytea`` with one ``memcpy``.

- in: the SQL wrapper passes each ``float8[]`` / ``boolean[]`` argument through
  ``quant._array_bytes(anyarray)`` (the built-in ``byteasend``: a detoasted copy of the
  varlena, i.e. PostgreSQL's in-memory ``ArrayType`` image) and ``array_from_image`` reads it
  with ``numpy.frombuffer``; a per-option ``text[]`` argument (e.g. the underlying of each
  option) is passed as it is and arrives as a list of str / None (~0.1 µs per element);
- out: ``float8_array_image`` writes a one-dimensional ``float8[]`` image (NaN -> NULL via the
  null bitmap) that the wrapper turns back into ``float8[]`` with
  ``quant._float8_array_from_image(bytea)`` (``byteasend`` again, declared to return
  ``float8[]``). Only the deploy role may execute that function directly.

ArrayType layout (``src/include/utils/array.h``; the bytea payload is everything after the
4-byte varlena length word): ``int32 ndim, int32 dataoffset, oid elemtype, int32 dims[ndim],
int32 lbound[ndim]``, then when ``dataoffset != 0`` a null bitmap (bit set = not null,
least significant bit first), zero padding up to ``dataoffset`` (MAXALIGN'd, from the start of
the varlena), then the non-null elements; without nulls the data start at MAXALIGN(24) = 24.
Native byte order: the images are built and read inside the server process.
"""

import json
import math
import struct

import numpy as np

__all__ = [
    "array_from_image",
    "batch",
    "float8_array_image",
    "json_text",
    "scalar",
]

FLOAT8OID = 701
BOOLOID = 16
MAXALIGN = 8
_VARHDRSZ = 4
_HEADER = struct.Struct("=iiI")  # ndim, dataoffset, elemtype
_DIM = struct.Struct("=ii")  # dims[0], lbound[0]
_ELEMENT = {FLOAT8OID: np.dtype(np.float64), BOOLOID: np.dtype(np.bool_)}
_EMPTY_FLOAT8 = _HEADER.pack(0, 0, FLOAT8OID)

# argument kinds (the generator writes them into each function body)
SCALAR_FLOAT = "float8"
SCALAR_BOOL = "boolean"
SCALAR_FLOAT_LIST = "float8[]"  # a whole array argument of a scalar function (e.g. dividends)
SCALAR_BOOL_LIST = "boolean[]"  # a whole boolean array argument (e.g. is_call of a surface)
SCALAR_INT = "bigint"  # integer arguments (int4/int8): seeds, path counts
SCALAR_TEXT = "text"
SCALAR_JSON = "jsonb"  # PL/Python passes jsonb as its text; decoded with json.loads
SCALAR_TEXT_LIST = "text[]"  # PL/Python passes a list of str / None
SCALAR_FLOAT_VALUE = "float8 value"  # jsonb-returning functions (fits): a plain Python float
SCALAR_BOOL_VALUE = "boolean value"
ELEM_FLOAT = "elem float8"  # batch: one value per option (length n, or 1 to broadcast)
ELEM_BOOL = "elem boolean"
ELEM_TEXT = "elem text"  # batch: one text per option, passed as text[] (a list of str / None)
WHOLE_FLOAT = "whole float8[]"  # batch: an array passed as is (e.g. a dividend schedule)

# output kinds
OUT_FLOAT = "float8"
OUT_TEXT = "text"
OUT_RECORD = "record"  # composite of float8 fields (dict)
OUT_JSON = "jsonb"  # a dict/list returned as JSON text (numpy scalars -> Python, NaN -> null)
OUT_FLOAT_LIST = "float8[]"  # a scalar function returning one whole array (list of floats)
OUT_FLOAT_ARRAY = "float8[]"  # image bytes
OUT_TEXT_ARRAY = "text[]"  # list of str / None
OUT_RECORD_ARRAYS = "record of float8[]"  # list of image bytes, one per composite field


def array_from_image(image: bytes, elemtype: int = FLOAT8OID) -> tuple[np.ndarray, np.ndarray]:
    """Decode a one-dimensional array image into (values, is_null).

    ``image`` is the bytea payload of ``quant._array_bytes(arr)``. NULL elements get value
    NaN (float8) or False (boolean) and ``is_null`` True. Raises ``ValueError`` for a
    multi-dimensional array or an unexpected element type.
    """
    buf = memoryview(image)
    ndim, dataoffset, etype = _HEADER.unpack_from(buf, 0)
    dtype = _ELEMENT.get(elemtype)
    if dtype is None:
        raise ValueError(f"unsupported element type oid {elemtype}")
    if ndim == 0:
        return np.empty(0, dtype=dtype), np.zeros(0, dtype=bool)
    if ndim != 1:
        raise ValueError(f"expected a one-dimensional array, got {ndim} dimensions")
    if etype != elemtype:
        raise ValueError(f"expected an array of element type oid {elemtype}, got {etype}")
    n, _lbound = _DIM.unpack_from(buf, _HEADER.size)
    start = _HEADER.size + _DIM.size  # 20: the bitmap or (no nulls) the data
    if dataoffset == 0:
        values = np.frombuffer(buf, dtype=dtype, count=n, offset=start).copy()
        return values, np.zeros(n, dtype=bool)
    bitmap = np.frombuffer(buf, dtype=np.uint8, count=(n + 7) // 8, offset=start)
    present = np.unpackbits(bitmap, count=n, bitorder="little").astype(bool)
    k = int(np.count_nonzero(present))
    data = np.frombuffer(buf, dtype=dtype, count=k, offset=dataoffset - _VARHDRSZ)
    values = np.full(n, np.nan) if dtype == np.float64 else np.zeros(n, dtype=dtype)
    values[present] = data
    return values, ~present


def float8_array_image(values) -> bytes:
    """A one-dimensional ``float8[]`` image (bytea payload) of ``values``; NaN -> NULL.

    ``quant._float8_array_from_image`` turns it into a ``float8[]``. An empty input gives the
    empty array ``{}``.
    """
    a = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    n = a.size
    if n == 0:
        return _EMPTY_FLOAT8
    isnan = np.isnan(a)
    if not isnan.any():
        return _HEADER.pack(1, 0, FLOAT8OID) + _DIM.pack(n, 1) + a.tobytes()
    nbitmap = (n + 7) // 8
    unpadded = _VARHDRSZ + _HEADER.size + _DIM.size + nbitmap
    dataoffset = (unpadded + MAXALIGN - 1) // MAXALIGN * MAXALIGN
    bitmap = np.packbits(~isnan, bitorder="little").tobytes()
    return b"".join(
        (
            _HEADER.pack(1, dataoffset, FLOAT8OID),
            _DIM.pack(n, 1),
            bitmap,
            bytes(dataoffset - unpadded),
            a[~isnan].tobytes(),
        )
    )


def _to_float(x) -> float | None:
    v = float(x)
    return None if v != v else v


def _first(result) -> object:
    return np.asarray(result).reshape(-1)[0]


def _plain(value):
    """A JSON-ready copy of ``value``: numpy scalars/arrays -> Python, NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


def json_text(value) -> str:
    """``value`` (dict/list of numbers, numpy allowed) as strict JSON text (NaN -> null)."""
    return json.dumps(_plain(value), allow_nan=False, separators=(",", ":"))


def _optional(convert):
    return lambda v: None if v is None else convert(v)


_SCALAR_CONVERTERS = {
    SCALAR_FLOAT: lambda v: np.array([v], dtype=np.float64),
    SCALAR_BOOL: lambda v: np.array([v], dtype=bool),
    SCALAR_FLOAT_LIST: lambda v: _whole_list(v),
    SCALAR_BOOL_LIST: lambda v: _whole_bool_list(v),
    SCALAR_INT: int,
    SCALAR_TEXT: str,
    SCALAR_JSON: json.loads,
    SCALAR_TEXT_LIST: lambda v: [None if x is None else str(x) for x in v],
    SCALAR_FLOAT_VALUE: float,
    SCALAR_BOOL_VALUE: bool,
}


def scalar(fn, arg_kinds: tuple[str, ...], output: str, fields: tuple[str, ...] = ()):
    """Wrap the vectorised ``fn`` for a scalar SQL function.

    ``float8``/``boolean`` arguments become one-element arrays (``float8 value`` / ``boolean
    value``: plain Python scalars, used by the jsonb-returning fits); whole ``float8[]`` /
    ``boolean[]`` arguments numpy arrays (no NULL elements); integers ``int``, text ``str``,
    ``jsonb`` the decoded value. A NULL argument (only possible for non-STRICT functions with
    optional arguments) is passed as None. The result: for ``float8``/``text`` the first
    element as a Python float/str, for ``record`` a dict of ``fields`` to floats, for
    ``jsonb`` JSON text (numpy values converted, NaN -> null), for ``float8[]`` a list of
    floats. NaN -> None.
    """
    converters = []
    for kind in arg_kinds:
        if kind not in _SCALAR_CONVERTERS:
            raise ValueError(f"unknown scalar argument kind {kind!r}")
        converters.append(_optional(_SCALAR_CONVERTERS[kind]))
    if output not in (OUT_FLOAT, OUT_TEXT, OUT_RECORD, OUT_JSON, OUT_FLOAT_LIST):
        raise ValueError(f"unknown scalar output kind {output!r}")

    def call(*args):
        result = fn(*[conv(v) for conv, v in zip(converters, args, strict=True)])
        if output == OUT_FLOAT:
            return _to_float(_first(result))
        if output == OUT_TEXT:
            return None if result is None else str(_first(result))
        if output == OUT_JSON:
            return None if result is None else json_text(result)
        if output == OUT_FLOAT_LIST:
            if result is None:
                return None
            return [_to_float(v) for v in np.asarray(result, dtype=np.float64).reshape(-1)]
        return {name: _to_float(_first(result[name])) for name in fields}

    return call


def _whole_list(values) -> np.ndarray:
    if any(v is None for v in values):
        raise ValueError("array arguments must not contain NULL elements")
    a = np.array(values, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError("expected a one-dimensional array")
    return a


def _whole_bool_list(values) -> np.ndarray:
    if any(v is None for v in values):
        raise ValueError("array arguments must not contain NULL elements")
    a = np.array(values, dtype=bool)
    if a.ndim != 1:
        raise ValueError("expected a one-dimensional array")
    return a


def _whole_image(image: bytes) -> np.ndarray:
    values, nulls = array_from_image(image, FLOAT8OID)
    if nulls.any():
        raise ValueError("array arguments must not contain NULL elements")
    return values


def batch(fn, arg_kinds: tuple[str, ...], output: str, fields: tuple[str, ...] = ()):
    """Wrap the vectorised ``fn`` for a batch (array in, array out) SQL function.

    Per-option arguments (``elem ...`` kinds) arrive as array images of length n, or 1 to
    broadcast (``elem text``: the text[] itself, a list); a NULL element makes that option's
    outputs NULL (the option is left out of the call). ``whole float8[]`` arguments are
    passed as they are. Returns the output encoded for the SQL wrapper: a float8[] image, a
    list of str/None (text[]), or a list of float8[] images in ``fields`` order.
    """
    for kind in arg_kinds:
        if kind not in (ELEM_FLOAT, ELEM_BOOL, ELEM_TEXT, WHOLE_FLOAT):
            raise ValueError(f"unknown batch argument kind {kind!r}")
    if output not in (OUT_FLOAT_ARRAY, OUT_TEXT_ARRAY, OUT_RECORD_ARRAYS):
        raise ValueError(f"unknown batch output kind {output!r}")
    elem_positions = [i for i, k in enumerate(arg_kinds) if k != WHOLE_FLOAT]

    def call(*images):
        args: list[np.ndarray] = []
        nulls: list[np.ndarray | None] = []
        for kind, image in zip(arg_kinds, images, strict=True):
            if kind == WHOLE_FLOAT:
                args.append(_whole_image(image))
                nulls.append(None)
            elif kind == ELEM_TEXT:
                values, isnull = _text_values(image)
                args.append(values)
                nulls.append(isnull)
            else:
                values, isnull = array_from_image(
                    image, BOOLOID if kind == ELEM_BOOL else FLOAT8OID
                )
                args.append(values)
                nulls.append(isnull)
        lengths = {args[i].size for i in elem_positions}
        n = max(lengths, default=0)
        if not lengths <= {0, 1, n} or (0 in lengths and n > 1):
            raise ValueError(
                "per-option arrays must have the same length (or length 1 to broadcast); got "
                + ", ".join(str(args[i].size) for i in elem_positions)
            )
        if n == 0 or 0 in lengths:
            return _encode(output, fields, {}, np.zeros(0, dtype=bool), 0)
        null = np.zeros(n, dtype=bool)
        for i in elem_positions:
            null |= nulls[i]  # length 1 broadcasts
        if null.all():
            return _encode(output, fields, None, null, n)
        if null.any():
            keep = ~null
            args = [
                a[keep] if (i in elem_positions and a.size == n) else a for i, a in enumerate(args)
            ]
        result = fn(*args)
        return _encode(output, fields, result, null, n)

    return call


def _text_values(values) -> tuple[np.ndarray, np.ndarray]:
    """A text[] argument (PL/Python passes a list of str / None) as (str array, is_null)."""
    a = np.asarray(values if values is not None else [])
    if a.ndim != 1:
        raise ValueError("expected a one-dimensional text array")
    if a.dtype != object:
        return a, np.zeros(a.size, dtype=bool)
    isnull = np.fromiter((v is None for v in a.tolist()), dtype=bool, count=a.size)
    return np.where(isnull, "", a).astype(str), isnull


def _scatter(values, null: np.ndarray, n: int, dtype) -> np.ndarray:
    """Spread the results of the non-null options back to length n (NaN / None elsewhere)."""
    v = np.asarray(values)
    if dtype is not object and not null.any():  # nothing to spread: the results as they are
        return np.broadcast_to(v.reshape(-1) if v.ndim else v, (n,))
    out = np.full(n, None, dtype=object) if dtype is object else np.full(n, np.nan)
    k = int(np.count_nonzero(~null))
    out[~null] = np.broadcast_to(v.reshape(-1) if v.ndim else v, (k,))
    return out


def _encode(output: str, fields: tuple[str, ...], result, null: np.ndarray, n: int):
    """Encode batch results (None: every option NULL) for the SQL wrapper."""
    if output == OUT_FLOAT_ARRAY:
        if result is None:
            return float8_array_image(np.full(n, np.nan))
        return float8_array_image(_scatter(result, null, n, np.float64))
    if output == OUT_TEXT_ARRAY:
        if result is None:
            return [None] * n
        out = _scatter(np.asarray(result, dtype=object), null, n, object)
        return [None if v is None else str(v) for v in out.tolist()]
    if result is None:
        return [float8_array_image(np.full(n, np.nan)) for _ in fields]
    return [float8_array_image(_scatter(result[name], null, n, np.float64)) for name in fields]
