"""The companion engine (时空伴随): everyone who scanned the same venue within ±Δ of a case's scans.

Tracers run this again and again during an outbreak, so it must answer 100,000 index scans over a 10-million-scan
week in a fraction of a second. The database stays the source of truth; this module keeps a read-only copy of
the scan log shaped for the one question, and `companions_sql` answers the same question in plain SQL (tests and
the benchmark check the two agree).

How the copy is laid out (numbers: `benchmarks/companions.py`)

* One partition per UTC day of `scanned_at`. A partition is four `.npy` files: `venues` (the day's distinct
  venue ids, sorted: slot -> venue id), `key` (int64, sorted: `slot << 37 | microsecond of the day`), `person`
  and `scan_id` (int64, in key order). Sorting by the composite key is sorting by (venue, time), so the scans of
  one venue within ±Δ of an instant are one contiguous range found by two binary searches. The slot (rank of the
  venue within the day) rather than the venue id goes into the key so any venue id fits; 37 bits hold a day in
  microseconds, 26 bits leave room for 67 million venues a day.
* The files are opened with `np.load(mmap_mode="r")`: every gunicorn worker maps the same pages from the page
  cache, nothing is copied per process, and opening the index costs a few system calls.
* `manifest.json` names the current file generation of each day, its row count and highest scan id, the highest
  scan id taken in (`last_id`), a probe of that row, and the id ranges not seen yet (`gaps`). It is replaced
  atomically (`os.replace`), after the partition files it names are written and synced. Readers never lock:
  they compare the manifest's bytes with the ones they last read and keep the mapped partitions whose
  generation did not change.
* `refresh()` (one writer at a time: `flock` on `.lock`) reads the scans with `id > last_id` (the primary key
  range, whatever their `scanned_at`: a device uploading yesterday's scans lands in yesterday's partition), plus
  any that appear in earlier gaps, and merges them into the partitions of their days. A merge is linear: the
  union of venue directories remaps the old keys monotonically (their order is kept), and the new rows are
  inserted at their `searchsorted` positions. Only the touched days are rewritten, under a new generation name;
  the old files are unlinked after the manifest moves on (processes that still map them keep reading them).
* Gaps: on PostgreSQL a transaction can commit scan 100 after scan 101 is already visible. Every id range
  skipped by a refresh is remembered (with the time it was first missed) and asked for again on each refresh
  for `GAP_TTL_SECONDS`; after that a gap is taken for a rolled-back insert. SQLite allocates ids under its
  single write lock, so gaps there only come from explicit ids.
* If the probe row (the scan with id `last_id`) is missing or differs, or the database changed, the index was
  built against another database (a restore, a fresh demo): it is rebuilt from scratch.

A query (`find`): the index scans are grouped by the days their windows touch; per day, two `searchsorted` calls
over the sorted key give each index scan its `[lo, hi)` range of companion rows. Ranges overlap heavily at busy
venues (100,000 index scans produce ~8 million (index, companion) pairs but only ~2 million distinct companion
scans), so instead of expanding every pair the ranges are swept as boundary events: each distinct row is taken
once with its multiplicity (how many index windows contain it). Memory is bounded by the rows of the days
touched, not by the number of pairs. The rows are then added up per person (co-presences, first and last times:
`bincount`/`ufunc.at` over arrays indexed by person id when the ids are dense enough, else one sort), index
persons dropped and the result ranked (two sorts: by first time, then a stable radix sort by co-presences). The
per-venue breakdown of a companion is computed when it is read.

Window edges are inclusive: |t_companion - t_index| <= Δ counts, Δ + 1 µs does not.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.env import VAR_DIR
from shouwang.venues.models import Scan

US = 1_000_000
DAY_US = 86_400 * US
SLOT_SHIFT = 37  # bits for the microsecond of the day: 86,400,000,000 < 2**37
OFFSET_MASK = (1 << SLOT_SHIFT) - 1
MAX_SLOTS = 1 << (63 - SLOT_SHIFT)  # distinct venues in one day's partition
FORMAT = 1
MANIFEST = "manifest.json"
COLUMNS = ("venues", "key", "person", "scan_id")
GAP_TTL_SECONDS = 3600  # an id skipped this long ago is taken for a rolled-back insert
MAX_GAP_RANGES = 1000
FETCH_CHUNK = 250_000  # rows per query while reading new scans
FLUSH_ROWS = 4_000_000  # rows merged and written at once (bounds memory while rebuilding a large log)
DEFAULT_DELTA_SECONDS = 30 * 60
DENSE_FACTOR = 4  # person ids below 4 x the matched rows: count in arrays indexed by person id (_per_person)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FILE_RE = re.compile(r"^day-(\d{4}-\d{2}-\d{2})-g(\d+)-(venues|key|person|scan_id)\.npy$")
_EMPTY = np.empty(0, dtype=np.int64)


def index_dir() -> Path:
    """Where the engine keeps its files: `SHOUWANG_SCAN_INDEX_DIR`, by default VAR_DIR/scan-index."""
    configured = getattr(settings, "SHOUWANG_SCAN_INDEX_DIR", "")
    return Path(configured) if configured else VAR_DIR / "scan-index"


# ---- results ---------------------------------------------------------------------------------------------------


def to_us(value: dt.datetime | int | float) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime, or of epoch seconds."""
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError("scan times must be timezone-aware")
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    if isinstance(value, int | np.integer):
        return int(value) * US
    return round(float(value) * US)


def from_us(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(value))


@dataclass(frozen=True)
class CompanionVenue:
    """One venue where a companion was within ±Δ of an index scan."""

    venue_id: int
    co_presences: int  # (index scan, companion scan) pairs at this venue
    first_at: dt.datetime  # the companion's earliest and latest scans here within ±Δ of an index scan
    last_at: dt.datetime


@dataclass(frozen=True)
class Companion:
    person_id: int
    co_presences: int  # (index scan, companion scan) pairs over all venues
    first_at: dt.datetime
    last_at: dt.datetime
    venues: tuple[CompanionVenue, ...]  # by first_at, then venue id

    @property
    def venue_ids(self) -> tuple[int, ...]:
        return tuple(v.venue_id for v in self.venues)


def _rank_key(c: Companion):
    return (-c.co_presences, c.first_at, c.person_id)


def _venue_key(v: CompanionVenue):
    return (v.first_at, v.venue_id)


@dataclass(frozen=True)
class IndexScans:
    """The scans of the index persons, as columns (epoch microseconds, UTC)."""

    venue_ids: np.ndarray
    scanned_us: np.ndarray
    person_ids: np.ndarray

    def __post_init__(self):
        for name in ("venue_ids", "scanned_us", "person_ids"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int64))
        if not (len(self.venue_ids) == len(self.scanned_us) == len(self.person_ids)):
            raise ValueError("index columns differ in length")

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, dt.datetime | int | float, int]]) -> IndexScans:
        """From (venue_id, scanned_at, person_id); scanned_at is an aware datetime or epoch seconds."""
        venues, times, persons = [], [], []
        for venue_id, when, person_id in rows:
            venues.append(int(venue_id))
            times.append(to_us(when))
            persons.append(int(person_id))
        return cls(np.array(venues, dtype=np.int64), np.array(times, dtype=np.int64),
                   np.array(persons, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.venue_ids)

    def rows(self) -> list[tuple[int, dt.datetime, int]]:
        return [(int(v), from_us(t), int(p)) for v, t, p in zip(self.venue_ids, self.scanned_us, self.person_ids,
                                                                    strict=True)]


@dataclass(frozen=True)
class _Rows:
    """The distinct companion scans a query matched, in partition order, with their multiplicity (`weight`: how
    many index windows contain the scan). Venue ids are decoded from the slots when a breakdown is read."""

    person: np.ndarray
    weight: np.ndarray
    when: np.ndarray  # epoch µs
    slot: np.ndarray
    block_start: np.ndarray  # first row of each partition's block
    directories: tuple[np.ndarray, ...]  # each block's slot -> venue id

    def venue(self, rows: np.ndarray) -> np.ndarray:
        block = np.searchsorted(self.block_start, rows, side="right") - 1
        out = np.empty(len(rows), dtype=np.int64)
        for b in np.unique(block).tolist():
            at = block == b
            out[at] = self.directories[b][self.slot[rows[at]]]
        return out


@dataclass(frozen=True)
class _Grouping:
    persons: np.ndarray  # sorted
    start: np.ndarray
    end: np.ndarray
    venue: np.ndarray
    when: np.ndarray
    weight: np.ndarray


class CompanionResult:
    """The ranked companions: co-presences descending, then earliest overlap, then person id.

    Columns (`person_ids`, `co_presences`, `first_us`, `last_us`) are numpy arrays in rank order; indexing or
    iterating gives `Companion` objects with their per-venue breakdown, computed on access.
    """

    def __init__(self, *, person_ids, co_presences, first_us, last_us, rows: _Rows | None, index_count: int,
                 delta_seconds: float):
        self.person_ids = person_ids
        self.co_presences = co_presences
        self.first_us = first_us
        self.last_us = last_us
        self._rows = rows
        self._all: _Grouping | None = None
        self.index_count = index_count
        self.delta_seconds = delta_seconds

    def __len__(self) -> int:
        return len(self.person_ids)

    @property
    def companion_scans(self) -> int:
        """Distinct scans within ±Δ of an index scan (the index persons' own included)."""
        return len(self._rows.person) if self._rows is not None else 0

    @property
    def pairs(self) -> int:
        """All (index scan, companion scan) pairs counted."""
        return int(self.co_presences.sum())

    def person_set(self) -> set[int]:
        return set(self.person_ids.tolist())

    def _group(self, rows: np.ndarray) -> _Grouping:
        person = self._rows.person[rows]
        order = np.argsort(person, kind="stable")
        rows, person = rows[order], person[order]
        start = np.flatnonzero(np.concatenate(([True], person[1:] != person[:-1])))
        return _Grouping(person[start], start, np.append(start[1:], len(rows)), self._rows.venue(rows),
                         self._rows.when[rows], self._rows.weight[rows])

    def _companions(self, positions: list[int], *, whole: bool = False) -> list[Companion]:
        if not positions:
            return []
        if self._all is None and not whole:  # a page: only the rows of these people
            grouping = self._group(np.flatnonzero(np.isin(self._rows.person, self.person_ids[positions])))
        else:
            if self._all is None:
                self._all = self._group(np.arange(len(self._rows.person)))
            grouping = self._all
        out = []
        for i in positions:
            g = int(np.searchsorted(grouping.persons, self.person_ids[i]))
            s, e = grouping.start[g], grouping.end[g]
            by_venue: dict[int, list[int]] = {}
            for venue, when, weight in zip(grouping.venue[s:e].tolist(), grouping.when[s:e].tolist(),
                                           grouping.weight[s:e].tolist(), strict=True):
                seen = by_venue.get(venue)
                if seen is None:
                    by_venue[venue] = [weight, when, when]
                else:
                    seen[0] += weight
                    seen[1] = min(seen[1], when)
                    seen[2] = max(seen[2], when)
            venues = sorted((CompanionVenue(venue, n, from_us(first), from_us(last))
                             for venue, (n, first, last) in by_venue.items()), key=_venue_key)
            out.append(Companion(int(self.person_ids[i]), int(self.co_presences[i]), from_us(self.first_us[i]),
                                 from_us(self.last_us[i]), tuple(venues)))
        return out

    def __getitem__(self, i: int) -> Companion:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._companions([i % len(self)])[0]

    def top(self, n: int) -> list[Companion]:
        return self._companions(list(range(min(n, len(self)))), whole=n > 1000)

    def to_list(self) -> list[Companion]:
        return self._companions(list(range(len(self))), whole=True)

    def __iter__(self) -> Iterator[Companion]:
        return iter(self.to_list())


def _empty_result(index_count: int, delta_seconds: float) -> CompanionResult:
    return CompanionResult(person_ids=_EMPTY, co_presences=_EMPTY, first_us=_EMPTY, last_us=_EMPTY, rows=None,
                           index_count=index_count, delta_seconds=delta_seconds)


# ---- partitions --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Partition:
    day: int  # days since 1970-01-01, UTC
    generation: int
    venues: np.ndarray  # slot -> venue id, sorted
    key: np.ndarray  # slot << SLOT_SHIFT | microsecond of the day, sorted
    person: np.ndarray
    scan_id: np.ndarray

    @property
    def start_us(self) -> int:
        return self.day * DAY_US


def _day_iso(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def _day_number(iso: str) -> int:
    return (dt.date.fromisoformat(iso) - dt.date(1970, 1, 1)).days


def _file_name(day: int, generation: int, column: str) -> str:
    return f"day-{_day_iso(day)}-g{generation}-{column}.npy"


def _merge_day(old: _Partition | None, day: int, venue, us, person, scan_id):
    """The partition of `day` with the new rows merged in: (venues, key, person, scan_id)."""
    offset = us - day * DAY_US
    if old is None or len(old.key) == 0:
        venues, slot = np.unique(venue, return_inverse=True)
        key = (slot.astype(np.int64) << SLOT_SHIFT) | offset
        order = np.argsort(key, kind="stable")
        return venues, key[order], person[order], scan_id[order]
    venues = np.union1d(old.venues, venue)
    if len(venues) >= MAX_SLOTS:
        raise ValueError(f"more than {MAX_SLOTS} venues on {_day_iso(day)}")
    old_key = np.asarray(old.key)
    if len(venues) != len(old.venues):
        # The union keeps the old venues in order, so the remapped keys stay sorted.
        remap = np.searchsorted(venues, np.asarray(old.venues)).astype(np.int64)
        old_key = (remap[old_key >> SLOT_SHIFT] << SLOT_SHIFT) | (old_key & OFFSET_MASK)
    key = (np.searchsorted(venues, venue).astype(np.int64) << SLOT_SHIFT) | offset
    order = np.argsort(key, kind="stable")
    key = key[order]
    at = np.searchsorted(old_key, key, side="right")
    return (venues, np.insert(old_key, at, key), np.insert(np.asarray(old.person), at, person[order]),
            np.insert(np.asarray(old.scan_id), at, scan_id[order]))


def _missing_ranges(lo: int, hi: int, present: np.ndarray) -> list[tuple[int, int]]:
    """The runs of ids in [lo, hi] not in `present` (sorted, distinct, all within [lo, hi])."""
    if hi < lo:
        return []
    edges = np.concatenate(([lo - 1], present, [hi + 1]))
    at = np.flatnonzero(np.diff(edges) > 1)
    return [(int(edges[i] + 1), int(edges[i + 1] - 1)) for i in at]


# ---- reading the scan log ----------------------------------------------------------------------------------------


def _epoch_us_sql(column: str) -> str | None:
    """SQL for the column as integer epoch microseconds, or None (convert in Python).

    SQLite keeps Django datetimes as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC. `%%s` survives Django's placeholder
    conversion (queries here always pass parameters)."""
    if connection.vendor == "sqlite":
        # Whole seconds from the first 19 characters: strftime() rounds fractions to milliseconds (…59.9996 -> +1 s).
        return (f"(CAST(strftime('%%s', substr({column}, 1, 19)) AS INTEGER) * 1000000 + CASE WHEN "
                f"length({column}) > 19 THEN CAST(substr({column} || '000000', 21, 6) AS INTEGER) ELSE 0 END)")
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    return None


def _scan_columns(where: str, params: list, *, limit: int | None = None) -> np.ndarray:
    """Rows (id, venue_id, person_id, scanned_at µs) of the scan log, as an (n, 4) int64 array, by id."""
    table = connection.ops.quote_name(Scan._meta.db_table)
    column = connection.ops.quote_name(Scan._meta.get_field("scanned_at").column)
    epoch = _epoch_us_sql(column)
    sql = (f"SELECT id, venue_id, person_id, {epoch or column} FROM {table} WHERE {where} ORDER BY id"
           + (f" LIMIT {int(limit)}" if limit else ""))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if epoch is None:  # other backends answer datetimes (naive ones in UTC)
        rows = [(i, v, p, to_us(timezone.make_aware(t, dt.UTC) if timezone.is_naive(t) else t))
                for i, v, p, t in rows]
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def _database_label() -> str:
    return f"{connection.vendor}:{connection.settings_dict.get('NAME')}"


# ---- the engine --------------------------------------------------------------------------------------------------


class _FileLock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


class CompanionEngine:
    """Day partitions of the scan log sorted by (venue, time), memory-mapped, refreshed from the database."""

    def __init__(self, directory: Path | str | None = None, *, gap_ttl_seconds: float = GAP_TTL_SECONDS):
        self.directory = Path(directory) if directory is not None else index_dir()
        self.gap_ttl_seconds = gap_ttl_seconds
        self._lock = threading.Lock()
        self._token: bytes | None = None
        self._build: str | None = None  # a rebuild starts a new build: generations are only compared within one
        self._parts: dict[int, _Partition] = {}

    # -- reading --------------------------------------------------------------------------------------------------

    def _open(self, day: int, generation: int) -> _Partition:
        arrays = {}
        for column in COLUMNS:
            path = self.directory / _file_name(day, generation, column)
            arrays[column] = np.load(path, mmap_mode=None if column == "venues" else "r", allow_pickle=False)
        if not len(arrays["key"]) == len(arrays["person"]) == len(arrays["scan_id"]):
            raise ValueError(f"partition {_day_iso(day)} g{generation}: columns differ in length")
        return _Partition(day, generation, **arrays)

    def _read_manifest(self) -> dict | None:
        try:
            return json.loads((self.directory / MANIFEST).read_text())
        except FileNotFoundError:
            return None

    def _snapshot(self) -> dict[int, _Partition]:
        """The partitions named by the current manifest (mapped once per generation, shared by threads)."""
        path = self.directory / MANIFEST
        for _ in range(10):
            try:
                token = path.read_bytes()  # small: comparing the bytes is cheap and, unlike stat(), exact
            except FileNotFoundError:
                return {}
            with self._lock:
                if token == self._token:
                    return self._parts
                try:
                    manifest = json.loads(token)
                    same_build = manifest.get("build") == self._build
                    parts = {}
                    for iso, meta in manifest["partitions"].items():
                        day = _day_number(iso)
                        old = self._parts.get(day) if same_build else None
                        keep = old is not None and old.generation == meta["generation"]
                        parts[day] = old if keep else self._open(day, meta["generation"])
                except FileNotFoundError:
                    continue  # a refresh replaced the files between our reads: read its manifest
                self._token, self._build, self._parts = token, manifest.get("build"), parts
                return parts
        raise RuntimeError("the companion index keeps changing under the reader")

    def status(self) -> dict:
        manifest = self._read_manifest() or {}
        parts = manifest.get("partitions", {})
        return {"directory": str(self.directory), "last_id": manifest.get("last_id", 0), "days": len(parts),
                "rows": sum(p["rows"] for p in parts.values()), "gaps": len(manifest.get("gaps", []))}

    # -- querying -------------------------------------------------------------------------------------------------

    def find(self, index: IndexScans | Iterable[tuple], *, delta_seconds: float = DEFAULT_DELTA_SECONDS,
             exclude_person_ids: Iterable[int] = ()) -> CompanionResult:
        """Everyone with a scan at the venue of an index scan within ±delta_seconds of it (edges included), ranked.

        The index persons are never their own companions; `exclude_person_ids` drops more people (e.g. the other
        cases of the cluster who had no scan in the window)."""
        index = index if isinstance(index, IndexScans) else IndexScans.from_rows(index)
        delta = round(delta_seconds * US)
        if delta < 0:
            raise ValueError("delta must not be negative")
        parts = self._snapshot()
        excluded = np.concatenate((index.person_ids, np.fromiter((int(p) for p in exclude_person_ids), np.int64)))
        if len(index) == 0 or not parts:
            return _empty_result(len(index), delta_seconds)
        # In (venue, time) order, every day's share of the index is in key order: the binary searches walk the
        # key array forwards and the [lo, hi) ranges come out sorted.
        order = _sort_pairs(index.venue_ids, index.scanned_us)
        iv, it = index.venue_ids[order], index.scanned_us[order]
        first_day, last_day = (it - delta) // DAY_US, (it + delta) // DAY_US
        lo_day, hi_day = int(first_day.min()), int(last_day.max())
        persons, weights, times, slots, starts, directories = [], [], [], [], [], []
        matched = 0
        for day in sorted(d for d in parts if lo_day <= d <= hi_day):
            part = parts[day]
            sel = np.flatnonzero((first_day <= day) & (last_day >= day)) if lo_day < hi_day else None
            venue = iv if sel is None else iv[sel]
            slot = np.searchsorted(part.venues, venue)
            slot[slot == len(part.venues)] = 0
            found = part.venues[slot] == venue
            offset = (it if sel is None else it[sel])[found] - part.start_us
            slot = slot[found].astype(np.int64) << SLOT_SHIFT
            if not len(slot):
                continue
            lo = np.searchsorted(part.key, slot | np.clip(offset - delta, 0, DAY_US - 1), side="left")
            hi = np.searchsorted(part.key, slot | np.clip(offset + delta, 0, DAY_US - 1), side="right")
            # Sweep the ranges as +1/-1 events: each stretch between two events lies in `depth` index windows, so
            # every companion scan is taken once, with its multiplicity, however much the windows overlap.
            bounds = np.concatenate((lo, hi))
            steps = np.concatenate((np.ones(len(lo), np.int64), np.full(len(hi), -1, np.int64)))
            by_bound = np.argsort(bounds, kind="stable")  # two sorted runs: a linear merge
            bounds = bounds[by_bound]
            depth = np.cumsum(steps[by_bound])[:-1]
            begin, length = bounds[:-1], np.diff(bounds)
            covered = (length > 0) & (depth > 0)
            begin, length, depth = begin[covered], length[covered], depth[covered]
            total = int(length.sum())
            if not total:
                continue
            rows = np.repeat(begin - (np.cumsum(length) - length), length) + np.arange(total, dtype=np.int64)
            key = np.asarray(part.key[rows])
            persons.append(np.asarray(part.person[rows]))
            weights.append(np.repeat(depth, length))
            times.append((key & OFFSET_MASK) + part.start_us)
            slots.append(key >> SLOT_SHIFT)
            starts.append(matched)
            directories.append(part.venues)
            matched += total
        if not matched:
            return _empty_result(len(index), delta_seconds)
        person, weight, when = np.concatenate(persons), np.concatenate(weights), np.concatenate(times)
        people, counts, first, last = _per_person(person, weight, when, excluded)
        rank = _rank(people, counts, first)
        rows = _Rows(person, weight, when, np.concatenate(slots), np.array(starts, dtype=np.int64),
                     tuple(directories))
        return CompanionResult(person_ids=people[rank], co_presences=counts[rank], first_us=first[rank],
                               last_us=last[rank], rows=rows, index_count=len(index), delta_seconds=delta_seconds)

    # -- writing --------------------------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Take in the scans added to the database since the last refresh (by id); answers the rows added."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with _FileLock(self.directory / ".lock"):
            manifest = self._read_manifest()
            database = _database_label()
            if manifest is None or manifest.get("format") != FORMAT or manifest.get("database") != database \
                    or not self._probe_matches(manifest):
                manifest = self._reset(database)
            self._remove_orphans(manifest)
            unchanged = json.dumps(manifest, sort_keys=True)
            added = 0
            now = time.time()
            # Late commits into the id ranges an earlier refresh skipped.
            gaps = [g for g in manifest["gaps"] if now - g[2] < self.gap_ttl_seconds]
            if gaps:
                found = []
                for i in range(0, len(gaps), 100):
                    chunk = gaps[i:i + 100]
                    where = " OR ".join(["(id BETWEEN %s AND %s)"] * len(chunk))
                    found.append(_scan_columns(where, [x for lo, hi, _ in chunk for x in (lo, hi)]))
                rows = np.concatenate(found)
                ids = np.sort(rows[:, 0])
                remaining = []
                for lo, hi, since in gaps:
                    inside = ids[(ids >= lo) & (ids <= hi)]
                    remaining += [[a, b, since] for a, b in _missing_ranges(lo, hi, inside)]
                manifest["gaps"] = remaining
                if len(rows):
                    self._merge(manifest, rows)
                    added += len(rows)
            else:
                manifest["gaps"] = []
            # New ids, in chunks; merged and written every FLUSH_ROWS rows.
            pending: list[np.ndarray] = []
            pending_rows = 0
            while True:
                rows = _scan_columns("id > %s", [manifest["last_id"]], limit=FETCH_CHUNK)
                if len(rows):
                    pending.append(rows)
                    pending_rows += len(rows)
                    ids = rows[:, 0]
                    missing = _missing_ranges(manifest["last_id"] + 1, int(ids[-1]), ids)
                    manifest["gaps"] += [[a, b, now] for a, b in missing]
                    manifest["last_id"] = int(ids[-1])
                    manifest["probe"] = [int(x) for x in rows[-1]]
                if pending and (len(rows) < FETCH_CHUNK or pending_rows >= FLUSH_ROWS):
                    manifest["gaps"] = manifest["gaps"][-MAX_GAP_RANGES:]
                    self._merge(manifest, np.concatenate(pending))
                    added += pending_rows
                    pending, pending_rows = [], 0
                if len(rows) < FETCH_CHUNK:
                    break
            manifest["gaps"] = manifest["gaps"][-MAX_GAP_RANGES:]
            if json.dumps(manifest, sort_keys=True) != unchanged:
                self._write_manifest(manifest)
            return added

    def ingest(self, scan_id, venue_id, scanned_us, person_id) -> int:
        """Bulk-load scans given as columns (the benchmark; a one-off load). The database stays the source of truth:
        `refresh()` rebuilds from it unless the scan with the highest id given here is in it, unchanged."""
        rows = np.column_stack([np.asarray(a, dtype=np.int64) for a in (scan_id, venue_id, person_id, scanned_us)])
        self.directory.mkdir(parents=True, exist_ok=True)
        with _FileLock(self.directory / ".lock"):
            manifest = self._read_manifest() or self._reset(_database_label())
            top = int(np.argmax(rows[:, 0])) if len(rows) else None
            if top is not None and rows[top, 0] > manifest["last_id"]:
                manifest["last_id"] = int(rows[top, 0])
                manifest["probe"] = [int(x) for x in rows[top]]
            for start in range(0, len(rows), FLUSH_ROWS):
                self._merge(manifest, rows[start:start + FLUSH_ROWS])
            self._write_manifest(manifest)
        return len(rows)

    def _probe_matches(self, manifest: dict) -> bool:
        probe = manifest.get("probe")
        if not probe:
            return manifest.get("last_id", 0) == 0
        rows = _scan_columns("id = %s", [probe[0]])
        return len(rows) == 1 and [int(x) for x in rows[0]] == probe

    def _reset(self, database: str) -> dict:
        for path in self.directory.glob("day-*.npy"):
            path.unlink(missing_ok=True)
        manifest = {"format": FORMAT, "database": database, "build": secrets.token_hex(8), "generation": 0,
                    "last_id": 0, "probe": None, "gaps": [], "partitions": {}}
        self._write_manifest(manifest)
        return manifest

    def _remove_orphans(self, manifest: dict) -> None:
        """Files a crashed writer left behind (the lock is held: no writer is running)."""
        live = {(iso, meta["generation"]) for iso, meta in manifest["partitions"].items()}
        for path in self.directory.iterdir():
            match = _FILE_RE.match(path.name)
            if (match and (match[1], int(match[2])) not in live) or path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)

    def _merge(self, manifest: dict, rows: np.ndarray) -> None:
        """Merge rows (id, venue, person, µs) into their days' partitions; write them and the manifest."""
        if not len(rows):
            return
        generation = manifest["generation"] + 1
        day_of = rows[:, 3] // DAY_US
        order = np.argsort(day_of, kind="stable")
        rows, day_of = rows[order], day_of[order]
        days, starts = np.unique(day_of, return_index=True)
        ends = np.append(starts[1:], len(rows))
        stale = []
        for day, start, end in zip(days.tolist(), starts.tolist(), ends.tolist(), strict=True):
            chunk = rows[start:end]
            iso = _day_iso(day)
            meta = manifest["partitions"].get(iso)
            old = self._open(day, meta["generation"]) if meta else None
            merged = _merge_day(old, day, chunk[:, 1], chunk[:, 3], chunk[:, 2], chunk[:, 0])
            for column, array in zip(COLUMNS, merged, strict=True):
                self._write_array(self.directory / _file_name(day, generation, column), array)
            if meta:
                stale += [self.directory / _file_name(day, meta["generation"], c) for c in COLUMNS]
            manifest["partitions"][iso] = {"generation": generation, "rows": len(merged[1]),
                                           "max_id": max(int(chunk[:, 0].max()), meta["max_id"] if meta else 0)}
        manifest["generation"] = generation
        self._write_manifest(manifest)
        for path in stale:  # processes that map them keep their pages until they move on
            path.unlink(missing_ok=True)

    @staticmethod
    def _write_array(path: Path, array: np.ndarray) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array, dtype=np.int64), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _write_manifest(self, manifest: dict) -> None:
        manifest["updated_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        tmp = self.directory / (MANIFEST + ".tmp")
        with open(tmp, "w") as f:
            json.dump(manifest, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / MANIFEST)


def _sort_pairs(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Positions in (major, minor) order: one int64 argsort when both fit in 63 bits, else lexsort."""
    if not len(major):
        return _EMPTY
    major_span, minor_span = major - major.min(), minor - minor.min()
    shift = int(minor_span.max()).bit_length()
    if shift + int(major_span.max()).bit_length() <= 63:
        return np.argsort((major_span << shift) | minor_span)
    return np.lexsort((minor, major))


def _per_person(person, weight, when, excluded):
    """(people ascending, co-presences, first µs, last µs) of the matched rows, excluded people dropped.

    Person ids are dense in practice (a county's registry): when they are few compared with the rows (a large
    query), bincount and ufunc.at over arrays indexed by person id are linear; otherwise one sort groups the rows."""
    low, high = int(person.min()), int(person.max())
    if low >= 0 and high < DENSE_FACTOR * len(person):
        size = high + 1
        counts = np.bincount(person, weights=weight, minlength=size)  # float64: exact below 2**53
        counts[excluded[(excluded >= 0) & (excluded < size)]] = 0
        people = np.flatnonzero(counts)
        first = np.full(size, np.iinfo(np.int64).max)
        np.minimum.at(first, person, when)
        last = np.full(size, np.iinfo(np.int64).min)
        np.maximum.at(last, person, when)
        return people, counts[people].astype(np.int64), first[people], last[people]
    order = np.argsort(person)
    grouped = person[order]
    start = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    people = grouped[start]
    counts = np.add.reduceat(weight[order], start)
    when = when[order]
    first, last = np.minimum.reduceat(when, start), np.maximum.reduceat(when, start)
    keep = ~np.isin(people, excluded)
    return people[keep], counts[keep], first[keep], last[keep]


def _rank(people: np.ndarray, counts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Positions in rank order: co-presences descending, then earliest first time, then person id.

    `people` is ascending, so a position breaks ties like the person id: sort by (first, position) in one int64
    argsort, then by co-presences with a stable (radix) sort."""
    if not len(people):
        return _EMPTY
    by_time = _sort_pairs(first, np.arange(len(people), dtype=np.int64))
    fewer = (counts.max() - counts)[by_time]
    fewer = fewer.astype(np.uint16) if fewer.max() < 1 << 16 else fewer
    return by_time[np.argsort(fewer, kind="stable")]


_engines: dict[Path, CompanionEngine] = {}
_engines_lock = threading.Lock()


def default_engine() -> CompanionEngine:
    """The process's engine for the configured directory (its mapped partitions are reused between requests)."""
    directory = index_dir().resolve()
    with _engines_lock:
        engine = _engines.get(directory)
        if engine is None:
            engine = _engines[directory] = CompanionEngine(directory)
        return engine


# ---- the tracers' query ------------------------------------------------------------------------------------------


def _window(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> dict:
    """ORM filters for scanned_at: dates are local calendar days, both included; datetimes are instants."""
    if isinstance(start, dt.datetime):
        low = start
    else:
        low = timezone.make_aware(dt.datetime.combine(start, dt.time()))
    if isinstance(end, dt.datetime):
        return {"scanned_at__gte": low, "scanned_at__lte": end}
    return {"scanned_at__gte": low,
            "scanned_at__lt": timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))}


def index_scans_for(*, person_ids: Iterable[int], start: dt.date | dt.datetime,
                    end: dt.date | dt.datetime) -> IndexScans:
    """The scans of these persons in [start, end] (the (person, scanned_at) index)."""
    rows = Scan.objects.filter(person_id__in=list(person_ids), **_window(start, end)).order_by("id") \
        .values_list("venue_id", "scanned_at", "person_id")
    return IndexScans.from_rows(rows)


def companions_for_cases(*, person_ids: Iterable[int], start: dt.date | dt.datetime, end: dt.date | dt.datetime,
                         delta_minutes: float = 30, engine: CompanionEngine | None = None,
                         refresh: bool = True) -> CompanionResult:
    """The ranked companions of these cases: everyone who scanned a venue within ±delta_minutes of one of the
    cases' scans in [start, end], cases excluded.

    The window is the policy's look-back, e.g. `contact_lookback(rules, onset, isolated_on=...)`: pass its `start`
    and `end` dates (local calendar days, both included). Companion scans just outside the window still count
    when they are within ±Δ of an index scan inside it."""
    person_ids = [int(p) for p in person_ids]
    engine = engine or default_engine()
    if refresh:
        engine.refresh()
    index = index_scans_for(person_ids=person_ids, start=start, end=end)
    return engine.find(index, delta_seconds=delta_minutes * 60, exclude_person_ids=person_ids)


def companions_sql(index: IndexScans | Iterable[tuple], *, delta_seconds: float = DEFAULT_DELTA_SECONDS,
                   exclude_person_ids: Iterable[int] = ()) -> list[Companion]:
    """The same answer as `CompanionEngine.find`, one plain indexed query per index scan (venue, scanned_at)."""
    index = index if isinstance(index, IndexScans) else IndexScans.from_rows(index)
    excluded = set(index.person_ids.tolist()) | {int(p) for p in exclude_person_ids}
    delta = dt.timedelta(microseconds=round(delta_seconds * US))
    found: dict[int, dict[int, list]] = {}
    for venue_id, when, _ in index.rows():
        scans = Scan.objects.filter(venue_id=venue_id, scanned_at__gte=when - delta, scanned_at__lte=when + delta)
        for person_id, at in scans.values_list("person_id", "scanned_at"):
            if person_id in excluded:
                continue
            seen = found.setdefault(person_id, {}).get(venue_id)
            if seen is None:
                found[person_id][venue_id] = [1, at, at]
            else:
                seen[0] += 1
                seen[1], seen[2] = min(seen[1], at), max(seen[2], at)
    out = []
    for person_id, by_venue in found.items():
        venues = sorted((CompanionVenue(v, n, first.astimezone(dt.UTC), last.astimezone(dt.UTC))
                         for v, (n, first, last) in by_venue.items()), key=_venue_key)
        out.append(Companion(person_id, sum(v.co_presences for v in venues), min(v.first_at for v in venues),
                             max(v.last_at for v in venues), tuple(venues)))
    return sorted(out, key=_rank_key)
