"""Benchmark: tracing a new case (流调) end to end against a 10-million-scan week, and Rt over 1,000 days.

    .venv/bin/python benchmarks/tracing.py [--people 1000000] [--county FILE] [--scans 10000000] [--venues 5000]
        [--zipf 0.8] [--cases 20] [--onset-days-before 2] [--no-api] [--rt-days 1000] [--rt-runs 20] [--seed 1]
        [--workdir DIR] [--keep]

Set-up, not timed (each step printed with its time):

* The county: built with the demo generator (`generate_county(venues=False)`, no demo testing data) into a
  throwaway SQLite database in --workdir, or with --county FILE copied from FILE and migrated (FILE is built there
  first when it is missing or does not hold exactly --people people, and is never written to afterwards), as
  benchmarks/testing_round.py does.
* --venues Venue rows (plain `bulk_create`, in the county's grids, no place codes).
* The week of --scans scans (the seven local days ending on the business day, 2022-07-15), generated with numpy
  as benchmarks/companions.py does: venue popularity Zipf-like (the r-th busiest venue gets weight r^-zipf,
  venue ids shuffled against popularity), local (UTC+8) days with morning, noon and evening peaks, ids in arrival
  order with 2% of the scans arriving an hour to a day late; person ids drawn uniformly from the county's active
  people, venue ids from the venues just made. The log is loaded straight into a fresh companion-engine index
  (`CompanionEngine.ingest`, in the directory `settings.SHOUWANG_SCAN_INDEX_DIR` names); it is NOT inserted into
  the database. The database gets only the scans of the index persons (their whole week) and the scan with the
  highest id (the engine's probe, so `refresh()` trusts the index), written with plain sqlite3; they are read
  back and checked to be the same rows (id, venue, person, time) as in the index, and a `refresh()` must take
  in nothing and keep all --scans rows.
* The index persons: --cases people (plus one warm-up case and one for the API) with 20 to 40 scans in the week
  and a household of two or more. Uniform draws give them scans at venues as popular as everyone's. When the
  county has too few such people (a small --people against many scans), chosen people get a week of 20-40 scans
  taken from random rows of the log instead (so following the same popularity and hours), their own rows given to
  others.
* An HQ account over the county (`accounts.services.user_create`, Role.HQ) and the business day pinned
  (`SHOUWANG_TODAY` = the last day of the week, under V9).

Timed: for each index person, `tracing.services.case_create(actor=hq, data=CaseInput(...))` in its own
transaction (the service is atomic): a confirmed case, onset --onset-days-before days before the last day (default
2), sampled and isolated on the last day. Under V9 (`lookback_days` 2) the window is then the last 5 of the 7 days;
--onset-days-before 4 makes it the whole week. The call opens the investigation, pre-fills the itinerary from the
person's scans, finds the companions (±30 min at the same venue in the window: `companions_for_cases`, the engine
refreshed first), proposes the household and the service's cap of them (`MAX_COMPANIONS`, the most co-presences
first; the count of the rest goes on the investigation) and writes their Contact/ContactExposure rows. The first
case is a warm-up (maps the partitions) and is printed, not counted. One more case goes through
`POST /api/v1/tracing/cases` with Django's test client and an HQ device token, after one GET that loads the URL
configuration and the API (printed, not counted).

Printed per case: index scans in the window, companions found, contacts proposed, queries, time, and the pauses of
Python's garbage collector inside the call (`gc.callbacks`; a full collection walks every live object of the
process, ~100,000 here, and is most of the tail). For the median and the slowest case, where the time went inside
the call (the service's functions wrapped with timers by this script: `companions_for_cases`, the result's
per-companion venue breakdown behind `top()`/`to_list()`, `_add_exposures`, `itinerary_prefill`; the queries
and their time in the driver counted with `connection.execute_wrapper`). Then the floor, measured after the calls
on the same index scans (best of 3 each): `companions_for_cases(refresh=False)` and the engine's `find()` alone;
the ratio end to end / engine is printed as the other benchmarks print theirs (informational, no target).

Rt: `shouwang.reports.rt.estimate_rt` on the synthetic 1,000-day series of benchmarks/rt.py (parametric and given
serial interval, best of --rt-runs after a warm-up; the slower of the two counts).

The promises, checked at the end (exit 1 when one is broken): EVERY counted case (the max, not a percentile)
under 1 s end to end; Rt for 1,000 days under 50 ms. The last line is
`tracing: new case <median> s median, <max> s max end to end over <scans> scans (target < 1 s); Rt <days> days
<ms> ms (target < 50 ms)`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import inspect
import json
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BUSINESS_DAY = dt.date(2022, 7, 15)  # as the demo: July 2022, under V9
DAYS = 7
LOCAL = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai, no daylight saving
WEEK_START = dt.datetime.combine(BUSINESS_DAY - dt.timedelta(days=DAYS - 1), dt.time(), LOCAL)
US = 1_000_000
CASE_PROMISE_S = 1.0
RT_PROMISE_MS = 50.0
SCANS_LOW, SCANS_HIGH = 20, 40  # an index person's scans in the week
# Share of a local day's scans by hour (as benchmarks/companions.py): quiet nights, morning, noon, evening peaks.
HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 10, 12, 10, 10, 10, 10, 10, 12, 10, 8, 5, 3, 2], float)
SI_CSV = ROOT / "shouwang" / "reports" / "tests" / "reference" / "Flu2009_si_distr.csv"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--county", type=Path, default=None,
                        help="a county database file to copy (built there first when it is missing or holds another "
                             "number of people); without it the county is built in the working directory")
    parser.add_argument("--scans", type=int, default=10_000_000, help="scans in the week (default 10,000,000)")
    parser.add_argument("--venues", type=int, default=5000, help="venues (default 5,000)")
    parser.add_argument("--zipf", type=float, default=0.8, help="venue popularity exponent (default 0.8)")
    parser.add_argument("--cases", type=int, default=20, help="counted cases (default 20)")
    parser.add_argument("--onset-days-before", type=int, default=2,
                        help="onset this many days before the last day (default 2; 4 puts the whole week in the "
                             "V9 window)")
    parser.add_argument("--no-api", action="store_true", help="skip the case through POST /api/v1/tracing/cases")
    parser.add_argument("--rt-days", type=int, default=1000)
    parser.add_argument("--rt-runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="database, var dir and scan index (default: a "
                        "temporary directory, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if args.people < 100 or args.venues < 10 or args.scans < 10_000 or args.cases < 1:
        parser.error("at least 100 people, 10 venues, 10,000 scans and one case")
    if not 0 <= args.onset_days_before < DAYS or args.rt_days < 10 or args.rt_runs < 1:
        parser.error("--onset-days-before in [0, 6], --rt-days >= 10, --rt-runs >= 1")
    return args


# ---- the county (as benchmarks/testing_round.py) -----------------------------------------------------------------


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def county_people(path: Path) -> int | None:
    """How many people a county database file holds, without Django; None if it is not one."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as db:
            (count,) = db.execute("SELECT count(*) FROM people_person").fetchone()
            (users,) = db.execute("SELECT count(*) FROM accounts_user WHERE username IN ('hq', 'lab')").fetchone()
    except sqlite3.Error:
        return None
    return count if users == 2 else None


def build_or_copy_county(args, db_path: Path) -> str:
    """Put the county into db_path: a copy of --county when it holds --people people, else built (and kept in
    --county for the next run). Answers what was done, for the output."""
    from django.core.management import call_command
    from django.db import connection

    cached = args.county.resolve() if args.county else None
    if cached is not None and county_people(cached) == args.people:
        started = time.perf_counter()
        shutil.copyfile(cached, db_path)
        call_command("migrate", verbosity=0, interactive=False)  # the code may have new migrations since
        return f"copied from {cached} and migrated in {time.perf_counter() - started:.1f} s"
    from shouwang.demo.generator import generate_county

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    options = {"seed": args.seed, "people": args.people, "venues": False}
    parameters = inspect.signature(generate_county).parameters
    for name in ("testing", "testing_data", "demo_testing"):
        if name in parameters:
            options[name] = False  # no demo testing data, if the generator offers to leave it out
    summary = generate_county(**options)
    built = f"built by the demo generator in {time.perf_counter() - started:.1f} s: {summary.line()}"
    if cached is not None:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        cached.parent.mkdir(parents=True, exist_ok=True)
        remove_database(cached)
        shutil.copyfile(db_path, cached)
        built += f"; kept in {cached}"
    return built


# ---- the scan log ------------------------------------------------------------------------------------------------


def generate(args, rng: np.random.Generator, venue_ids: np.ndarray, people: int):
    """The week's log as columns (id, venue id, person position, µs), in id (arrival) order."""
    n = args.scans
    popularity = np.arange(1, len(venue_ids) + 1, dtype=float) ** -args.zipf
    cumulative = np.cumsum(popularity / popularity.sum())
    venue_of_rank = rng.permutation(venue_ids).astype(np.int64)
    rank = np.minimum(np.searchsorted(cumulative, rng.random(n)), len(venue_ids) - 1)
    venue = venue_of_rank[rank]
    del rank
    local_hour = rng.choice(24, size=n, p=HOURS / HOURS.sum())
    seconds = rng.integers(0, DAYS, n) * 86_400 + local_hour * 3600 + rng.integers(0, 3600, n)  # since WEEK_START
    del local_hour
    person = rng.integers(0, people, n).astype(np.int64)
    arrival = seconds + np.where(rng.random(n) < 0.02, rng.integers(3600, 86_400, n), 0)
    order = np.argsort(arrival, kind="stable")
    del arrival
    ids = np.arange(1, n + 1, dtype=np.int64)
    scanned_us = (int(WEEK_START.timestamp()) + seconds[order]) * US
    return ids, venue[order], person[order], scanned_us


def pick_index_people(rng, person_pos: np.ndarray, household_size: np.ndarray, need: int) -> tuple[np.ndarray, str]:
    """Positions of `need` people with 20-40 scans in the week and a household of two or more (person_pos may be
    rewritten for the fallback). Answers (positions, how they were found)."""
    people = len(household_size)
    counts = np.bincount(person_pos, minlength=people)
    fits = np.flatnonzero((counts >= SCANS_LOW) & (counts <= SCANS_HIGH) & (household_size >= 2))
    if len(fits) >= need:
        chosen = rng.choice(fits, size=need, replace=False)
        return chosen, (f"drawn from the {len(fits):,} people with {SCANS_LOW}-{SCANS_HIGH} scans in the week and a "
                        f"household of 2+")
    households = np.flatnonzero(household_size >= 2)
    if len(households) < need:
        raise SystemExit(f"the county has only {len(households)} people in households of 2+, {need} are needed")
    chosen = rng.choice(households, size=need, replace=False)
    # Their own rows go to other people; then each gets 20-40 random rows of the log (popularity and hours kept).
    theirs = np.flatnonzero(np.isin(person_pos, chosen))
    others = np.setdiff1d(np.arange(people), chosen)
    person_pos[theirs] = others[rng.integers(0, len(others), len(theirs))]
    k = rng.integers(SCANS_LOW, SCANS_HIGH + 1, need)
    rows = rng.choice(len(person_pos), size=int(k.sum()), replace=False)
    person_pos[rows] = np.repeat(chosen, k)
    return chosen, (f"given a week of {SCANS_LOW}-{SCANS_HIGH} scans from random rows of the log (only "
                    f"{len(fits)} people had that many with a household of 2+)")


def sqlite_time(us: np.ndarray) -> list[str]:
    """Django's SQLite storage of an aware datetime: naive UTC 'YYYY-MM-DD HH:MM:SS' (these have no fraction)."""
    return np.char.replace(np.datetime_as_string(us.astype("datetime64[us]"), unit="s"), "T", " ").tolist()


def insert_scans(db_path: Path, ids, venue, person, scanned_us) -> None:
    received = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    rows = zip(ids.tolist(), venue.tolist(), person.tolist(), sqlite_time(scanned_us), strict=True)
    db = sqlite3.connect(db_path)
    try:
        db.execute("PRAGMA foreign_keys=ON")  # real venues and people: the rows must be valid
        with db:
            db.executemany("INSERT INTO venues_scan (id, venue_id, person_id, scanned_at, received_at, method, colour, "
                           f"client_ref) VALUES (?, ?, ?, ?, '{received}', 'self', 'green', '')", rows)
    finally:
        db.close()


# ---- timing inside the call ----------------------------------------------------------------------------------------


class Stages:
    """Seconds spent in some of the service's functions during one call, and the queries it ran (Django's cursor),
    by wrapping the module attributes the service looks up at call time."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.queries = 0
        self.db_seconds = 0.0
        self.last_result = None
        self.gc_seconds = 0.0
        self.gc_runs = [0, 0, 0]
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def reset(self) -> None:
        self.seconds, self.queries, self.db_seconds, self.last_result = {}, 0, 0.0, None
        self.gc_seconds, self.gc_runs = 0.0, [0, 0, 0]

    def _gc(self, phase: str, info: dict) -> None:
        """Python's cyclic garbage collector: its pauses, by generation (a full one walks every live object)."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_seconds += time.perf_counter() - self._gc_started
            self.gc_runs[info["generation"]] += 1

    def wrap(self, owner, name: str, label: str, *, keep_result: bool = False) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
            if keep_result:
                self.last_result = result
            return result

        setattr(owner, name, timed)

    def execute(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries += 1
            self.db_seconds += time.perf_counter() - started


def best_of(n: int, call) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(n):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best, result


def rt_measure(days: int, runs: int, seed: int) -> tuple[float, list[str]]:
    """benchmarks/rt.py's measurement: best of `runs` per serial interval; answers the slower best (ms)."""
    from shouwang.reports.rt import estimate_rt

    rng = np.random.default_rng(seed)
    t = np.arange(days)
    incidence = rng.poisson(50 * np.exp(3 * np.sin(t / 60))).astype(float)
    with open(SI_CSV, newline="") as f:
        si_distr = [float(row["prob"]) for row in csv.DictReader(f)]
    lines, worst = [], 0.0
    for label, kwargs in (("parametric SI (mean 4.7, sd 2.9)", {"mean_si": 4.7, "std_si": 2.9}),
                          ("given SI distribution (Flu2009)", {"si_distr": si_distr})):
        estimate_rt(incidence, **kwargs)  # warm-up
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            estimate = estimate_rt(incidence, **kwargs)
            timings.append((time.perf_counter() - started) * 1000)
        worst = max(worst, min(timings))
        lines.append(f"  {label:<34} best {min(timings):6.2f} ms, median {statistics.median(timings):6.2f} ms, "
                     f"{len(estimate.windows)} windows")
    return worst, lines


def main() -> None:
    args = parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="tracing-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "tracing.sqlite3"
    remove_database(db_path)
    index_path = workdir / "scan-index"
    shutil.rmtree(index_path, ignore_errors=True)
    env = {"DATABASE_URL": f"sqlite:///{db_path}", "SHOUWANG_VAR_DIR": str(workdir / "var"),
           "SHOUWANG_SCAN_INDEX_DIR": str(index_path), "SHOUWANG_TODAY": BUSINESS_DAY.isoformat(),
           "SHOUWANG_TESTING": "1", "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "ERROR"}
    os.environ.update(env)
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from shouwang.accounts.enums import Role
    from shouwang.accounts.services import api_token_issue, user_create
    from shouwang.areas.enums import AreaLevel
    from shouwang.areas.models import Area
    from shouwang.tracing import services
    from shouwang.tracing.enums import Classification, ClinicalType, FoundBy
    from shouwang.tracing.models import Case
    from shouwang.venues import companions as engine_module
    from shouwang.venues.companions import CompanionResult, default_engine, index_scans_for, to_us
    from shouwang.venues.enums import VenueCategory, VenueStatus
    from shouwang.venues.models import Scan, Venue

    rng = np.random.default_rng(args.seed)
    last_day = BUSINESS_DAY
    onset = last_day - dt.timedelta(days=args.onset_days_before)
    try:
        # ---- set-up (not timed) --------------------------------------------------------------------------------
        print(f"working directory: {workdir}")
        how = build_or_copy_county(args, db_path)
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM venues_scan")
            (existing,) = cursor.fetchone()
            cursor.execute("SELECT id, coalesce(household_id, 0) FROM people_person WHERE merged_into_id IS NULL "
                           "ORDER BY id")
            people = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
        if existing:
            raise SystemExit(f"the county already holds {existing} scans: use one built with venues=False")
        person_ids, household = people[:, 0], people[:, 1]
        household_size = np.bincount(household)[household]
        household_size[household == 0] = 0
        print(f"county: {len(person_ids):,} active people ({np.count_nonzero(household_size >= 2):,} in households "
              f"of 2+), {how}")

        started = time.perf_counter()
        county = Area.objects.get(level=AreaLevel.COUNTY)
        grids = list(Area.objects.subtree(county.path).filter(level=AreaLevel.GRID).values_list("id", flat=True))
        categories = [c for c in VenueCategory.values if c != VenueCategory.COMPOUND]
        labels = dict(VenueCategory.choices)
        made = Venue.objects.bulk_create(
            [Venue(name=f"基准场所{i + 1:05d}（{labels[categories[i % len(categories)]]}）",
                   category=categories[i % len(categories)], area_id=grids[i % len(grids)],
                   address=f"基准路{i + 1}号", status=VenueStatus.ACTIVE) for i in range(args.venues)],
            batch_size=2000)
        venue_ids = np.array(sorted(v.pk for v in made), dtype=np.int64)
        print(f"venues: {len(venue_ids):,} made in {len(grids)} grids in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        ids, venue, person_pos, scanned_us = generate(args, rng, venue_ids, len(person_ids))
        need = args.cases + 1 + (0 if args.no_api else 1)  # the warm-up case, the API case
        chosen, how = pick_index_people(rng, person_pos, household_size, need)
        person = person_ids[person_pos]
        del person_pos
        per_venue = np.bincount(np.searchsorted(venue_ids, venue), minlength=len(venue_ids))
        busiest = int(per_venue.max())
        print(f"log: {args.scans:,} scans over the {DAYS} local days {WEEK_START.date()}..{last_day}, "
              f"{len(venue_ids):,} venues, {len(person_ids):,} people, generated in "
              f"{time.perf_counter() - started:.1f} s")
        print(f"  venue skew (zipf {args.zipf}): busiest {busiest:,} scans ({busiest / args.scans:.1%}, "
              f"{busiest / DAYS:,.0f} a day), top 1% of venues "
              f"{np.sort(per_venue)[-max(1, len(venue_ids) // 100):].sum() / args.scans:.0%} of scans, median venue "
              f"{np.median(per_venue):,.0f} a week; {np.count_nonzero(np.diff(scanned_us) < 0):,} scans arrive "
              f"after a later one")
        index_people = person_ids[chosen].tolist()
        mine = np.isin(person, person_ids[chosen])
        weekly = np.bincount(np.searchsorted(person_ids, person[mine]), minlength=len(person_ids))[chosen]
        print(f"  index persons: {need} ({args.cases} counted, a warm-up{'' if args.no_api else ', one via the API'})"
              f" {how}: {weekly.min()}-{weekly.max()} scans each in the week, households of "
              f"{household_size[chosen].min()}-{household_size[chosen].max()}")

        engine = default_engine()
        if engine.directory != index_path.resolve():
            raise SystemExit(f"the engine's directory is {engine.directory}, not {index_path}")
        started = time.perf_counter()
        engine.ingest(ids, venue, scanned_us, person)
        ingest_s = time.perf_counter() - started
        size = sum(f.stat().st_size for f in engine.directory.glob("day-*.npy"))
        print(f"engine: {engine.status()['rows']:,} scans ingested into {engine.status()['days']} day partitions "
              f"({size / 1e6:,.0f} MB) at {settings.SHOUWANG_SCAN_INDEX_DIR} in {ingest_s:.1f} s")

        started = time.perf_counter()
        in_db = mine.copy()
        in_db[int(np.argmax(ids))] = True  # the probe: the scan with the highest id
        connection.close()
        insert_scans(db_path, ids[in_db], venue[in_db], person[in_db], scanned_us[in_db])
        expected = np.column_stack([ids[in_db], venue[in_db], person[in_db], scanned_us[in_db]])
        stored = np.array([(i, v, p, to_us(t)) for i, v, p, t in Scan.objects.order_by("id")
                           .values_list("id", "venue_id", "person_id", "scanned_at")], dtype=np.int64).reshape(-1, 4)
        if not np.array_equal(stored, expected):
            raise SystemExit("the scans in the database are not the index's rows")
        added = engine.refresh()
        rows = engine.status()["rows"]
        if added or rows != args.scans:
            raise SystemExit(f"refresh() did not trust the index: {added} rows taken in, {rows} in the index")
        print(f"database: {int(in_db.sum()):,} scans inserted (the index persons' weeks and the probe, id "
              f"{int(ids.max()):,}), read back identical to the index's rows; refresh() took in {added} rows and "
              f"kept {rows:,} ({time.perf_counter() - started:.1f} s)")
        del ids, venue, person, scanned_us, mine, in_db

        run = uuid.uuid4().hex[:6]
        hq = user_create(username=f"tracing-{run}-hq", password="Shouwang-2022", role=Role.HQ,
                         jurisdiction=county, display_name="县指挥部（基准）")
        _, token = api_token_issue(user=hq, name="tracing benchmark")
        cap = getattr(services, "MAX_COMPANIONS", None)
        print(f"HQ account {hq.username} over {county.name}; business day {settings.SHOUWANG_TODAY}; onset {onset}, "
              f"sampled and isolated {last_day}; the service proposes "
              f"{f'at most {cap}' if cap else 'all'} companions a case")

        stages = Stages()
        stages.wrap(services, "companions_for_cases", "companions_for_cases", keep_result=True)
        stages.wrap(CompanionResult, "_companions", "breakdown")  # behind top() and to_list()
        stages.wrap(services, "_add_exposures", "_add_exposures")
        stages.wrap(services, "propose_contacts", "propose_contacts")
        stages.wrap(services, "itinerary_prefill", "itinerary_prefill")

        def case_input(pid: int) -> services.CaseInput:
            return services.CaseInput(person_id=pid, found_by=FoundBy.FEVER_CLINIC, sampling_date=last_day,
                                      classification=Classification.CONFIRMED, clinical_type=ClinicalType.MILD,
                                      onset_date=onset, isolated_on=last_day)

        def one_case(pid: int) -> dict:
            stages.reset()
            with connection.execute_wrapper(stages.execute):
                started = time.perf_counter()
                report = services.case_create(actor=hq, data=case_input(pid))
                elapsed = time.perf_counter() - started
            found = stages.last_result
            return {"person": pid, "case": report.case, "seconds": elapsed, "proposed": report.proposed,
                    "events": report.events, "index": found.index_count if found is not None else 0,
                    "companions": len(found) if found is not None else 0, "queries": stages.queries,
                    "db": stages.db_seconds, "stages": dict(stages.seconds), "gc": stages.gc_seconds,
                    "gc_runs": list(stages.gc_runs)}

        def line(r: dict) -> str:
            return (f"{r['index']} scans in window ({r['events']} itinerary events), {r['companions']:,} companions, "
                    f"{r['proposed']:,} contacts proposed, {r['queries']:,} queries, {r['seconds']:.3f} s (garbage "
                    f"collector {r['gc'] * 1000:.0f} ms{', a full collection' if r['gc_runs'][2] else ''})")

        print(f"objects tracked by the garbage collector before the cases: {len(gc.get_objects()):,}")
        warm = one_case(index_people[0])
        print(f"\nwarm-up case (not counted; maps the index): person {warm['person']}: {line(warm)}")

        # ---- timed: the cases ----------------------------------------------------------------------------------
        print(f"\n{args.cases} cases through tracing.services.case_create, each in its own transaction:")
        results = []
        for k, pid in enumerate(index_people[1:args.cases + 1], start=1):
            r = one_case(pid)
            results.append(r)
            print(f"  case {k:>2} {r['case'].code} person {pid}: {line(r)}")

        # the floor, after the calls (not timed as part of them): the same index scans, best of 3
        for r in results:
            case = Case.objects.select_related("area", "person").get(id=r["case"].id)
            lb = services.window(case)
            r["window"] = (lb.start, lb.end)
            r["cfc"], again = best_of(3, lambda lb=lb, pid=r["person"]: engine_module.companions_for_cases(
                person_ids=[pid], start=lb.start, end=lb.end, delta_minutes=services.COMPANION_MINUTES,
                refresh=False))
            index = index_scans_for(person_ids=[r["person"]], start=lb.start, end=lb.end)
            r["find"], floor = best_of(3, lambda index=index, pid=r["person"]: engine.find(
                index, delta_seconds=services.COMPANION_MINUTES * 60, exclude_person_ids=[pid]))
            if len(floor) != r["companions"] or len(again) != r["companions"]:
                raise SystemExit(f"person {r['person']}: {r['companions']} companions in the call, "
                                 f"{len(again)} and {len(floor)} after")

        times = sorted(r["seconds"] for r in results)
        median_s, max_s = statistics.median(times), times[-1]
        p95_s = times[min(len(times) - 1, int(np.ceil(0.95 * len(times))) - 1)]
        by_time = sorted(results, key=lambda r: r["seconds"])
        mid = by_time[(len(results) - 1) // 2]
        print(f"\nnew case end to end: median {median_s:.3f} s, p95 {p95_s:.3f} s, max {max_s:.3f} s over "
              f"{len(results)} cases (companions {min(r['companions'] for r in results):,}-"
              f"{max(r['companions'] for r in results):,}, contacts proposed {min(r['proposed'] for r in results):,}-"
              f"{max(r['proposed'] for r in results):,})")
        for name, r in (("median", mid), ("slowest", by_time[-1])):
            s = r["stages"]
            cfc, shown = s.get("companions_for_cases", 0.0), s.get("breakdown", 0.0)
            add, propose = s.get("_add_exposures", 0.0), s.get("propose_contacts", 0.0)
            itinerary = s.get("itinerary_prefill", 0.0)
            print(f"{name} case ({r['case'].code}, person {r['person']}, window {r['window'][0]}..{r['window'][1]}, "
                  f"{r['seconds']:.3f} s, {r['queries']:,} queries taking {r['db'] * 1000:.0f} ms in the driver):")
            for label, value in (
                    ("companions_for_cases (engine refresh, index scans read, find)", cfc),
                    ("CompanionResult top()/to_list() (the proposed companions' venues)", shown),
                    ("propose_contacts' own (household, areas, venue names, evidence, note)",
                     propose - cfc - shown - add),
                    ("_add_exposures (Contact and ContactExposure rows)", add),
                    ("itinerary_prefill", itinerary),
                    ("the rest (case, investigation, facts, audit, commit)", r["seconds"] - propose - itinerary)):
                print(f"  {label:<76} {value * 1000:8.1f} ms {value / r['seconds']:6.1%}")
        finds = [r["find"] for r in results]
        cfcs = [r["cfc"] for r in results]
        ratio = median_s / statistics.median(finds)
        print(f"floor, same run, same index scans (best of 3 each): engine find() alone median "
              f"{statistics.median(finds) * 1000:.1f} ms (max {max(finds) * 1000:.1f}); companions_for_cases("
              f"refresh=False) median {statistics.median(cfcs) * 1000:.1f} ms; end to end / engine = {ratio:.0f}x "
              f"(median case: {mid['seconds'] / mid['find']:.0f}x)")

        api_s = None
        if not args.no_api:
            client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
            started = time.perf_counter()
            first = client.get("/api/v1/tracing/cases", {"limit": 1})
            first_s = time.perf_counter() - started
            if first.status_code != 200:
                raise SystemExit(f"GET /api/v1/tracing/cases answered {first.status_code}: {first.content[:300]!r}")
            pid = index_people[-1]
            body = json.dumps({"person_id": pid, "found_by": FoundBy.FEVER_CLINIC.value,
                               "sampling_date": last_day.isoformat(), "classification": Classification.CONFIRMED.value,
                               "clinical_type": ClinicalType.MILD.value, "onset_date": onset.isoformat(),
                               "isolated_on": last_day.isoformat()})
            stages.reset()
            started = time.perf_counter()
            response = client.post("/api/v1/tracing/cases", data=body, content_type="application/json",
                                   HTTP_IDEMPOTENCY_KEY=f"tracing-bench-{run}")
            api_s = time.perf_counter() - started
            if response.status_code != 201:
                raise SystemExit(f"POST /api/v1/tracing/cases answered {response.status_code}: "
                                 f"{response.content[:300]!r}")
            answer = response.json()
            found = stages.last_result
            print(f"\nvia the API (not counted; a first GET /api/v1/tracing/cases loading the URL configuration and "
                  f"the API took {first_s:.3f} s): POST /api/v1/tracing/cases for person {pid}: 201 in {api_s:.3f} s, "
                  f"{found.index_count if found is not None else 0} scans in window, "
                  f"{len(found) if found is not None else 0:,} companions, {answer['proposed']:,} contacts proposed")

        # ---- Rt ------------------------------------------------------------------------------------------------
        rt_ms, rt_lines = rt_measure(args.rt_days, args.rt_runs, args.seed)
        print(f"\nRt: shouwang.reports.rt.estimate_rt over {args.rt_days} days, best of {args.rt_runs} runs:")
        for text in rt_lines:
            print(text)

        # ---- the promises ----------------------------------------------------------------------------------------
        print(f"\npeak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
        promises = [
            (f"every case < {CASE_PROMISE_S:.0f} s end to end (max of {len(results)})", f"max {max_s:.3f} s",
             max_s < CASE_PROMISE_S),
            (f"Rt for {args.rt_days} days < {RT_PROMISE_MS:.0f} ms", f"{rt_ms:.1f} ms", rt_ms < RT_PROMISE_MS),
        ]
        for text, value, kept in promises:
            print(f"promise: {text}: {value} -> {'kept' if kept else 'BROKEN'}")
        print(f"tracing: new case {median_s:.3f} s median, {max_s:.3f} s max end to end over {args.scans:,} scans "
              f"(target < {CASE_PROMISE_S:.0f} s); Rt {args.rt_days} days {rt_ms:.1f} ms "
              f"(target < {RT_PROMISE_MS:.0f} ms)")
        if not all(kept for _, _, kept in promises):
            raise SystemExit(1)
    finally:
        connection.close()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
