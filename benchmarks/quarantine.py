"""Benchmark: room allocation and the occupancy dashboard of the quarantine domain.

    .venv/bin/python benchmarks/quarantine.py [--people 5000] [--sites 50] [--rooms 200] [--dashboard-sites 180]
        [--workdir DIR]

Set-up, not timed: a throwaway SQLite database, migrated; a small demo county (`generate_county(people=--people
+ 1000, venues=False, testing=False)`); --sites active sites of --rooms rooms each (10 floors, one family room per
floor) through the services; --people close contacts awaiting transfer, their stays written as `stay_start`
writes them (one plan, computed once by the policy, for everyone), in households as the county has them and
spread over 25 source cases. Then `allocate_rooms` for all of them at once (timed, applied: the rooms reserved).
Then --dashboard-sites sites of --rooms rooms (36,000 rooms at the defaults) and `selectors.occupancy` (timed,
best of 5).

The promises (exit 1 when one is missed): the allocation of 5,000 people across 50 sites of 200 rooms in under
5 s; the occupancy dashboard for 36,000 rooms in under 300 ms. The last line is
`quarantine: allocation <s> s for <n> people, occupancy <ms> ms for <rooms> rooms`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOCATION_TARGET_S = 5.0
OCCUPANCY_TARGET_MS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--dashboard-sites", type=int, default=180)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="quarantine-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "quarantine.sqlite3"
    db_path.unlink(missing_ok=True)
    os.environ.update({"DATABASE_URL": f"sqlite:///{db_path}", "SHOUWANG_VAR_DIR": str(workdir / "var"),
                       "SHOUWANG_TODAY": "2022-07-11", "SHOUWANG_TIME": "15:00", "SHOUWANG_TESTING": "1",
                       "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "ERROR"})
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    sys.path.insert(0, str(ROOT))
    import datetime as dt

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from shouwang.accounts.models import User
    from shouwang.areas.models import Area
    from shouwang.demo.generator import generate_county
    from shouwang.people.models import Person
    from shouwang.quarantine.enums import CHECKLIST, StayState
    from shouwang.quarantine.models import Stay
    from shouwang.quarantine.selectors import occupancy
    from shouwang.quarantine.services import (
        _phase_fields,
        _plan,
        allocate_rooms,
        rooms_add,
        site_check,
        site_create,
        site_set_state,
    )

    generate_county(seed=1, people=args.people + 1000, venues=False, testing=False)
    hq = User.objects.get(username="hq")
    grid = Area.objects.filter(level="grid").order_by("id").first()

    def make_sites(prefix: str, count: int, activate: bool) -> None:
        for i in range(count):
            site = site_create(actor=hq, name=f"{prefix}{i:03d}", kind="hotel", area_id=grid.id, staff=30,
                               persons_per_staff=10)
            floors = {f: [f"{f}{n:02d}" for n in range(1, args.rooms // 10 + 1)] for f in range(1, 11)}
            rooms_add(actor=hq, site_id=site.id, floors=floors, family_rooms=tuple(f"{f}01" for f in range(1, 11)))
            if activate:
                site_set_state(actor=hq, site_id=site.id, state="activating")
                site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
                site_set_state(actor=hq, site_id=site.id, state="active")

    t0 = time.perf_counter()
    make_sites("隔离点", args.sites, True)
    people = list(Person.objects.active().select_related("area").order_by("household_id", "id")[:args.people])
    plan = _plan(people[0], "close_contact", dt.date(2022, 7, 10), None, True)
    fields = _phase_fields(plan, 0)
    Stay.objects.bulk_create([Stay(person=p, area=p.area, category="close_contact", anchor_date=dt.date(2022, 7, 10),
                                   state=StayState.AWAITING_TRANSFER, source_case=f"BL-{i % 25:02d}", **fields)
                              for i, p in enumerate(people)], batch_size=1000)
    ids = list(Stay.objects.values_list("id", flat=True))
    print(f"set-up: {args.sites} sites x {args.rooms} rooms, {len(ids)} stays in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    got = allocate_rooms(actor=hq, stay_ids=ids, apply=True)
    allocation = time.perf_counter() - t0
    print(f"allocation: {len(got.placed)} placed, {len(got.unplaced)} unplaced in {allocation:.2f} s")

    make_sites("看板点", args.dashboard_sites - args.sites, False)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        rows = occupancy(hq)
        runs.append((time.perf_counter() - t0) * 1000)
    rooms = sum(r.rooms for r in rows)
    best = min(runs)
    print(f"occupancy: {len(rows)} sites, {rooms} rooms, {sum(r.occupied for r in rows)} people: best {best:.0f} ms "
          f"(runs {', '.join(f'{x:.0f}' for x in runs)})")
    ok = True
    for name, kept in ((f"allocation < {ALLOCATION_TARGET_S:.0f} s: {allocation:.2f} s", allocation < ALLOCATION_TARGET_S
                        and not got.unplaced),
                       (f"occupancy < {OCCUPANCY_TARGET_MS:.0f} ms: {best:.0f} ms", best < OCCUPANCY_TARGET_MS)):
        print(f"promise: {name} -> {'kept' if kept else 'MISSED'}")
        ok &= kept
    print(f"quarantine: allocation {allocation:.2f} s for {len(got.placed)} people, occupancy {best:.0f} ms for "
          f"{rooms} rooms")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
