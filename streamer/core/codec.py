"""Versioned, data-only state codec: what goes into Faust tables (``value_type=bytes``).

Layout: ``b"STRM"`` + schema version (1 byte) + kind (1 byte: which state type) + flags (1 byte:
bit 0 = body is zlib-compressed, which carries its own checksum; bit 1 = the body is followed by
its CRC-32, 4 bytes big-endian, as every uncompressed body now is) + body. The body is
MessagePack (msgspec) of plain values: each dataclass becomes a map of its field names, and
only the types listed below are allowed, so decoding never builds anything but numbers,
strings, bytes, lists and maps, then the state's own dataclasses from them. Nothing in a record
can name a class or a function: a record that someone else wrote to a changelog topic is data,
never code.

Encoding and decoding are generic over the state's dataclasses: they walk
:func:`dataclasses.fields` with the resolved type hints. Supported field types: ``int``,
``float``, ``str``, ``bool``, ``None``, unions of these (``X | None``), ``Literal``, ``tuple``,
``list``, ``dict`` with ``int`` or ``str`` keys, ``bytes``, ``bytearray``, numpy arrays of
numeric dtypes, nested dataclasses, and :class:`~streamer.core.fingerprints.RotatingBloom`.
Any other type is refused when the state is encoded, with the field's path in the message, so a
new field of an unsupported type fails the contract tests, not production. A field marked
``field(metadata={"transient": True})`` is derived data: not stored, rebuilt by the class's
``codec_check`` hook.

Decoding is total: any bytes give the state or :class:`~streamer.errors.StateCodecError`.
Decoded values are checked against the field types (a ``str`` where an ``int`` belongs is an
error; floats must be finite and within :data:`MAX_FLOAT`; :data:`RANGES` bounds the numbers
of some fields), container lengths against
:data:`CAPS` (or :data:`DEFAULT_CAP`), fixed-size lists against the length of their default,
and the whole record against :data:`MAX_RECORD_BYTES`, so a hostile record cannot inflate
memory. A dataclass may define ``codec_check(self)``, called after
decoding, to refuse inconsistent values (``ValueError``).

:func:`encode` refuses a state whose encoded size exceeds its kind's limit
(:data:`SIZE_LIMITS`, or ``max_bytes``) with :class:`StateTooLarge`.

>>> from streamer.core.customer import CustomerState
>>> s = CustomerState("c1", events_total=3)
>>> data = encode(s)
>>> data[:4], data[4] == SCHEMA_VERSION
(b'STRM', True)
>>> encode(decode(data)) == data
True
>>> decode(data, CustomerState).events_total
3
>>> decode(b"nonsense")
Traceback (most recent call last):
...
streamer.errors.StateCodecError: not streamer state (bad magic)
>>> import pickle
>>> decode(b"STRM" + pickle.dumps(s))
Traceback (most recent call last):
...
streamer.errors.StateCodecError: state schema 128 is not 2
>>> decode_or_fresh(b"STRM\\x02\\x01\\x00\\xc1", CustomerState, lambda: CustomerState("c1"),
...                 lambda err: print("refused:", err)).events_total
refused: corrupt state: not MessagePack
0
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
import zlib
from collections.abc import Callable
from typing import Any, TypeVar, overload

import msgspec
import numpy as np

from streamer.core.clusters import MAX_LISTED, MAX_MEMBERS, TokenState
from streamer.core.customer import (
    SEEN_IDS,
    ClusterMembership,
    CustomerState,
    FeedbackState,
)
from streamer.core.drift import DRIFT_SIGNALS, CustomerDrift
from streamer.core.estimators import MAX_NODES, HalfSpaceTrees, Quantile
from streamer.core.fingerprints import RotatingBloom
from streamer.core.ledger import MAX_GAPS, Handled
from streamer.core.meta import PartitionMeta
from streamer.core.population import MAX_MODELS, POPULATION_LIMITS, Population
from streamer.core.profile import MAX_SETTINGS, MAX_TEMPLATES, RECENT_PROMPTS, CustomerProfile
from streamer.core.scoring import SIGNALS
from streamer.errors import StateCodecError

T = TypeVar("T")

MAGIC = b"STRM"
SCHEMA_VERSION = 2
FLAG_ZLIB = 0x01
FLAG_CRC32 = 0x02
HEADER = len(MAGIC) + 3

#: The state types a record may hold, by their kind byte. Never reuse a number. The worker
#: stores the first three; the parts of a customer state can be stored alone (tests, tools).
KINDS: dict[int, type] = {1: CustomerState, 2: Population, 3: TokenState,
                          4: CustomerProfile, 5: CustomerDrift, 6: PartitionMeta}
_KIND_OF: dict[type, int] = {cls: k for k, cls in KINDS.items()}

#: Default limit on one encoded state, per kind (the project's bound is 20 KB per customer).
SIZE_LIMITS: dict[type, int] = {
    CustomerState: 20 * 1024,
    Population: 256 * 1024,
    TokenState: 256 * 1024,
    CustomerProfile: 20 * 1024,
    CustomerDrift: 20 * 1024,
    PartitionMeta: 1024,
}
#: A record larger than this (before or after decompression) is refused unread.
MAX_RECORD_BYTES = 4 * 1024 * 1024
#: Bodies above this many bytes are zlib-compressed when that makes them smaller. A customer
#: state's body (6.2 KB median, 10.5 KB p99 on the bench's day stream) stays below it: zlib
#: took 100 of the 170 µs of encoding one, and the worker encodes every changed state once per
#: batch (issue 9); the budget (SIZE_LIMITS) is met uncompressed, and the changelog topic and
#: RocksDB can compress blocks of records themselves. Populations and token states compress.
COMPRESS_ABOVE = 12 * 1024
#: Largest magnitude of a stored float; nan and ±inf are refused too (no state needs them, and
#: arithmetic on them can raise where ordinary values cannot).
MAX_FLOAT = 1e15
#: Longest string kept in a state (customer ids, tokens, signal names).
MAX_STR = 4096
#: Length cap of any list/tuple/dict/bytes field without an entry in :data:`CAPS`.
DEFAULT_CAP = 256
#: Length caps of bounded containers, by (dataclass, field): the caps their code enforces.
CAPS: dict[tuple[type, str], int] = {
    (CustomerState, "seen_ids"): SEEN_IDS,
    (Handled, "gaps"): 2 * MAX_GAPS,
    (CustomerState, "signals"): len(SIGNALS) + 8,
    (CustomerState, "tokens"): 16,
    (CustomerState, "alert_signals"): 16,
    (CustomerProfile, "recent"): RECENT_PROMPTS,
    (CustomerProfile, "templates"): MAX_TEMPLATES,
    (CustomerProfile, "settings"): MAX_SETTINGS,
    (FeedbackState, "damped"): len(SIGNALS),
    (ClusterMembership, "members"): MAX_LISTED,
    (ClusterMembership, "shared"): 16,
    (CustomerDrift, "means"): len(DRIFT_SIGNALS),
    (CustomerDrift, "variances"): len(DRIFT_SIGNALS),
    (Population, "medians"): len(POPULATION_LIMITS),
    (Population, "model_first_seen"): MAX_MODELS,
    (HalfSpaceTrees, "limits"): 64,
    (HalfSpaceTrees, "features"): 64,
    (HalfSpaceTrees, "l_mass"): MAX_NODES,  # exact size checked by HalfSpaceTrees.codec_check
    (HalfSpaceTrees, "r_mass"): MAX_NODES,
    (Quantile, "heights"): 5,
    (TokenState, "members"): MAX_MEMBERS,
}
#: Value ranges of numeric fields (every number inside the field, for containers), where the
#: code that uses a value needs more than its type (64-bit hashes go through numpy ``uint64``;
#: a counter that divides). ``tests/unit/test_codec.py`` sets every number to its extremes.
UINT64 = (0, 2**64 - 1)
RANGES: dict[tuple[type, str], tuple[float, float]] = {
    (CustomerState, "seen_ids"): UINT64,
    (CustomerProfile, "recent"): UINT64,
    (CustomerProfile, "gap_n"): (0, 2**63 - 1),  # 1 / (gap_n + 1)
}
#: numpy dtypes an array field may have (never ``object``).
ARRAY_DTYPES = frozenset({"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8",
                          "<f4", "<f8"})
_BLOOM_BYTES = (8, 1 << 16)


class StateTooLarge(StateCodecError):
    """An encoded state is larger than its limit (``size`` and ``limit`` in bytes)."""

    def __init__(self, kind: str, size: int, limit: int) -> None:
        super().__init__(f"{kind} state is {size} bytes, over the {limit}-byte limit")
        self.kind, self.size, self.limit = kind, size, limit


class _Bad(Exception):
    """Internal: a value that does not fit its declared type (message without the value)."""


Enc = Callable[[Any], Any]
Dec = Callable[[Any], Any]


# --- plans: one (encoder, decoder) pair per type, built once -----------------------------------


def _type_name(v: object) -> str:
    return type(v).__name__


def _enc_int(v: Any) -> Any:
    if type(v) is not int and not isinstance(v, np.integer):
        raise _Bad(f"expected int, got {_type_name(v)}")
    return int(v)


def _dec_int(v: Any) -> Any:
    if type(v) is not int:
        raise _Bad(f"expected int, got {_type_name(v)}")
    return v


def _finite(v: float) -> float:
    if not -MAX_FLOAT <= v <= MAX_FLOAT:
        raise _Bad(f"float not finite or beyond ±{MAX_FLOAT:g}")
    return v


def _enc_float(v: Any) -> Any:
    if type(v) is float:
        return _finite(v)
    if type(v) is int or isinstance(v, np.floating | np.integer):
        return _finite(float(v))
    raise _Bad(f"expected float, got {_type_name(v)}")


def _dec_float(v: Any) -> Any:
    if type(v) is float:
        return _finite(v)
    if type(v) is int:
        return _finite(float(v))
    raise _Bad(f"expected float, got {_type_name(v)}")


def _enc_bool(v: Any) -> Any:
    if type(v) is bool:
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    raise _Bad(f"expected bool, got {_type_name(v)}")


def _dec_bool(v: Any) -> Any:
    if type(v) is not bool:
        raise _Bad(f"expected bool, got {_type_name(v)}")
    return v


def _str_codec(cap: int) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if type(v) is not str:
            raise _Bad(f"expected str, got {_type_name(v)}")
        if len(v) > cap:
            raise _Bad(f"string of {len(v)} characters, over {cap}")
        return v

    return check


def _none(v: Any) -> Any:
    if v is not None:
        raise _Bad(f"expected None, got {_type_name(v)}")
    return None


def _bytes_codec(cap: int, out: type) -> tuple[Enc, Dec]:
    def enc(v: Any) -> Any:
        if not isinstance(v, bytes | bytearray | memoryview):
            raise _Bad(f"expected bytes, got {_type_name(v)}")
        if len(v) > cap:
            raise _Bad(f"{len(v)} bytes, over {cap}")
        return bytes(v)

    def dec(v: Any) -> Any:
        if type(v) is not bytes:
            raise _Bad(f"expected bytes, got {_type_name(v)}")
        if len(v) > cap:
            raise _Bad(f"{len(v)} bytes, over {cap}")
        return out(v)

    return enc, dec


def _length(v: Any, cap: int, exact: int | None) -> None:
    n = len(v)
    if exact is not None and n != exact:
        raise _Bad(f"{n} items, expected exactly {exact}")
    if n > cap:
        raise _Bad(f"{n} items, over the cap of {cap}")


def _seq_codec(item: tuple[Enc, Dec], cap: int, exact: int | None, kind: type,
               item_type: Any) -> tuple[Enc, Dec]:
    ienc, idec = item
    accepted = (list, tuple) if kind is list else (tuple, list)
    fast = item_type is int  # the common case: a list of hashes or counters

    def enc(v: Any) -> Any:
        if not isinstance(v, accepted):
            raise _Bad(f"expected {kind.__name__}, got {_type_name(v)}")
        _length(v, cap, exact)
        if fast and all(type(x) is int for x in v):
            return v
        return [ienc(x) for x in v]

    def dec(v: Any) -> Any:
        if type(v) is not list:
            raise _Bad(f"expected array, got {_type_name(v)}")
        _length(v, cap, exact)
        out = v if fast and all(type(x) is int for x in v) else [idec(x) for x in v]
        return out if kind is list else tuple(out)

    return enc, dec


def _fixed_tuple_codec(items: list[tuple[Enc, Dec]]) -> tuple[Enc, Dec]:
    n = len(items)

    def enc(v: Any) -> Any:
        if not isinstance(v, tuple | list) or len(v) != n:
            raise _Bad(f"expected a {n}-tuple")
        return [e(x) for (e, _), x in zip(items, v, strict=True)]

    def dec(v: Any) -> Any:
        if type(v) is not list or len(v) != n:
            raise _Bad(f"expected an array of {n}")
        return tuple(d(x) for (_, d), x in zip(items, v, strict=True))

    return enc, dec


def _dict_codec(key: tuple[Enc, Dec], value: tuple[Enc, Dec], cap: int) -> tuple[Enc, Dec]:
    kenc, kdec = key
    venc, vdec = value

    def enc(v: Any) -> Any:
        if not isinstance(v, dict):
            raise _Bad(f"expected dict, got {_type_name(v)}")
        _length(v, cap, None)
        return {kenc(k): venc(x) for k, x in v.items()}

    def dec(v: Any) -> Any:
        if type(v) is not dict:
            raise _Bad(f"expected map, got {_type_name(v)}")
        _length(v, cap, None)
        return {kdec(k): vdec(x) for k, x in v.items()}

    return enc, dec


def _union_codec(alts: list[tuple[Enc, Dec]], has_none: bool) -> tuple[Enc, Dec]:
    def pick(v: Any, which: int) -> Any:
        if v is None and has_none:
            return None
        for alt in alts:
            try:
                return alt[which](v)
            except _Bad:
                continue
        raise _Bad(f"{_type_name(v)} fits none of the union's types")

    return (lambda v: pick(v, 0)), (lambda v: pick(v, 1))


def _literal_codec(values: tuple[Any, ...]) -> tuple[Enc, Dec]:
    def check(v: Any) -> Any:
        if not any(type(v) is type(x) and v == x for x in values):
            raise _Bad("value is not one of the allowed literals")
        return v

    return check, check


def _array_codec(cap: int, exact_shape: tuple[int, ...] | None,
                 dtype: str | None) -> tuple[Enc, Dec]:
    def enc(v: Any) -> Any:
        if not isinstance(v, np.ndarray):
            raise _Bad(f"expected ndarray, got {_type_name(v)}")
        arr = np.ascontiguousarray(v)
        code = arr.dtype.newbyteorder("<").str if arr.dtype.byteorder == ">" else arr.dtype.str
        if code not in ARRAY_DTYPES or (dtype is not None and code != dtype):
            raise _Bad(f"array dtype {arr.dtype} is not storable here")
        if arr.size > cap or (exact_shape is not None and arr.shape != exact_shape):
            raise _Bad(f"array of shape {arr.shape} is over its cap or the wrong shape")
        return [code, list(arr.shape), arr.astype(code, copy=False).tobytes()]

    def dec(v: Any) -> Any:
        if type(v) is not list or len(v) != 3:
            raise _Bad("expected [dtype, shape, data]")
        code, shape, data = v
        if type(code) is not str or code not in ARRAY_DTYPES or (dtype and code != dtype):
            raise _Bad("array dtype is not storable here")
        if (type(shape) is not list or len(shape) > 4
                or not all(type(s) is int and 0 <= s <= cap for s in shape)):
            raise _Bad("bad array shape")
        if type(data) is not bytes:
            raise _Bad("array data is not bytes")
        size = math.prod(shape)
        if size > cap or (exact_shape is not None and tuple(shape) != exact_shape):
            raise _Bad("array over its cap or of the wrong shape")
        dt = np.dtype(code)
        if len(data) != size * dt.itemsize:
            raise _Bad("array data does not match its shape")
        arr = np.frombuffer(data, dtype=dt).reshape(shape).copy()
        if dt.kind == "f" and arr.size and not bool((np.abs(arr) <= MAX_FLOAT).all()):
            raise _Bad(f"array float not finite or beyond ±{MAX_FLOAT:g}")
        return arr

    return enc, dec


def _bloom_codec() -> tuple[Enc, Dec]:
    lo, hi = _BLOOM_BYTES

    def enc(v: Any) -> Any:
        if type(v) is not RotatingBloom:
            raise _Bad(f"expected RotatingBloom, got {_type_name(v)}")
        return [bytes(v.current), bytes(v.previous), _enc_int(v.per_filter), _enc_int(v.count)]

    def dec(v: Any) -> Any:
        if type(v) is not list or len(v) != 4:
            raise _Bad("expected [current, previous, per_filter, count]")
        cur, prev, per_filter, count = v
        if type(cur) is not bytes or type(prev) is not bytes or len(cur) != len(prev):
            raise _Bad("bloom filters must be two byte strings of one size")
        if not lo <= len(cur) <= hi:
            raise _Bad("bloom filter size out of range")
        if type(per_filter) is not int or type(count) is not int:
            raise _Bad("bloom counters must be int")
        if not (1 <= per_filter <= 1 << 20 and 0 <= count <= per_filter):
            raise _Bad("bloom counters out of range")
        bloom = RotatingBloom(bits=len(cur) * 8, per_filter=per_filter)
        bloom.current, bloom.previous, bloom.count = bytearray(cur), bytearray(prev), count
        return bloom

    return enc, dec


class _Lazy:
    """A plan under construction (for a dataclass that contains itself)."""

    plan: tuple[Enc, Dec] | None = None

    def enc(self, v: Any) -> Any:
        assert self.plan is not None
        return self.plan[0](v)

    def dec(self, v: Any) -> Any:
        assert self.plan is not None
        return self.plan[1](v)


_PLANS: dict[Any, tuple[Enc, Dec]] = {}
_BUILDING: dict[type, _Lazy] = {}


def _plan(tp: Any, where: str, cap: int = DEFAULT_CAP, exact: Any = None) -> tuple[Enc, Dec]:
    """(encoder, decoder) for values of type ``tp`` (``where`` names the field, for errors)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is int:
        return _enc_int, _dec_int
    if tp is float:
        return _enc_float, _dec_float
    if tp is bool:
        return _enc_bool, _dec_bool
    if tp is str:
        check = _str_codec(MAX_STR)
        return check, check
    if tp is type(None) or tp is None:
        return _none, _none
    if tp is bytes or tp is bytearray:
        return _bytes_codec(cap if cap != DEFAULT_CAP else 1 << 16, tp)
    if tp is RotatingBloom:
        return _bloom_codec()
    if origin is typing.Union or origin is types.UnionType:
        alts = [a for a in args if a is not type(None)]
        return _union_codec([_plan(a, where) for a in alts], len(alts) < len(args))
    if origin is typing.Literal:
        return _literal_codec(args)
    if origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        item_type = args[0]
        n = len(exact) if isinstance(exact, list | tuple) and exact else None
        return _seq_codec(_plan(item_type, where + "[]"), cap, n, origin, item_type)
    if origin is tuple:
        return _fixed_tuple_codec([_plan(a, f"{where}[{i}]") for i, a in enumerate(args)])
    if origin is dict:
        kt, vt = args
        if kt not in (int, str):
            raise StateCodecError(f"cannot store {where}: dict keys must be int or str")
        return _dict_codec(_plan(kt, where + ".key"), _plan(vt, where + "[]"), cap)
    if tp is np.ndarray or origin is np.ndarray:
        dtype = None
        if args and len(args) == 2:
            inner = typing.get_args(args[1])
            if inner and isinstance(inner[0], type) and issubclass(inner[0], np.generic):
                dtype = np.dtype(inner[0]).newbyteorder("<").str
                if np.dtype(inner[0]).itemsize == 1 or inner[0] is np.bool_:
                    dtype = np.dtype(inner[0]).str
        shape = exact.shape if isinstance(exact, np.ndarray) else None
        return _array_codec(cap if cap != DEFAULT_CAP else 1 << 16, shape, dtype)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_plan(tp)
    raise StateCodecError(
        f"cannot store {where}: type {tp!r} is not supported by streamer.core.codec "
        "(use plain numbers, strings, bytes, lists, tuples, dicts, dataclasses)")


def _default_of(f: dataclasses.Field[Any]) -> Callable[[], Any] | None:
    if f.default is not dataclasses.MISSING:
        value = f.default
        return lambda: value
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory
    return None


def _numbers_in(v: Any, lo: float, hi: float) -> None:
    if isinstance(v, int | float) and not isinstance(v, bool):
        if not lo <= v <= hi:
            raise _Bad(f"value out of range [{lo:g}, {hi:g}]")
    elif isinstance(v, list | tuple):
        if v and all(type(x) is int for x in v):  # the usual case: a list of hashes
            if not lo <= min(v) <= max(v) <= hi:
                raise _Bad(f"value out of range [{lo:g}, {hi:g}]")
            return
        for x in v:
            _numbers_in(x, lo, hi)
    elif isinstance(v, dict):
        for x in v.values():
            _numbers_in(x, lo, hi)


def _ranged(plan: tuple[Enc, Dec], lo: float, hi: float) -> tuple[Enc, Dec]:
    enc, dec = plan

    def renc(v: Any) -> Any:
        out = enc(v)
        _numbers_in(out, lo, hi)
        return out

    def rdec(v: Any) -> Any:
        out = dec(v)
        _numbers_in(out, lo, hi)
        return out

    return renc, rdec


def _dataclass_plan(cls: type) -> tuple[Enc, Dec]:
    cached = _PLANS.get(cls)
    if cached is not None:
        return cached
    lazy = _BUILDING.get(cls)
    if lazy is not None:
        return lazy.enc, lazy.dec
    lazy = _BUILDING[cls] = _Lazy()
    try:
        hints = typing.get_type_hints(cls)
        stored: list[tuple[str, Enc, Dec, Callable[[], Any] | None]] = []
        transient: list[tuple[str, Callable[[], Any] | None]] = []
        for f in dataclasses.fields(cls):
            default = _default_of(f)
            if f.metadata.get("transient"):
                transient.append((f.name, default))
                continue
            sample = default() if default is not None else None
            exact = sample if isinstance(sample, list | tuple | np.ndarray) else None
            cap = CAPS.get((cls, f.name), DEFAULT_CAP)
            enc, dec = _plan(hints[f.name], f"{cls.__name__}.{f.name}", cap, exact)
            if (cls, f.name) in RANGES:
                enc, dec = _ranged((enc, dec), *RANGES[(cls, f.name)])
            stored.append((f.name, enc, dec, default))
    finally:
        del _BUILDING[cls]
    names = frozenset(name for name, *_ in stored)
    check = getattr(cls, "codec_check", None)
    qualname = cls.__name__

    def enc_dc(v: Any) -> Any:
        if type(v) is not cls:
            raise _Bad(f"expected {qualname}, got {_type_name(v)}")
        out = {}
        for name, enc, _, _ in stored:
            try:
                out[name] = enc(getattr(v, name))
            except _Bad as exc:
                raise _Bad(f"{qualname}.{name}: {exc}") from None
        return out

    def dec_dc(v: Any) -> Any:
        if type(v) is not dict:
            raise _Bad(f"{qualname}: expected map, got {_type_name(v)}")
        if len(v) > len(names) + 16:
            raise _Bad(f"{qualname}: too many fields")
        obj: Any = object.__new__(cls)
        for name, _, dec, default in stored:
            if name in v:
                try:
                    value = dec(v[name])
                except _Bad as exc:
                    raise _Bad(f"{qualname}.{name}: {exc}") from None
            elif default is not None:  # a field added since the record was written
                value = default()
            else:
                raise _Bad(f"{qualname}.{name}: missing")
            object.__setattr__(obj, name, value)
        for name, default in transient:
            object.__setattr__(obj, name, default() if default is not None else None)
        if check is not None:
            try:
                check(obj)
            except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as exc:
                raise _Bad(f"{qualname}: {exc}") from None
        return obj

    plan = (enc_dc, dec_dc)
    _PLANS[cls] = lazy.plan = plan
    return plan


# --- the public API -------------------------------------------------------------------------


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder()


def check_storable(cls: type) -> None:
    """Raise :class:`StateCodecError` if a field of ``cls`` (or nested) cannot be stored."""
    _dataclass_plan(cls)


def encode(state: Any, max_bytes: int | None = None) -> bytes:
    """The record for ``state`` (a type in :data:`KINDS`).

    Raises :class:`StateTooLarge` when the record exceeds ``max_bytes`` (default: the kind's
    :data:`SIZE_LIMITS` entry), and :class:`StateCodecError` when a field holds a value that
    is not of its declared type, over its cap, or of a type the codec does not store.
    """
    cls = type(state)
    kind = _KIND_OF.get(cls)
    if kind is None:
        raise StateCodecError(f"{cls.__name__} is not a stored state type")
    enc, _ = _dataclass_plan(cls)
    try:
        body = _ENCODER.encode(enc(state))
    except _Bad as exc:
        raise StateCodecError(f"cannot encode {cls.__name__}: {exc}") from None
    except (OverflowError, TypeError, ValueError) as exc:
        raise StateCodecError(f"cannot encode {cls.__name__}: {exc}") from None
    flags = 0
    if len(body) > COMPRESS_ABOVE:
        packed = zlib.compress(body, 1)
        if len(packed) < len(body):
            body, flags = packed, FLAG_ZLIB
    if not flags & FLAG_ZLIB:  # a flipped bit is caught as zlib's checksum catches it
        body, flags = body + zlib.crc32(body).to_bytes(4, "big"), flags | FLAG_CRC32
    data = MAGIC + bytes((SCHEMA_VERSION, kind, flags)) + body
    limit = SIZE_LIMITS[cls] if max_bytes is None else max_bytes
    if len(data) > limit:
        raise StateTooLarge(cls.__name__, len(data), limit)
    return data


def _inflate(body: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(body, MAX_RECORD_BYTES)
    except zlib.error:
        raise StateCodecError("corrupt state: bad compressed body") from None
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise StateCodecError("corrupt state: compressed body truncated, trailing or too big")
    return out


@overload
def decode(data: bytes, kind: None = None) -> Any: ...
@overload
def decode(data: bytes, kind: type[T]) -> T: ...
def decode(data: bytes, kind: type[T] | None = None) -> T | Any:
    """The state in ``data``; :class:`StateCodecError` for anything else (never another error).

    With ``kind``, a record holding another state type is refused too.
    """
    try:
        return _decode(data, kind)
    except StateCodecError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise StateCodecError(f"corrupt state: {type(exc).__name__}") from None
    except Exception as exc:  # a defect in the checks above must not become a crash
        raise StateCodecError(f"corrupt state: {type(exc).__name__}") from None


def _decode(data: bytes, kind: type[T] | None) -> T | Any:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StateCodecError("not streamer state (not bytes)")
    data = bytes(data)
    if len(data) < HEADER or not data.startswith(MAGIC):
        raise StateCodecError("not streamer state (bad magic)")
    if data[4] != SCHEMA_VERSION:
        raise StateCodecError(f"state schema {data[4]} is not {SCHEMA_VERSION}")
    if len(data) > MAX_RECORD_BYTES:
        raise StateCodecError(f"state record of {len(data)} bytes is over {MAX_RECORD_BYTES}")
    cls = KINDS.get(data[5])
    if cls is None:
        raise StateCodecError(f"unknown state kind {data[5]}")
    if kind is not None and cls is not kind:
        raise StateCodecError(f"record holds {cls.__name__}, expected {kind.__name__}")
    flags = data[6]
    if flags & ~(FLAG_ZLIB | FLAG_CRC32) or flags == FLAG_ZLIB | FLAG_CRC32:
        raise StateCodecError(f"unknown state flags {flags:#x}")
    body = data[HEADER:]
    if flags & FLAG_CRC32:
        body, crc = body[:-4], body[-4:]
        if len(crc) < 4 or zlib.crc32(body).to_bytes(4, "big") != crc:
            raise StateCodecError("corrupt state: checksum mismatch")
    if flags & FLAG_ZLIB:
        body = _inflate(body)
    try:
        tree = _DECODER.decode(body)
    except msgspec.DecodeError:
        raise StateCodecError("corrupt state: not MessagePack") from None
    _, dec = _dataclass_plan(cls)
    try:
        return dec(tree)
    except _Bad as exc:
        raise StateCodecError(f"invalid {cls.__name__}: {exc}") from None


def decode_or_fresh(raw: bytes | None, kind: type[T], fresh: Callable[[], T],
                    on_error: Callable[[StateCodecError], None],
                    valid: Callable[[T], bool] | None = None) -> T:
    """Decode a stored state of type ``kind``; on any failure report it and start afresh.

    No stored value (``None`` or empty) gives ``fresh()`` without a report. A record that does
    not decode, or for which ``valid(state)`` is false (e.g. a customer state stored under
    another customer's key), is passed to ``on_error`` as a :class:`StateCodecError` (whose
    message never contains the record's bytes) and replaced by ``fresh()``.
    """
    if not raw:
        return fresh()
    try:
        state = decode(raw, kind)
    except StateCodecError as err:
        on_error(err)
        return fresh()
    if valid is not None and not valid(state):
        on_error(StateCodecError(f"stored {kind.__name__} belongs to another key"))
        return fresh()
    return state
