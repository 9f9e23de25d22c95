"""Benchmark: the companion engine (时空伴随) on a synthetic week of scans, against the sorted-array floor.

    .venv/bin/python benchmarks/companions.py [--scans 10000000] [--venues 100000] [--people 1000000] [--days 7]
        [--k 1000,100000] [--delta-minutes 30] [--zipf 0.8] [--sample-venues 300] [--seed 1] [--workdir DIR] [--keep]

The log is generated with numpy (seeded): venue popularity is Zipf-like (the r-th busiest venue gets weight
r^-zipf; with 0.8 over 100,000 venues the busiest takes ~2% of all scans, some 30,000 a day, the median venue a few
a week), venue ids are shuffled against popularity, times follow a local (UTC+8) day with morning and evening
peaks, people are drawn uniformly. Ids follow arrival order, and 2% of the scans arrive late (a device uploading
hours to a day afterwards), so ids are not in time order. The K index scans are drawn uniformly from the log, so
they follow the venues' skew (cases go where people go); their persons are the index persons and are excluded.

Engine: `CompanionEngine.ingest()` writes the columns into a fresh index directory (the engine's own day
partitions, memory-mapped as in production); `find()` is timed from the index columns to the ranked answer
(persons, co-presences, first and last overlap; the per-venue breakdown of a companion is computed when it is
read, timed separately for the top 100).

Floor, measured in the same run on the same data and index scans: one in-memory int64 array of all scans sorted by
`venue << 20 | second of the week`, two `np.searchsorted` per index scan, every (index, companion) pair gathered
and counted per person with `np.bincount` (dense person ids), index persons zeroed. No partitions, no mapping, no
ranking, no times. It is timed with the needles as given and sorted; the faster counts. The engine's persons and
pair counts must equal the floor's, for every K.

SQL check: inserting 10 million rows into SQLite would take longer than everything else, so the throwaway
database (migrated by Django) holds only a sample: every scan of --sample-venues venues (two of the busiest and
the rest log-uniform by rank), written with plain sqlite3 (foreign keys off: no Venue or Person rows are made),
plus the scan with the highest id (the engine's probe, so `refresh()` trusts the index). Then
`companions_for_cases()` for 200 people with scans at those venues (their index scans read from the database, the
engine refreshed) must equal `companions_sql()` exactly: persons, counts, venues, times and order. 10,000 scans
are then appended to the database (a fifth for earlier days), `refresh()` is timed and the check repeated.
A second engine is also built from the sample database alone, to time a rebuild (reading the scan log by id).

Targets: K=1,000 under 20 ms; the largest K within 2x of the floor. The last line is
`companions: K=<K> <seconds> s, <ratio>x the sorted-array floor`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2022, 7, 8, tzinfo=dt.UTC)  # the first day of the synthetic week (UTC midnight)
US = 1_000_000
SMALL_K_TARGET_MS = 20.0
RATIO_TARGET = 2.0
# Share of a local (UTC+8) day's scans by hour: quiet nights, morning, noon and evening peaks.
HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 10, 12, 10, 10, 10, 10, 10, 12, 10, 8, 5, 3, 2], float)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=10_000_000)
    parser.add_argument("--venues", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--k", default="1000,100000", help="index scan counts, comma separated (default 1000,100000)")
    parser.add_argument("--delta-minutes", type=float, default=30)
    parser.add_argument("--zipf", type=float, default=0.8, help="venue popularity exponent (default 0.8)")
    parser.add_argument("--sample-venues", type=int, default=300, help="venues whose scans go into SQLite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory, removed after")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    args.k = sorted({int(k) for k in args.k.split(",")})
    if args.scans < 1000 or args.venues < 10 or args.people < 10 or not 1 <= args.days <= 12:
        parser.error("at least 1000 scans, 10 venues and 10 people, 1 to 12 days")
    if max(args.k) > args.scans:
        parser.error("--k larger than --scans")
    return args


def generate(args, rng: np.random.Generator):
    """The log as columns (id, venue, person, µs), in id order."""
    n = args.scans
    popularity = np.arange(1, args.venues + 1, dtype=float) ** -args.zipf
    cumulative = np.cumsum(popularity / popularity.sum())
    venue_of_rank = rng.permutation(args.venues).astype(np.int64) + 1
    rank = np.minimum(np.searchsorted(cumulative, rng.random(n)), args.venues - 1)
    venue = venue_of_rank[rank]
    del rank
    local_hour = rng.choice(24, size=n, p=HOURS / HOURS.sum())
    day = rng.integers(0, args.days, n)
    seconds = day * 86_400 + (local_hour - 8) % 24 * 3600 + rng.integers(0, 3600, n)  # UTC seconds in the week
    del local_hour, day
    person = rng.integers(1, args.people + 1, n).astype(np.int64)
    arrival = seconds + np.where(rng.random(n) < 0.02, rng.integers(3600, 86_400, n), 0)
    order = np.argsort(arrival, kind="stable")
    del arrival
    ids = np.arange(1, n + 1, dtype=np.int64)
    scanned_us = (int(START.timestamp()) + seconds[order]) * US
    return ids, venue[order], person[order], scanned_us, venue_of_rank, popularity


def floor_counts(key, key_person, venue, seconds, delta_s: int, people: int, index_persons, *, sort: bool):
    """Pair counts per person by binary search over one array sorted by (venue, time)."""
    top = (1 << 20) - 1
    low = (venue << 20) | np.maximum(seconds - delta_s, 0)
    high = (venue << 20) | np.minimum(seconds + delta_s, top)
    if sort:
        order = np.argsort(low)
        low, high = low[order], high[order]
    lo = np.searchsorted(key, low, side="left")
    hi = np.searchsorted(key, high, side="right")
    n = hi - lo
    rows = np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()), dtype=np.int64)
    counts = np.bincount(key_person[rows], minlength=people + 1)
    counts[index_persons] = 0
    return counts


def sqlite_time(us: np.ndarray) -> np.ndarray:
    """Django's SQLite storage of an aware datetime: naive UTC 'YYYY-MM-DD HH:MM:SS' (these have no fraction)."""
    return np.char.replace(np.datetime_as_string(us.astype("datetime64[us]"), unit="s"), "T", " ")


def insert_scans(db_path: Path, ids, venue, person, scanned_us) -> None:
    received = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    rows = zip(ids.tolist(), venue.tolist(), person.tolist(), sqlite_time(scanned_us).tolist(), strict=True)
    db = sqlite3.connect(db_path)
    try:
        db.execute("PRAGMA foreign_keys=OFF")
        with db:
            db.executemany("INSERT INTO venues_scan (id, venue_id, person_id, scanned_at, received_at, method, colour, "
                           f"client_ref) VALUES (?, ?, ?, ?, '{received}', 'self', 'green', '')", rows)
    finally:
        db.close()


def main() -> None:
    args = parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="companions-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "companions.sqlite3"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    shutil.rmtree(workdir / "scan-index", ignore_errors=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["SHOUWANG_VAR_DIR"] = str(workdir / "var")
    os.environ["SHOUWANG_SCAN_INDEX_DIR"] = str(workdir / "scan-index")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ.setdefault("SHOUWANG_TESTING", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection

    from shouwang.venues.companions import (
        CompanionEngine,
        IndexScans,
        companions_for_cases,
        companions_sql,
        index_scans_for,
    )

    delta_s = round(args.delta_minutes * 60)
    rng = np.random.default_rng(args.seed)
    try:
        print(f"working directory: {workdir}")
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        connection.close()
        print(f"migrated in {time.perf_counter() - started:.1f} s")

        # ---- the log ---------------------------------------------------------------------------------------
        started = time.perf_counter()
        ids, venue, person, scanned_us, venue_of_rank, popularity = generate(args, rng)
        per_venue = np.bincount(venue, minlength=args.venues + 1)[1:]
        busiest = per_venue.max()
        print(f"log: {args.scans:,} scans over {args.days} days, {args.venues:,} venues, {args.people:,} people, "
              f"generated in {time.perf_counter() - started:.1f} s")
        print(f"  venue skew (zipf {args.zipf}): busiest {busiest:,} scans ({busiest / args.scans:.1%}, "
              f"{busiest / args.days:,.0f} a day), top 1% of venues {np.sort(per_venue)[-args.venues // 100:].sum() / args.scans:.0%}"
              f" of scans, median venue {np.median(per_venue):.0f} a week; "
              f"{np.count_nonzero(np.diff(scanned_us) < 0):,} scans arrive after a later one")

        # ---- the engine --------------------------------------------------------------------------------------
        engine = CompanionEngine(workdir / "scan-index")
        started = time.perf_counter()
        engine.ingest(ids, venue, scanned_us, person)
        build_s = time.perf_counter() - started
        status = engine.status()
        size = sum(f.stat().st_size for f in engine.directory.glob("day-*.npy"))
        print(f"engine: {status['rows']:,} scans in {status['days']} day partitions, {size / 1e6:,.0f} MB, "
              f"built in {build_s:.1f} s")

        # ---- the floor's array ---------------------------------------------------------------------------------
        week_seconds = scanned_us // US - int(START.timestamp())
        started = time.perf_counter()
        order = np.argsort((venue << 20) | week_seconds)
        floor_key = ((venue << 20) | week_seconds)[order]
        floor_person = person[order]
        del order
        print(f"floor: one array of {len(floor_key):,} keys sorted by (venue, time) in {time.perf_counter() - started:.1f} s")

        # ---- the sample database and the SQL check --------------------------------------------------------------
        ranks = [r for r in (1, 4) if r < args.venues]
        log_ranks = np.geomspace(10, args.venues, num=max(1, args.sample_venues - len(ranks))).astype(int) - 1
        sample = np.unique(venue_of_rank[np.unique(np.concatenate([ranks, log_ranks]))])
        in_sample = np.isin(venue, sample)
        in_sample[-1] = True  # the probe: the scan with the highest id
        started = time.perf_counter()
        insert_scans(db_path, ids[in_sample], venue[in_sample], person[in_sample], scanned_us[in_sample])
        print(f"sample database: {int(in_sample.sum()):,} scans of {len(sample)} venues inserted in "
              f"{time.perf_counter() - started:.1f} s")
        week = (START, START + dt.timedelta(days=args.days))

        def sql_check(cases: list[int], label: str) -> None:
            started = time.perf_counter()
            result = companions_for_cases(person_ids=cases, start=week[0], end=week[1], engine=engine,
                                          delta_minutes=args.delta_minutes)
            engine_s = time.perf_counter() - started
            started = time.perf_counter()
            expected = companions_sql(index_scans_for(person_ids=cases, start=week[0], end=week[1]),
                                      delta_seconds=delta_s, exclude_person_ids=cases)
            sql_s = time.perf_counter() - started
            got = result.to_list()
            if got != expected:
                diff = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
                raise SystemExit(f"FAILED {label}: engine {len(got)} companions, SQL {len(expected)}; first "
                                 f"difference at {diff}")
            if {c.person_id for c in got} != {c.person_id for c in expected}:
                raise SystemExit(f"FAILED {label}: the person sets differ")
            print(f"check vs SQL ({label}): {len(cases)} cases, {result.index_count:,} index scans, {len(got):,} "
                  f"companions, {result.pairs:,} co-presences: identical (persons, counts, venues, times, order); "
                  f"engine with refresh {engine_s * 1000:.0f} ms, SQL {sql_s:.1f} s")

        sampled_people = np.unique(person[in_sample])
        cases = [int(p) for p in rng.choice(sampled_people, size=min(200, len(sampled_people)), replace=False)]
        sql_check(cases, "sample")

        # ---- a rebuild from the database (what a fresh index directory costs), on the sample ----------------------
        rebuilt = CompanionEngine(workdir / "rebuilt-index")
        started = time.perf_counter()
        taken = rebuilt.refresh()
        rebuild_s = time.perf_counter() - started
        print(f"rebuild from the database: {taken:,} scans read and partitioned in {rebuild_s:.1f} s "
              f"({taken / rebuild_s:,.0f} scans/s)")
        shutil.rmtree(rebuilt.directory)

        # ---- appending scans ---------------------------------------------------------------------------------
        n_new = 10_000
        new_ids = np.arange(args.scans + 1, args.scans + n_new + 1, dtype=np.int64)
        new_venue = rng.choice(sample, size=n_new)
        new_person = np.where(rng.random(n_new) < 0.05, rng.choice(cases, size=n_new),
                              rng.integers(1, args.people + 1, n_new))
        last_day = int(START.timestamp()) + (args.days - 1) * 86_400
        new_seconds = np.where(rng.random(n_new) < 0.2, rng.integers(int(START.timestamp()), last_day, n_new),
                               rng.integers(last_day, last_day + 86_400, n_new))
        insert_scans(db_path, new_ids, new_venue, new_person, new_seconds * US)
        started = time.perf_counter()
        added = engine.refresh()
        refresh_s = time.perf_counter() - started
        if added != n_new:
            raise SystemExit(f"FAILED: refresh took in {added} scans, {n_new} were appended")
        started = time.perf_counter()
        nothing = engine.refresh()
        idle_s = time.perf_counter() - started
        print(f"refresh: {n_new:,} appended scans ({int((new_seconds < last_day).sum()):,} of them for earlier days) "
              f"merged into {engine.status()['days']} partitions in {refresh_s * 1000:.0f} ms; "
              f"a refresh with nothing new {idle_s * 1000:.1f} ms ({nothing} rows)")
        sql_check(cases, "after appending")
        ids = np.concatenate([ids, new_ids])
        venue = np.concatenate([venue, new_venue])
        person = np.concatenate([person, new_person])
        week_seconds = np.concatenate([week_seconds, new_seconds - int(START.timestamp())])
        new_key = (new_venue << 20) | (new_seconds - int(START.timestamp()))
        by_key = np.argsort(new_key)
        at = np.searchsorted(floor_key, new_key[by_key], side="right")
        floor_person = np.insert(floor_person, at, new_person[by_key])
        floor_key = np.insert(floor_key, at, new_key[by_key])

        # ---- timing ------------------------------------------------------------------------------------------
        def measure(k: int, samples: int):
            engine_s, floor_s, floor_given, floor_sorted = [], [], [], []
            last = None
            for i in range(samples + 1):  # the first sample warms the page cache and is not counted
                pick = rng.choice(len(ids), size=k, replace=False)
                iv, iw, ip = venue[pick], week_seconds[pick], person[pick]
                index = IndexScans(iv, (iw + int(START.timestamp())) * US, ip)
                t0 = time.perf_counter()
                result = engine.find(index, delta_seconds=delta_s)
                t1 = time.perf_counter()
                counts = floor_counts(floor_key, floor_person, iv, iw, delta_s, args.people, ip, sort=False)
                t2 = time.perf_counter()
                floor_counts(floor_key, floor_person, iv, iw, delta_s, args.people, ip, sort=True)
                t3 = time.perf_counter()
                companions = np.flatnonzero(counts)
                by_person = np.argsort(result.person_ids)
                if not (np.array_equal(companions, result.person_ids[by_person])
                        and np.array_equal(counts[companions], result.co_presences[by_person])):
                    raise SystemExit(f"FAILED: K={k}: the engine's persons or pair counts differ from the floor's")
                if i:
                    engine_s.append(t1 - t0)
                    floor_given.append(t2 - t1)
                    floor_sorted.append(t3 - t2)
                    floor_s.append(min(t2 - t1, t3 - t2))
                last = result
            return engine_s, floor_s, floor_given, floor_sorted, last

        def p50(values):
            return statistics.median(values)

        headline = None
        for k in args.k:
            samples = 31 if k <= 10_000 else 5
            engine_s, floor_s, given, sorted_, result = measure(k, samples)
            ratio = p50(engine_s) / p50(floor_s)
            started = time.perf_counter()
            top = result.top(100)
            top_ms = (time.perf_counter() - started) * 1000
            scale, unit = (1000, "ms") if k < 10_000 else (1, "s")
            digits = 1 if unit == "ms" else 3
            print(f"\nK={k}: {samples} index samples, engine p50 {p50(engine_s) * scale:.{digits}f} {unit} "
                  f"(max {max(engine_s) * scale:.{digits}f}), floor p50 {p50(floor_s) * scale:.{digits}f} {unit} "
                  f"(needles as given {p50(given) * scale:.{digits}f}, sorted {p50(sorted_) * scale:.{digits}f}), "
                  f"{ratio:.2f}x the floor")
            print(f"  last sample: {result.pairs:,} (index, companion) pairs, {result.companion_scans:,} distinct companion scans, "
                  f"{len(result):,} companions; persons and pair counts equal the floor's in every sample; "
                  f"top 100 with their venues read in {top_ms:.1f} ms"
                  + (f" (first: person {top[0].person_id}, {top[0].co_presences} co-presences at "
                     f"{len(top[0].venues)} venue{'' if len(top[0].venues) == 1 else 's'})" if top else ""))
            if k <= 1000:
                verdict = "met" if p50(engine_s) * 1000 < SMALL_K_TARGET_MS else "MISSED"
                print(f"  target K=1000 under {SMALL_K_TARGET_MS:.0f} ms -> {verdict}")
            headline = (k, p50(engine_s), ratio)

        print(f"\npeak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
        k, seconds, ratio = headline
        print(f"target: within {RATIO_TARGET:.0f}x of the floor -> {'met' if ratio <= RATIO_TARGET else 'MISSED'}")
        print(f"companions: K={k} {seconds:.3f} s, {ratio:.2f}x the sorted-array floor")
        if ratio > RATIO_TARGET:
            raise SystemExit(f"FAILED: {ratio:.2f}x the floor, the target is {RATIO_TARGET:.0f}x")
    finally:
        connection.close()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
