"""Benchmark: the people search endpoint (GET /api/v1/people?q=...) on a generated county of N people.

    .venv/bin/python benchmarks/person_search.py [--people 1000000] [--db PATH] [--seed 1] [--queries 300]

Builds (or reuses) its own SQLite database under var/bench/, generates the demo county at --people, then
times ~300 mixed searches through django.test.Client as the county-wide `hq` user (the worst case: the
whole county is in scope) and ~100 as the `grid` user. It also times the engine floor in the same run (a
`SELECT 1` round trip, an indexed lookup through the ORM, and a trivial authenticated API request), so the
search figures can be read as multiples of what the stack costs anyway.

The last line is `person_search p95_ms=<X> (target < 300 ms) people=<N>`: the p95 of the county-wide
(`hq`) searches of every kind.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default var/bench/people-N.sqlite3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=300, help="county-wide searches (the grid user gets 1/3)")
    return parser.parse_args()


def existing_people(path: Path) -> int | None:
    """How many people the file holds, without Django; None if it is not a usable benchmark database."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as db:
            (count,) = db.execute("SELECT count(*) FROM people_person").fetchone()
            (users,) = db.execute("SELECT count(*) FROM accounts_user WHERE username IN ('hq', 'grid')").fetchone()
    except sqlite3.Error:
        return None
    return count if users == 2 else None


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def main() -> None:
    args = parse_args()
    bench_dir = ROOT / "var" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    db_path = (args.db or bench_dir / f"people-{args.people}-seed{args.seed}.sqlite3").resolve()
    reuse = existing_people(db_path) == args.people
    if not reuse:
        remove_database(db_path)

    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("SHOUWANG_VAR_DIR", str(bench_dir))
    os.environ.setdefault("SHOUWANG_TESTING", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from faker.providers.person.zh_CN import Provider as ZhPerson

    from shouwang.accounts.models import User
    from shouwang.areas.enums import AreaLevel
    from shouwang.areas.models import Area
    from shouwang.demo.generator import generate_county
    from shouwang.people.models import Person

    print(f"database: {db_path}")
    call_command("migrate", verbosity=0, interactive=False)
    if reuse:
        print(f"reusing the database: {args.people} people already generated")
    else:
        started = time.perf_counter()
        summary = generate_county(seed=args.seed, people=args.people, venues=False)
        print(f"generated in {time.perf_counter() - started:.1f} s: {summary.line()}")
    people = Person.objects.count()

    rng = random.Random(args.seed)
    hq = User.objects.get(username="hq")
    grid_user = User.objects.select_related("jurisdiction").get(username="grid")

    def sample_people(qs, k: int) -> list[tuple[str, str, str]]:
        """k random (name, id_number, mobile) from the queryset, by id ranges (no ORDER BY RANDOM())."""
        ids = list(qs.values_list("id", flat=True)) if qs is not None else None
        lo, hi = (Person.objects.order_by("id").values_list("id", flat=True).first(),
                  Person.objects.order_by("-id").values_list("id", flat=True).first())
        out = []
        while len(out) < k:
            pid = rng.choice(ids) if ids is not None else rng.randint(lo, hi)
            row = Person.objects.filter(id=pid).values_list("name", "id_number", "mobile").first()
            if row and row[2]:
                out.append(row)
        return out

    surnames = list(ZhPerson.last_names.keys())
    weights = list(ZhPerson.last_names.values())

    def queries(scope_people, compounds: list[str], n: int) -> list[tuple[str, str]]:
        per = max(1, n // 6)
        sample = sample_people(scope_people, per * 4)
        out: list[tuple[str, str]] = []
        out += [("surname 1 char", s) for s in rng.choices(surnames, weights=weights, k=per)]
        out += [("name prefix 2 chars", name[:2]) for name, _, _ in sample[:per]]
        out += [("full name", name) for name, _, _ in sample[per : 2 * per]]
        out += [("id number 18", number) for _, number, _ in sample[2 * per : 3 * per]]
        out += [("mobile 11", mobile) for _, _, mobile in sample[3 * per : 4 * per]]
        out += [("compound name", rng.choice(compounds)) for _ in range(per)]
        rng.shuffle(out)
        return out

    all_compounds = list(Area.objects.filter(level=AreaLevel.COMPOUND).values_list("name", flat=True))
    grid_compounds = list(Area.objects.subtree(grid_user.jurisdiction.path).filter(level=AreaLevel.COMPOUND)
                          .values_list("name", flat=True)) or all_compounds
    grid_people = Person.objects.within(grid_user.jurisdiction.path)
    plans = [
        ("hq (county-wide)", hq, queries(None, all_compounds, args.queries)),
        (f"grid ({grid_user.jurisdiction.name})", grid_user, queries(grid_people, grid_compounds,
                                                                   max(6, args.queries // 3))),
    ]

    def timed(fn, repeat: int) -> list[float]:
        out = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
        return out

    # Engine floor: what any request costs before the search does anything.
    some_id = Person.objects.order_by("id").values_list("id_number", flat=True)[people // 2]

    def select_one():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    floor_client = Client()
    floor_client.force_login(hq)
    floors = {
        "SELECT 1 round trip": timed(select_one, 200),
        "indexed ORM lookup (id_number)": timed(lambda: list(Person.objects.filter(id_number=some_id)[:1]), 200),
        "trivial API request (/areas/root)": timed(lambda: floor_client.get("/api/v1/areas/root"), 100),
    }
    print(f"\npeople: {people}")
    print("engine floor (ms)                        p50      p95")
    for label, values in floors.items():
        print(f"  {label:<36} {percentile(values, 50):8.3f} {percentile(values, 95):8.3f}")

    headline: list[float] = []
    for label, user, plan in plans:
        client = Client()
        client.force_login(user)
        for _, q in plan[:5]:  # warm-up
            client.get("/api/v1/people", {"q": q})
        by_kind: dict[str, list[float]] = {}
        hits: dict[str, list[int]] = {}
        for kind, q in plan:
            t0 = time.perf_counter()
            response = client.get("/api/v1/people", {"q": q})
            elapsed = (time.perf_counter() - t0) * 1000
            if response.status_code != 200:
                raise SystemExit(f"GET /api/v1/people?q={q} answered {response.status_code}: {response.content[:300]}")
            by_kind.setdefault(kind, []).append(elapsed)
            hits.setdefault(kind, []).append(response.json()["count"])
        every = [v for values in by_kind.values() for v in values]
        if user is hq:
            headline = every
        print(f"\nsearch as {label}: {len(every)} queries     p50 ms   p95 ms   max ms  median hits")
        for kind, values in by_kind.items():
            print(f"  {kind:<22} n={len(values):<4}  {percentile(values, 50):8.1f} {percentile(values, 95):8.1f}"
                  f" {max(values):8.1f}  {statistics.median(hits[kind]):>10.0f}")
        print(f"  {'all':<22} n={len(every):<4}  {percentile(every, 50):8.1f} {percentile(every, 95):8.1f}"
              f" {max(every):8.1f}")

    floor_request = percentile(floors["trivial API request (/areas/root)"], 50)
    p95 = percentile(headline, 95)
    print(f"\ncounty-wide p95 is {p95 / floor_request:.1f}x a trivial API request "
          f"and {p95 / percentile(floors['indexed ORM lookup (id_number)'], 50):.0f}x an indexed lookup")
    print(f"person_search p95_ms={p95:.1f} (target < {TARGET_MS:.0f} ms) people={people}")


if __name__ == "__main__":
    main()
