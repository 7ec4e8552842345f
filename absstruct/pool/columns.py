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
([0.2, 0.1, 0.3], [1, 0, 0])
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
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


def packed_order(ids: pa.Array) -> np.ndarray | None:
    """Positions of ``ids`` in text order, by sorting them as 64-bit integers.

    Past the prefix every id shares, ids of at most 8 bytes without NUL bytes compare
    byte by byte exactly as big-endian integers do (a shorter id is padded with zeros,
    so it sorts first, as text does).  Returns None when the ids do not fit that way or
    repeat (the caller then sorts the text itself).

    >>> packed_order(pa.array(["L10", "L9", "L1", "L100"])).tolist()
    [2, 0, 3, 1]
    """
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
        else np.zeros(1, np.uint8)
    )
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
    text = pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)
    if ids.null_count or not text or not len(ids):
        return None
    _, offsets_buffer, data_buffer = ids.buffers()
    offset_type = np.int64 if pa.types.is_large_string(ids.type) else np.int32
    bounds = np.frombuffer(offsets_buffer, dtype=offset_type)[
        ids.offset : ids.offset + len(ids) + 1
    ].astype(np.intp)
    starts, lengths = bounds[:-1], np.diff(bounds)
    end = int(bounds[-1])
    padded = np.zeros(end + 8, dtype=np.uint8)
    if data_buffer is not None:
        padded[:end] = np.frombuffer(data_buffer, dtype=np.uint8)[:end]
    # Every (unaligned) 8-byte word of the text, by its first byte.
    words = np.ndarray(shape=(end + 1,), dtype="<u8", buffer=padded, strides=(1,))
    hashes = lengths.astype(np.uint64)
    hashes *= np.uint64(0x9E3779B97F4A7C15)  # the length in every bit
    for at in range(0, int(lengths.max()), 8):
        word = words[starts if at == 0 else np.minimum(starts + at, end)]
        left = np.clip(lengths - at, 0, 8)
        word &= _FIRST_BYTES[left]  # the id's own bytes only
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


class Columns:
    """Columns of the tape as numpy arrays in loan-id order, each converted once.

    Two threads may share one: each converts a column once it is asked for it, and a
    column asked for by both at once is at worst converted twice (to equal arrays).
    """

    def __init__(self, tape: pd.DataFrame, rows: np.ndarray | None) -> None:
        self.tape = tape
        self.rows = rows
        self._numbers: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, pa.Array | pd.Index]] = {}
        self._obligors: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self._pending_obligors: dict[str, Future[tuple[np.ndarray, np.ndarray | None]]] = {}

    def pick(self, values: np.ndarray) -> np.ndarray:
        return values if self.rows is None else values[self.rows]

    def numbers(self, column: str) -> np.ndarray:
        if column not in self._numbers:
            values = self.tape[column].to_numpy(dtype=float, na_value=np.nan)
            self._numbers[column] = self.pick(values)
        return self._numbers[column]

    def codes(self, column: str) -> np.ndarray:
        """Group codes in loan-id order, numbered by first appearance in the tape's rows."""
        if column not in self._codes:
            self._codes[column] = self._encoded(column)
        return self._codes[column][0]

    def _encoded(self, column: str) -> tuple[np.ndarray, pa.Array | pd.Index]:
        codes, uniques = encode(self.tape[column])
        return self.pick(codes), uniques

    def names(self, column: str) -> list[Any]:
        """The values ``codes(column)`` numbers, as Python objects."""
        self.codes(column)
        uniques = self._codes[column][1]
        return uniques.to_pylist() if isinstance(uniques, pa.Array) else list(uniques)

    def prefetch(self, executor: Executor, *, obligors: str) -> None:
        """Start :meth:`obligor_codes` of ``obligors`` on ``executor``; the method waits for
        it when asked."""
        self._pending_obligors[obligors] = executor.submit(self._obligor_codes, obligors)

    def obligor_codes(self, column: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Obligor codes and, unless codes already rank that way, each one's first position."""
        if column not in self._obligors:
            pending = self._pending_obligors.pop(column, None)
            self._obligors[column] = (
                pending.result() if pending is not None else self._obligor_codes(column)
            )
        return self._obligors[column]

    def _obligor_codes(self, column: str) -> tuple[np.ndarray, np.ndarray | None]:
        if column == "loan_id" or (
            column == "obligor_id" and self.tape["obligor_id"].equals(self.tape["loan_id"])
        ):
            return np.arange(len(self.tape)), None  # one group per (unique) loan id
        grouped = group_ids(self.tape[column], self.rows)
        if grouped is not None:
            return grouped
        codes = self._encoded(column)[0]
        if self.rows is None:
            return codes, None  # first appearance in the rows is first in loan-id order
        first = np.full(int(codes.max()) + 1, len(codes), dtype=np.intp)
        np.minimum.at(first, codes, np.arange(len(codes)))
        return codes, first


__all__ = [
    "Columns",
    "encode",
    "factorize",
    "group_ids",
    "hash_text",
    "loan_id_order",
    "packed_order",
]
