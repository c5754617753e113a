"""Prompt fingerprints that keep no text: SimHash, template signatures, Hamming distance.

A prompt's raw text is reduced in memory to a few integers and then dropped:

* :func:`simhash64` — 64-bit SimHash over word uni- and bi-grams; near-duplicate prompts have
  close hashes (small Hamming distance), so "is this prompt new?" needs no text.
* :func:`template_signatures` — hashes of the prompt's first and last few words with digits
  masked. Extraction tooling wraps many different questions in one wrapper ("Solve step by step:
  …"), so the wrapper repeats while the content does not.
* :func:`prompt_fingerprint` — both at once from a single tokenisation (what the profile uses).

Speed (see ``make bench``), with the same values as the straightforward definitions: the text is
tokenised once, as bytes (``bytes.translate`` + ``split``: the tokens of the documented regex);
a word's feature hash (two CRC-32s of its bytes) and the CRC state after "word " come from a
bounded cache, so a bigram costs two C calls over its second word only; the bit votes are
counted with numpy per prompt.

>>> a = simhash64("What is the capital of France? Answer briefly.")
>>> b = simhash64("What is the capital of France? Answer briefly please.")
>>> c = simhash64("Write a bash script that renames every jpg file in a folder")
>>> hamming(a, b) < hamming(a, c)
True
>>> p1 = template_signatures("Solve step by step, showing all work: what is 17 * 23?")
>>> p2 = template_signatures("Solve step by step, showing all work: a train leaves at 9am")
>>> p1[0] == p2[0], p1[1] == p2[1]
(True, False)
>>> prompt_fingerprint("Solve step by step, showing all work: what is 17 * 23?")[1:] == p1
True
>>> words("Question 17: isn't 3.5 > 2?")
['question', '0', "isn't", '0', '0', '0']
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

from streamer.core import kernels

_WORD = re.compile(r"[a-z0-9']+")
#: Scripts written without spaces (CJK ideographs, kana, hangul): each character is a token, so
#: a Chinese or Japanese prompt gets a SimHash and template signatures like any other.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD_OR_CJK = re.compile(f"[a-z0-9']+|[{_CJK}]")
_HAS_CJK = re.compile(f"[{_CJK}]")
_DIGITS = re.compile(r"\d+")
_MASK64 = (1 << 64) - 1
TEMPLATE_WORDS = 5
WORD_LIMIT = 96
#: Cap of the word -> hash cache (it is cleared when full; ``token_cache_stats`` reports it).
TOKEN_CACHE_MAX = 1 << 17

_token_cache: dict[bytes, tuple[int, int, int]] = {}
_cache_resets = 0
_SEED = 0x9E3779B9
_crc32 = zlib.crc32


def stable_hash64(text: str) -> int:
    """A 64-bit hash that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _stable_hash64_bytes(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def word_bytes(text: str, limit: int = WORD_LIMIT) -> list[bytes]:
    """The tokens of :func:`words` as ASCII bytes (the fast path every fingerprint uses)."""
    low = text[: limit * 12].lower()
    if not low.isascii():
        # Unicode digits become "0" like ASCII ones; CJK characters are tokens of their own;
        # every other non-ASCII character separates words.
        low = _DIGITS.sub("0", low)
        if _HAS_CJK.search(low):
            return [t.encode("utf-8") for t in _WORD_OR_CJK.findall(low)[:limit]]
    return kernels.ascii_tokens(low.encode("utf-8"), limit)


def words(text: str, limit: int = WORD_LIMIT) -> list[str]:
    """Lower-cased word tokens ``[a-z0-9']+`` with digit runs masked to ``0``, and each CJK
    character as a token of its own: the first ``limit``.

    >>> text = "Ünïcode ١٢٣ and ASCII 42"
    >>> words(text) == _WORD.findall(_DIGITS.sub("0", text.lower()))
    True
    >>> words("请逐步解释 step 2")
    ['请', '逐', '步', '解', '释', 'step', '0']
    """
    return [t.decode("utf-8") for t in word_bytes(text, limit)]


def _word_entry(token: bytes) -> tuple[int, int, int]:
    """(feature hash of the word, CRC states after ``word + " "`` for both halves)."""
    global _cache_resets
    if len(_token_cache) >= TOKEN_CACHE_MAX:
        _token_cache.clear()
        _cache_resets += 1
    hi, lo = _crc32(token), _crc32(token, _SEED)
    entry = _token_cache[token] = ((hi << 32) | lo, _crc32(b" ", hi), _crc32(b" ", lo))
    return entry


def token_cache_stats() -> dict[str, int]:
    """Size, cap and number of resets of the word-hash cache (a metric of bounded state)."""
    return {"size": len(_token_cache), "cap": TOKEN_CACHE_MAX, "resets": _cache_resets}


def _simhash_numpy(tokens: list[bytes]) -> int:
    """:func:`streamer.core.kernels.simhash_tokens` without the C extension: word hashes
    from the bounded cache, bit votes counted with numpy."""
    if not tokens:
        return 0
    get = _token_cache.get
    entries = [get(t) or _word_entry(t) for t in tokens]
    # Feature hash of a word or bigram f: crc32(f) << 32 | crc32(f, seed). For a bigram
    # "a b" the CRC of "a " is cached with the word a, so only b's bytes are hashed here.
    feats = [e[0] for e in entries]
    feats += [(_crc32(b, e[1]) << 32) | _crc32(b, e[2])
              for e, b in zip(entries, tokens[1:])]  # noqa: B905 - one shorter on purpose
    hashes = np.array(feats, dtype=np.uint64)
    bits = np.unpackbits(hashes.view(np.uint8)).reshape(len(feats), 64)
    votes = np.add.reduce(bits, axis=0, dtype=np.uint16) * 2 > len(feats)
    return int.from_bytes(np.packbits(votes).tobytes(), "little")


#: SimHash of a token list: the C kernel when built, else the cached numpy path (same integers).
_simhash_of = kernels.simhash_tokens if kernels.NATIVE else _simhash_numpy


def simhash64(text: str) -> int:
    """64-bit SimHash of word uni- and bi-grams (Charikar 2002)."""
    return _simhash_of(word_bytes(text))


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return ((a ^ b) & _MASK64).bit_count()


#: Smallest Hamming distance from a hash to any of a list (64 for none): a kernel
#: (:func:`streamer.core.kernels.nearest_distance`).
nearest_distance = kernels.nearest_distance


class RotatingBloom:
    """Approximate set of the last ~``2 * per_filter`` 64-bit hashes in ``2 * bits / 8`` bytes.

    Two Bloom filters: new items go into the current one; when it holds ``per_filter`` items
    it becomes the previous one and a fresh filter starts, so memory is bounded and old items
    are forgotten. With the defaults (2 x 1 KiB, 600 items each) a false "seen" is ~4 %.

    >>> bloom = RotatingBloom()
    >>> bloom.add(12345)
    >>> 12345 in bloom, 99 in bloom
    (True, False)
    """

    __slots__ = ("count", "current", "per_filter", "previous")

    def __init__(self, bits: int = 8192, per_filter: int = 600) -> None:
        self.current = bytearray(bits // 8)
        self.previous = bytearray(bits // 8)
        self.per_filter = per_filter
        self.count = 0

    def _positions(self, h: int) -> tuple[int, int]:
        size = len(self.current) * 8
        mixed = (h * 0x9E3779B97F4A7C15) & _MASK64
        return (mixed >> 7) % size, (mixed >> 35) % size

    def __contains__(self, h: object) -> bool:
        if not isinstance(h, int):
            return False
        a, b = self._positions(h)
        for f in (self.current, self.previous):
            if f[a >> 3] >> (a & 7) & 1 and f[b >> 3] >> (b & 7) & 1:
                return True
        return False

    def add(self, h: int) -> None:
        if self.count >= self.per_filter:
            self.previous, self.current = self.current, bytearray(len(self.current))
            self.count = 0
        for p in self._positions(h):
            self.current[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def __getstate__(self) -> tuple[bytes, bytes, int, int]:
        return bytes(self.current), bytes(self.previous), self.per_filter, self.count

    def __setstate__(self, state: tuple[bytes, bytes, int, int]) -> None:
        cur, prev, self.per_filter, self.count = state
        self.current, self.previous = bytearray(cur), bytearray(prev)


def _signatures_of(tokens: list[bytes]) -> tuple[int, int]:
    if len(tokens) < 2 * TEMPLATE_WORDS:
        return (0, 0)
    return (_stable_hash64_bytes(b"p:" + b" ".join(tokens[:TEMPLATE_WORDS])),
            _stable_hash64_bytes(b"s:" + b" ".join(tokens[-TEMPLATE_WORDS:])))


def _template_tokens(text: str, tokens: list[bytes] | None = None) -> list[bytes]:
    if len(text) > 800:
        return word_bytes(text[:400]) + word_bytes(text[-400:])
    return tokens if tokens is not None else word_bytes(text)


def template_signatures(text: str) -> tuple[int, int]:
    """(prefix signature, suffix signature): hashes of the first/last ``TEMPLATE_WORDS`` words.

    Prompts shorter than twice that have no separate wrapper; both signatures are then 0.
    """
    return _signatures_of(_template_tokens(text))


def _long_ascii_signatures(text: str) -> tuple[int, int]:
    """:func:`template_signatures` of a text over 800 characters whose first 1,152 are ASCII,
    from one C pass over each end (the same tokens as :func:`_template_tokens`)."""
    tail_text = text[-400:]
    if tail_text.isascii():
        e = TEMPLATE_WORDS
        _, n1, head, _ = kernels.ascii_fingerprint(text[:400].lower().encode(), WORD_LIMIT, e)
        _, n2, _, tail = kernels.ascii_fingerprint(tail_text.lower().encode(), WORD_LIMIT, e)
        if n1 + n2 < 2 * e:
            return (0, 0)
        if n1 >= e and n2 >= e:
            return (_stable_hash64_bytes(b"p:" + head), _stable_hash64_bytes(b"s:" + tail))
    return _signatures_of(_template_tokens(text))


def prompt_fingerprint(text: str) -> tuple[int, int, int]:
    """``(simhash64(text), *template_signatures(text))`` from one tokenisation of ``text``."""
    if kernels.NATIVE:
        low = text[: WORD_LIMIT * 12].lower()
        if low.isascii():  # one C pass: tokens, SimHash and the wrapper's edges
            sim, n, head, tail = kernels.ascii_fingerprint(low.encode(), WORD_LIMIT,
                                                           TEMPLATE_WORDS)
            if len(text) > 800:  # the wrapper comes from the text's two ends
                return (sim, *_long_ascii_signatures(text))
            if n < 2 * TEMPLATE_WORDS:
                return (sim, 0, 0)
            return (sim, _stable_hash64_bytes(b"p:" + head), _stable_hash64_bytes(b"s:" + tail))
    tokens = word_bytes(text)
    return (_simhash_of(tokens), *_signatures_of(_template_tokens(text, tokens)))


# --- many prompts at once ---------------------------------------------------------------------
#
# CRC-32 is affine in its start value: crc32(b, v) == G_L(v) ^ crc32(b, 0) for a token b of L
# bytes, with G_L linear (G_L(v) == crc32(zeros(L), v) ^ crc32(zeros(L), 0)). So the feature
# hash of a bigram "a b" -- crc32(b, crc32(b" ", hi_a)) << 32 | crc32(b, crc32(b" ", lo_a)) --
# follows from per-word values with table look-ups, vectorised over every bigram of a batch.
# The result is the same integer as :func:`simhash64` (tested on real prompts).

_BATCH_MAX_LEN = 64  # bigrams whose second word is longer are hashed one by one
_G = np.zeros((_BATCH_MAX_LEN + 1, 4, 256), dtype=np.uint32)  # G_L of byte k of the value
_G_built = np.zeros(_BATCH_MAX_LEN + 1, dtype=bool)


def _build_g(length: int) -> None:
    zeros = bytes(length)
    base = _crc32(zeros, 0)
    for k in range(4):
        _G[length, k] = [_crc32(zeros, v << (8 * k)) ^ base for v in range(256)]
    _G_built[length] = True


def _g(lengths: np.ndarray, states: np.ndarray) -> np.ndarray:
    """``G_L(state)`` element-wise (every length already built)."""
    s = states
    out: np.ndarray = (_G[lengths, 0, s & 0xFF] ^ _G[lengths, 1, (s >> 8) & 0xFF]
                       ^ _G[lengths, 2, (s >> 16) & 0xFF] ^ _G[lengths, 3, s >> 24])
    return out


# byte b -> 8 byte-lanes, lane j holding bit 7 - j of b (``np.unpackbits`` order): summing the
# lanes of many hashes counts 8 bit positions per 64-bit add (a segment holds <= 255 hashes)
_SPREAD = np.array([sum(((b >> (7 - j)) & 1) << (8 * j) for j in range(8)) for b in range(256)],
                   dtype=np.uint64)


def simhash_many(token_lists: list[list[bytes]]) -> list[int]:
    """``[_simhash_of(tokens) for tokens in token_lists]``, vectorised over the batch.

    >>> texts = ["What is the capital of France?", "", "one", "Write a bash script " * 9]
    >>> simhash_many([word_bytes(t) for t in texts]) == [simhash64(t) for t in texts]
    True
    """
    if kernels.NATIVE:  # one C call per prompt beats the vectorised path
        return [kernels.simhash_tokens(tokens) for tokens in token_lists]
    flat = [t for tokens in token_lists for t in tokens]
    if not flat:
        return [0] * len(token_lists)
    get = _token_cache.get
    entries = [get(t) or _word_entry(t) for t in flat]
    sizes = [len(tokens) for tokens in token_lists]
    if max(sizes) > 255:  # pragma: no cover - more than WORD_LIMIT tokens: lanes would overflow
        return [_simhash_of(tokens) for tokens in token_lists]
    n_tok = np.array(sizes, dtype=np.int64)
    feats = np.array([e[0] for e in entries], dtype=np.uint64)
    # bigram (i, i + 1) within a prompt: every token but each prompt's first one ends one
    starts = np.cumsum(n_tok) - n_tok
    second_mask = np.ones(len(flat), dtype=bool)
    second_mask[starts[n_tok > 0]] = False
    second = np.flatnonzero(second_mask)
    lengths = np.array([len(t) for t in flat], dtype=np.int64)[second]
    sh = np.array([e[1] for e in entries], dtype=np.uint32)[second - 1]  # CRC after "a "
    sl = np.array([e[2] for e in entries], dtype=np.uint32)[second - 1]
    long_ = lengths > _BATCH_MAX_LEN
    lengths[long_] = 0
    for length in np.unique(lengths).tolist():
        if not _G_built[length]:
            _build_g(length)
    hb = (feats[second] >> np.uint64(32)).astype(np.uint32)
    big = ((_g(lengths, sh) ^ hb).astype(np.uint64) << np.uint64(32)) | (
        _g(lengths, sl) ^ hb).astype(np.uint64)
    for j in np.flatnonzero(long_).tolist():  # a word of more than _BATCH_MAX_LEN bytes
        b, e = flat[second[j]], entries[second[j] - 1]
        big[j] = (_crc32(b, e[1]) << 32) | _crc32(b, e[2])
    counts = _bit_counts(feats, n_tok) + _bit_counts(big, np.maximum(n_tok - 1, 0))
    votes = counts * 2 > (2 * n_tok - 1)[:, None]
    packed = np.ascontiguousarray(np.packbits(votes, axis=1))
    result: list[int] = packed.view(np.dtype("<u8")).ravel().tolist()
    return [r if n else 0 for r, n in zip(result, sizes, strict=True)]


def _bit_counts(hashes: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per segment (consecutive ``sizes`` rows), how many of its 64-bit hashes have each bit
    (columns in ``np.unpackbits`` order of the hashes' bytes)."""
    out = np.zeros((len(sizes), 8), dtype=np.uint64)
    nonempty = sizes > 0
    if len(hashes):
        lanes = _SPREAD[hashes.view(np.uint8).reshape(len(hashes), 8)]
        starts = (np.cumsum(sizes) - sizes)[nonempty]
        out[nonempty] = np.add.reduceat(lanes, starts, axis=0)
    return out.view(np.uint8).reshape(len(sizes), 64).astype(np.int32)


def prompt_fingerprints(texts: list[str]) -> list[tuple[int, int, int]]:
    """``[prompt_fingerprint(t) for t in texts]``, with the SimHashes of the batch vectorised.

    >>> ts = ["Solve step by step, showing all work: what is 17 * 23?", "hi"]
    >>> prompt_fingerprints(ts) == [prompt_fingerprint(t) for t in ts]
    True
    """
    tokens = [word_bytes(t) for t in texts]
    sims = simhash_many(tokens)
    return [(s, *_signatures_of(_template_tokens(t, tk)))
            for s, t, tk in zip(sims, texts, tokens, strict=True)]
