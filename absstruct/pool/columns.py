"""Tape columns as numpy arrays in loan-id order: the ordering, factor codes, conversions.

Pool selection must not depend on the order of a tape's rows, so it works in loan-id
(text) order.  A tape already in that order is used as it is; otherwise
:func:`loan_id_order` finds the order, cheaply when ids pack into 64-bit keys
(:func:`packed_order`), and :class:`Columns` hands out each column converted once and
reordered.

Examples
--------
>>> import pandas as pd
>>> tape = pd.DataFrame({"loan_id": ["b", "a", "c"], "region": ["NY", "CA", "NY"],
...                      "rate": [0.1, 0.2, 0.3]})
>>> columns = Columns(tape, loan_id_order(tape["loan_id"]))
>>> columns.numbers("rate").tolist(), columns.codes("region").tolist()
([0.2, 0.1, 0.3], [0, 1, 1])
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from absstruct.errors import Problem, TapeError


def loan_id_order(loan_id: pd.Series) -> np.ndarray | None:
    """Row positions in loan-id (text) order; ``None`` when the tape is in that order already.

    Raises TapeError when a loan id repeats.
    """
    ids = pa.chunked_array(pa.array(loan_id.astype("string[pyarrow]"))).combine_chunks()
    if len(ids) < 2 or pc.all(pc.less(ids[:-1], ids[1:])).as_py():
        return None  # strictly increasing: sorted and unique, the common case
    order = packed_order(ids)
    if order is not None:
        return order
    order = pc.sort_indices(ids).to_numpy()
    ranked = ids.take(order)
    repeats = pc.equal(ranked[:-1], ranked[1:]).to_numpy(zero_copy_only=False)
    if repeats.any():
        first = ranked[int(np.flatnonzero(repeats)[0])].as_py()
        raise TapeError.from_problems(
            [
                Problem(
                    where="column loan_id",
                    value=str(first),
                    rule="duplicate",
                    message=f"appears more than once ({int(repeats.sum())} repeats); "
                    "loan ids must be unique",
                )
            ],
            source="tape",
        )
    return order


def _text_buffers(ids: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Offsets (as they are, not rebased) and the data bytes of Arrow text without
    missing values; None for anything else."""
    text = pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)
    if ids.null_count or not text:
        return None
    _, offsets_buffer, data_buffer = ids.buffers()
    offset_type = np.int64 if pa.types.is_large_string(ids.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[
        ids.offset : ids.offset + len(ids) + 1
    ]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    return offsets, data


def packed_order(ids: pa.Array) -> np.ndarray | None:
    """Positions of ``ids`` in text order, by sorting them as 64-bit integers.

    Past the prefix every id shares, ids of at most 8 bytes without NUL bytes compare
    byte by byte exactly as big-endian integers do (a shorter id is padded with zeros,
    so it sorts first, as text does).  Returns None when the ids do not fit that way or
    repeat (the caller then sorts the text itself).

    >>> packed_order(pa.array(["L10", "L9", "L1", "L100"])).tolist()
    [2, 0, 3, 1]
    """
    buffers = _text_buffers(ids)
    if buffers is None:
        return None
    offsets, data = buffers
    bounds = offsets.astype(np.intp)
    starts = bounds[:-1]
    lengths = bounds[1:] - bounds[:-1]
    prefix = 0
    shortest = int(lengths.min())
    while prefix < shortest and np.all(data[starts + prefix] == data[starts[0] + prefix]):
        prefix += 1
    width = int(lengths.max()) - prefix
    if width > 8:
        return None
    if shortest == prefix + width:
        order = _dense_number_order(data, starts, prefix, width)
        if order is not None:
            return order
    keys = np.zeros(len(ids), dtype=np.uint64)
    for at in range(prefix, prefix + width):
        inside = lengths > at
        byte = data[np.where(inside, starts + at, 0)]
        if np.any(byte[inside] == 0):
            return None
        keys = (keys << np.uint64(8)) | np.where(inside, byte, 0).astype(np.uint64)
    order = np.argsort(keys)
    ranked = keys[order]
    if np.any(ranked[1:] == ranked[:-1]):
        return None  # a repeated id: the text sort names it
    return order


def _dense_number_order(
    data: np.ndarray, starts: np.ndarray, prefix: int, width: int
) -> np.ndarray | None:
    """Positions in text order of ids that are one prefix and ``width`` digits each
    (``AUTO0000001``), when their numbers are unique and span at most twice their count:
    then text order is number order, and placing each id at its number sorts them in
    one pass.  None otherwise (the caller sorts).

    >>> data = np.frombuffer(b"L03L01L02", dtype=np.uint8)
    >>> _dense_number_order(data, np.array([0, 3, 6]), 1, 2).tolist()
    [1, 2, 0]
    """
    number = np.zeros(len(starts), dtype=np.int64)
    for at in range(prefix, prefix + width):
        digit = data[starts + at].astype(np.int64)
        digit -= 48  # "0"
        if digit.min() < 0 or digit.max() > 9:
            return None
        number *= 10
        number += digit
    if not len(number):
        return None
    low = int(number.min())
    span = int(number.max()) - low + 1
    if span > 2 * len(number):
        return None
    slot = np.full(span, -1, dtype=np.intp)
    slot[number - low] = np.arange(len(number))
    order = slot[slot >= 0]
    return order if len(order) == len(number) else None  # shorter: a number repeats


def factorize(series: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes numbered by first appearance, missing values ``k``; and ``k``.

    Arrow-backed text is dictionary-encoded by Arrow, which hashes it faster than pandas.

    >>> codes, k = factorize(pd.Series(["b", "a", None, "b"]))
    >>> codes.tolist(), k
    ([0, 1, 2, 0], 2)
    """
    codes, uniques = encode(series)
    return codes, len(uniques)


def encode(series: pd.Series) -> tuple[np.ndarray, pa.Array | pd.Index]:
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        encoded = pa.chunked_array(pa.array(series)).combine_chunks().dictionary_encode()
        uniques = encoded.dictionary
        indices = pc.fill_null(encoded.indices, len(uniques))
        return indices.to_numpy().astype(np.intp, copy=False), uniques
    codes, found = pd.factorize(series, sort=False, use_na_sentinel=True)
    return np.where(codes < 0, len(found), codes).astype(np.intp, copy=False), found


def narrow_codes(series: pd.Series) -> tuple[np.ndarray, list[str]] | None:
    """Codes of Arrow text whose values are all one or two bytes long (state codes, grade
    letters, Y/N flags), numbered in sorted order, and the values (sorted); None for other
    columns.

    Such values are their own small integers, so a table of 2**16 entries numbers them:
    several times faster than hashing every value.

    >>> codes, names = narrow_codes(pd.Series(["NY", "CA", "NY", "AZ"], dtype="string[pyarrow]"))
    >>> codes.tolist(), names
    ([2, 1, 2, 0], ['AZ', 'CA', 'NY'])
    """
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        return None
    ids = pa.chunked_array(pa.array(series)).combine_chunks()
    buffers = _text_buffers(ids)
    if buffers is None or not len(ids):
        return None
    offsets, data = buffers
    start, end = int(offsets[0]), int(offsets[-1])
    width, rest = divmod(end - start, len(ids))
    if rest or width not in (1, 2) or not np.all(np.diff(offsets) == width):
        return None
    keys = data[start:end]
    if width == 2:
        keys = keys.view("<u2")  # the two bytes as one little-endian number
    found = np.flatnonzero(np.bincount(keys, minlength=1 << (8 * width)))
    names = [int(key).to_bytes(width, "little").decode("utf-8") for key in found]
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.zeros(1 << (8 * width), dtype=np.intp)
    rank[found[order]] = np.arange(len(found))
    return rank[keys], [names[number] for number in order]


def single_value(series: pd.Series) -> str | None:
    """The one value of Arrow text that holds a single value and no gaps (an amortization
    type, a payment frequency a whole pool shares), else None.

    One comparison over the column, tried only when its first thousand values agree:
    several times cheaper than hashing every value.

    >>> single_value(pd.Series(["level_pay"] * 3, dtype="string[pyarrow]"))
    'level_pay'
    >>> single_value(pd.Series(["level_pay", "balloon"], dtype="string[pyarrow]")) is None
    True
    """
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        return None
    ids = pa.chunked_array(pa.array(series))
    if not len(ids) or ids.null_count:
        return None
    first = ids[0]
    if not pc.all(pc.equal(ids.slice(0, 1000), first)).as_py():
        return None
    if not pc.all(pc.equal(ids, first)).as_py():
        return None
    return str(first.as_py())


# Keeps the first ``i`` bytes of a little-endian word (index ``i``, 0 to 8).
_FIRST_BYTES = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [2**64 - 1], dtype=np.uint64)


def hash_text(ids: pa.Array) -> np.ndarray | None:
    """A 64-bit hash of each text value, read 8 bytes at a time; None unless ``ids`` is
    text without missing values.

    Equal values hash alike; unequal ones almost never do (callers check).

    >>> hashes = hash_text(pa.array(["F12", "B1000000123", "F12"]))
    >>> bool(hashes[0] == hashes[2]), bool(hashes[0] == hashes[1])
    (True, False)
    """
    buffers = _text_buffers(ids)
    if buffers is None or not len(ids):
        return None
    bounds = buffers[0].astype(np.intp)
    first, end = int(bounds[0]), int(bounds[-1])
    starts, lengths = bounds[:-1] - first, np.diff(bounds)
    size = end - first  # a slice's own bytes only
    padded = np.zeros(size + 8, dtype=np.uint8)
    padded[:size] = buffers[1][first:end]
    # Every (unaligned) 8-byte word of the text, by its first byte.
    words = np.ndarray(shape=(size + 1,), dtype="<u8", buffer=padded, strides=(1,))
    hashes = lengths.astype(np.uint64)
    hashes *= np.uint64(0x9E3779B97F4A7C15)  # the length in every bit
    shortest = int(lengths.min())
    for at in range(0, int(lengths.max()), 8):
        word = words[starts if at == 0 else np.minimum(starts + at, size)]
        if at + 8 > shortest:  # some ids end inside this word: keep their own bytes only
            left = np.minimum(lengths, at + 8)  # cheaper than np.clip on integers
            left -= at
            np.maximum(left, 0, out=left)
            word &= _FIRST_BYTES[left]
        hashes ^= word
        hashes *= np.uint64(0xFF51AFD7ED558CCD)
        hashes ^= hashes >> np.uint64(33)
    hashes *= np.uint64(0xC4CEB9FE1A85EC53)  # spread every word into the top bits
    hashes ^= hashes >> np.uint64(29)
    return hashes


def group_ids(series: pd.Series, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Group codes of text ids in loan-id order (``rows``, None: as they are) and each
    group's first position; None when the ids are no Arrow text or two unequal ids hash
    alike (the caller then hashes the text itself).

    Most obligors borrow once, and hashing a million ids into one table is slow, so only
    ids that may repeat are grouped: a bucket per id (four buckets an id) counts the
    hashes, and an id alone in its bucket is alone on the tape.  The others are grouped
    by hash, and each is checked equal to its group's first id.

    >>> codes, first = group_ids(pd.Series(["b", "a", "b", "c"], dtype="string[pyarrow]"), None)
    >>> bool(codes[0] == codes[2]), len(set(codes.tolist())), first[codes].tolist()
    (True, 3, [0, 1, 0, 3])
    """
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        return None
    ids = pa.chunked_array(pa.array(series)).combine_chunks()
    hashes = hash_text(ids)
    if hashes is None:
        return None
    if rows is not None:
        hashes = hashes[rows]
    bits = max((4 * len(hashes) - 1).bit_length(), 10)
    bucket = (hashes >> np.uint64(64 - bits)).view(np.int64)  # below 2**bits: no sign
    shared = np.flatnonzero(np.bincount(bucket, minlength=1 << bits)[bucket] > 1)
    shared_codes, uniques = pd.factorize(hashes[shared])
    first_shared = np.full(len(uniques), len(shared), dtype=np.intp)
    np.minimum.at(first_shared, shared_codes, np.arange(len(shared)))
    if len(shared):
        row = shared if rows is None else rows[shared]
        same = pc.equal(ids.take(row), ids.take(row[first_shared[shared_codes]]))
        if not pc.all(same).as_py():
            return None
    alone = np.ones(len(hashes), dtype=bool)
    alone[shared] = False
    lone = np.flatnonzero(alone)
    codes = np.empty(len(hashes), dtype=np.intp)
    codes[shared] = shared_codes
    codes[lone] = len(uniques) + np.arange(len(lone))
    return codes, np.concatenate([shared[first_shared], lone])


class InexactGroups(Exception):
    """Merged obligor groups (see :class:`ObligorGroups`) could change a result here: the
    caller groups the obligors exactly and starts again."""


@dataclass(frozen=True, kw_only=True)
class Merged:
    """How obligor codes merge obligors (see :func:`heavy_groups`).

    Codes below ``exact`` are one obligor each; code ``exact`` holds the loans of every
    other obligor, whose ids fell in ``buckets`` (per loan) of which none holds more
    than ``bound`` on the whole tape: a bound on each such obligor's balance (balances
    are not negative).
    """

    exact: int
    bound: float
    buckets: np.ndarray


@dataclass(frozen=True, kw_only=True)
class ObligorGroups:
    """Obligor group codes of the loans, in loan-id order.

    ``merged`` None: every code is one obligor; otherwise see :class:`Merged`.
    ``first`` is the position of each code's first loan (None when codes already number
    obligors that way); the merged code's entry means nothing.
    """

    codes: np.ndarray
    first: np.ndarray | None
    merged: Merged | None = None


# Buckets always grouped exactly by heavy_groups, the largest first: enough for the top
# obligors a summary or a top-n limit looks at.
HEAVY_BUCKETS = 256


def heavy_groups(
    series: pd.Series,
    rows: np.ndarray | None,
    balance: np.ndarray,
    *,
    cap: float,
    bits: int | None = None,
    hashed: HashedIds | None = None,
) -> ObligorGroups | None:
    """Obligor groups exact where a limit can bite, merged elsewhere.

    Ids are hashed into about one bucket per id and the balance of each bucket summed.
    The loans of buckets above ``cap`` or among the :data:`HEAVY_BUCKETS` largest are
    grouped exactly; all other loans share one merged code, and the largest of their
    buckets bounds each of their obligors' balances (see :class:`Merged`).  Grouping
    only those loans exactly costs a fraction of grouping all, and limits and summaries
    rarely need more (they raise :class:`InexactGroups` when they do).  None when the
    ids are no Arrow text, two unequal ids hash alike, or a balance is negative (a
    bucket's balance then bounds nothing).

    ``bits``: 2**bits buckets (default: about one an id); ``hashed``: the ids and their
    hashes (:func:`obligor_hashes`), when already made.

    >>> ids = pd.Series(["b", "a", "b", "c"], dtype="string[pyarrow]")
    >>> groups = heavy_groups(ids, None, np.array([1.0, 2.0, 3.0, 4.0]), cap=np.inf)
    >>> groups.merged.exact, groups.codes.tolist()              # few ids: all exact
    (3, [0, 1, 0, 2])
    """
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        return None
    if len(balance) and float(balance.min()) < 0:
        return None
    if hashed is None:
        hashed = obligor_hashes(pd.DataFrame({"ids": series}), "ids")
    if hashed is None:
        return None
    ids, hashes = hashed.ids, hashed.hashes
    if rows is not None:
        hashes = hashes[rows]
    if bits is None:
        bits = max((len(hashes) - 1).bit_length(), 10)
    bucket = (hashes >> np.uint64(64 - bits)).view(np.int64)  # below 2**bits: no sign
    totals = np.bincount(bucket, weights=balance, minlength=1 << bits)
    # The largest buckets, about HEAVY_BUCKETS of them, by a bound read off a sample of
    # the nonempty ones (any choice groups correctly; this one is cheap).
    sample = totals[::16]
    sample = sample[sample > 0]
    keep = min(len(sample), HEAVY_BUCKETS // 16 + 1)
    bound = np.partition(sample, len(sample) - keep)[len(sample) - keep] if keep else 0.0
    heavy = (totals > cap) | (totals >= bound)
    light = np.logical_not(heavy)
    loans = np.flatnonzero(heavy[bucket])
    exact_codes, uniques = pd.factorize(hashes[loans])
    first = np.full(len(uniques), len(loans), dtype=np.intp)
    np.minimum.at(first, exact_codes, np.arange(len(loans)))
    if len(loans):
        row = loans if rows is None else rows[loans]
        if not pc.all(pc.equal(ids.take(row), ids.take(row[first[exact_codes]]))).as_py():
            return None
    codes = np.full(len(hashes), len(uniques), dtype=np.intp)
    codes[loans] = exact_codes
    merged = Merged(
        exact=len(uniques), bound=float(np.max(totals, where=light, initial=0.0)), buckets=bucket
    )
    # The merged code never ranks (the limits check): its first position is a placeholder.
    first_loan = np.append(loans[first], len(hashes))
    return ObligorGroups(codes=codes, first=first_loan, merged=merged)


@dataclass(frozen=True, kw_only=True)
class HashedIds:
    """Obligor ids as one Arrow array, and :func:`hash_text` of each, in row order."""

    ids: pa.Array
    hashes: np.ndarray


def obligor_hashes(tape: pd.DataFrame, column: str) -> HashedIds | None:
    """The ids of an obligor column and their hashes (None: not Arrow text, or
    ``loan_id``, which needs no grouping); the first step of :func:`heavy_groups`, which
    needs neither the loan-id order nor the balances.

    >>> tape = pd.DataFrame({"obligor_id": pd.array(["A", "B", "A"], dtype="string[pyarrow]")})
    >>> hashes = obligor_hashes(tape, "obligor_id").hashes
    >>> bool(hashes[0] == hashes[2]), bool(hashes[0] == hashes[1])
    (True, False)
    """
    series = tape[column]
    if column == "loan_id" or not (
        isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"
    ):
        return None
    ids = pa.chunked_array(pa.array(series)).combine_chunks()
    hashes = hash_text(ids)
    return None if hashes is None else HashedIds(ids=ids, hashes=hashes)


class Columns:
    """Columns of the tape as numpy arrays in loan-id order, each converted once.

    Two threads may share one: each converts a column once it is asked for it, and a
    column asked for by both at once is at worst converted twice (to equal arrays).
    """

    def __init__(self, tape: pd.DataFrame, rows: np.ndarray | None) -> None:
        self.tape = tape
        self.rows = rows
        self._numbers: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, pa.Array | pd.Index | list[str]]] = {}
        self._obligors: dict[str, ObligorGroups] = {}
        self._pending_obligors: dict[str, Future[ObligorGroups]] = {}

    def pick(self, values: np.ndarray) -> np.ndarray:
        return values if self.rows is None else values[self.rows]

    def numbers(self, column: str) -> np.ndarray:
        if column not in self._numbers:
            values = self.tape[column].to_numpy(dtype=float, na_value=np.nan)
            self._numbers[column] = self.pick(values)
        return self._numbers[column]

    def codes(self, column: str) -> np.ndarray:
        """Group codes in loan-id order (0 to k - 1, missing values k; numbered in no
        promised order: nothing that uses them depends on it)."""
        if column not in self._codes:
            self._codes[column] = self._grouped(column)
        return self._codes[column][0]

    def _encoded(self, column: str) -> tuple[np.ndarray, pa.Array | pd.Index]:
        codes, uniques = encode(self.tape[column])
        return self.pick(codes), uniques

    def _grouped(self, column: str) -> tuple[np.ndarray, pa.Array | pd.Index | list[str]]:
        narrow = narrow_codes(self.tape[column])
        if narrow is not None:
            return self.pick(narrow[0]), narrow[1]
        single = single_value(self.tape[column])
        if single is not None:
            return np.zeros(len(self.tape), dtype=np.intp), [single]
        return self._encoded(column)

    def names(self, column: str) -> list[Any]:
        """The values ``codes(column)`` numbers, as Python objects."""
        self.codes(column)
        uniques = self._codes[column][1]
        return uniques.to_pylist() if isinstance(uniques, pa.Array) else list(uniques)

    def prefetch(
        self,
        executor: Executor,
        *,
        obligors: str,
        cap: float,
        hashed: Future[HashedIds | None] | None = None,
    ) -> None:
        """Start :meth:`obligor_groups` of ``obligors`` on ``executor``, exact only where
        a bucket of ids holds more than ``cap`` (see :func:`heavy_groups`); the method
        waits for it when asked.  ``hashed``: :func:`obligor_hashes`, already started."""
        self._pending_obligors[obligors] = executor.submit(
            self._heavy_groups, obligors, cap, hashed
        )

    def obligors_ready(self, column: str) -> bool:
        """Whether :meth:`obligor_groups` of ``column`` would answer without waiting."""
        pending = self._pending_obligors.get(column)
        return column in self._obligors or pending is None or pending.done()

    def obligor_groups(self, column: str, *, exact: bool = False) -> ObligorGroups:
        """Obligor groups of ``column``: the prefetched ones, possibly merged in part,
        unless ``exact`` (or none were prefetched)."""
        if column not in self._obligors:
            pending = self._pending_obligors.pop(column, None)
            self._obligors[column] = (
                pending.result() if pending is not None else self._exact_groups(column)
            )
        groups = self._obligors[column]
        if exact and groups.merged is not None:
            groups = self._obligors[column] = self._exact_groups(column)
        return groups

    def _heavy_groups(
        self, column: str, cap: float, hashed: Future[HashedIds | None] | None
    ) -> ObligorGroups:
        if not self._one_loan_each(column):
            balance = self.numbers("current_balance")
            made = None if hashed is None else hashed.result()
            groups = heavy_groups(self.tape[column], self.rows, balance, cap=cap, hashed=made)
            if groups is not None:
                return groups
        return self._exact_groups(column)

    def _one_loan_each(self, column: str) -> bool:
        return column == "loan_id" or (
            column == "obligor_id" and self.tape["obligor_id"].equals(self.tape["loan_id"])
        )

    def _exact_groups(self, column: str) -> ObligorGroups:
        if self._one_loan_each(column):
            # One group per (unique) loan id.
            return ObligorGroups(codes=np.arange(len(self.tape)), first=None)
        grouped = group_ids(self.tape[column], self.rows)
        if grouped is not None:
            return ObligorGroups(codes=grouped[0], first=grouped[1])
        codes = self._encoded(column)[0]
        if self.rows is None:
            # First appearance in the rows is first in loan-id order.
            return ObligorGroups(codes=codes, first=None)
        first = np.full(int(codes.max()) + 1, len(codes), dtype=np.intp)
        np.minimum.at(first, codes, np.arange(len(codes)))
        return ObligorGroups(codes=codes, first=first)


__all__ = [
    "HEAVY_BUCKETS",
    "Columns",
    "HashedIds",
    "InexactGroups",
    "Merged",
    "ObligorGroups",
    "encode",
    "factorize",
    "group_ids",
    "hash_text",
    "heavy_groups",
    "loan_id_order",
    "narrow_codes",
    "obligor_hashes",
    "packed_order",
    "single_value",
]
