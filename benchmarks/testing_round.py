"""Benchmark: a whole-county testing round (全员核酸) on the demo county of --people (default 1,000,000).

    .venv/bin/python benchmarks/testing_round.py [--people 1000000] [--county FILE] [--workdir DIR] [--keep]
        [--seed 1] [--api-seconds 10] [--warmup 2] [--threads 8] [--workers 2] [--bulk-tubes 10000]
        [--box-size 500] [--labs 4] [--file-rows 2000] [--positive-tubes 50]

Set-up, not timed: the county is built with the demo generator (`generate_county(venues=False)`, and without demo
testing data where the generator offers that switch; ~90 s at a million people) into a throwaway SQLite database in
--workdir. With --county FILE the built database is kept in FILE and later runs copy it instead of building it
again (FILE is reused only when it holds exactly --people people and is never written to). If the county already
holds testing data (a demo round), the benchmark's round is created beside it: every figure below is counted for
its own round, and its barcodes, boxes, labs and accounts carry the run's random tag. Also set up before the
clock: one sampler account with a device token per client thread, a lab account per lab, personal codes
(venues.PersonCode) for the people the API may reach, the plan of tubes (every active person, ordered by area,
household and id, ten to a tube), gunicorn (`config.wsgi`, --workers sync workers on a free port of 127.0.0.1, as
scan_ingest.py starts it) and, once the round exists, every API request's bytes.

The timed steps, each printed with its time; their sum is the last line, `testing_round: <seconds> s total`:

  1. round      `round_create` over the county (setting "routine": 10-in-1 by the policy), its target counted from
                the registry; a sampling site and --labs labs.
  2. register   Over HTTP, measured: POST /api/v1/testing/tubes, one request per tube of ten people (person tokens,
                every fifth person by ID number instead), each with its own Idempotency-Key, from --threads client
                threads (one sampler phone each, a fresh TCP connection per request, request bytes prepared in
                advance) for --warmup seconds and then a window of --api-seconds; people per second counts the
                people of the requests answered in the window (every answer must be 200). All of a million people
                through HTTP would take minutes at that rate, so the tubes the API did not reach are registered in
                process with `tubes_fill_bulk` (--bulk-tubes tubes per call, each call all or nothing), the bulk
                path of the same service that writes exactly the rows `tube_fill` writes (shouwang/testing/tests).
                Both parts are in the total.
  3. transport  Boxes of --box-size closed tubes packed for the labs in turn (`batch_pack`) and received
                (`batch_receive`), in process.
  4. results    Each lab's tubes in instrument files of --file-rows lines, --positive-tubes of all tubes positive:
                `results_stage` then `results_review(accept=True)`, the lab path, which sets every member's round
                state (negative, or recheck for the positive pools), opens the rechecks and publishes the
                pool_recheck_pending facts (status.fact_publish).
  5. coverage   `selectors.coverage` for every area whose children are grids (one row per grid), for every grid
                (its buildings and compounds), and for the county.

After step 4 (not timed) everything is counted in the database: one member and one round state per person, all
tubes resulted, 10 x --positive-tubes people in recheck with an open RecheckTask and the active fact, everybody
else negative; the coverage rows add up to the same.

The promises, checked at the end; the script exits 1 when one is broken: the timed steps take under 60 s in all,
every coverage call takes under 1 s, and the sampler API registers at least 2,000 people per second (the national
24-hour target for 10 million people is ~116 a second).
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # the only address this benchmark sends anything to
BUSINESS_DAY = "2022-07-15"  # as in the demo: July 2022, under V9
POOL = 10
TOTAL_PROMISE_S = 60.0
COVERAGE_PROMISE_S = 1.0
API_PROMISE_PEOPLE_S = 2000.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--county", type=Path, default=None,
                        help="a county database file to copy (built there first when it is missing or holds another "
                             "number of people); without it the county is built in the working directory")
    parser.add_argument("--workdir", type=Path, default=None, help="database and var dir (default: a temporary "
                        "directory, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-seconds", type=float, default=10.0, help="measured window of the API (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of API load before the window (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="client threads, one sampler phone each (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--bulk-tubes", type=int, default=10_000, help="tubes per tubes_fill_bulk call")
    parser.add_argument("--box-size", type=int, default=500, help="tubes per transport box (default 500)")
    parser.add_argument("--labs", type=int, default=4, help="labs (default 4)")
    parser.add_argument("--file-rows", type=int, default=2000, help="lines per lab results file (default 2000)")
    parser.add_argument("--positive-tubes", type=int, default=50, help="positive pools (default 50)")
    args = parser.parse_args()
    if min(args.people, args.threads, args.workers, args.bulk_tubes, args.box_size, args.labs, args.file_rows) < 1:
        parser.error("sizes must be at least 1")
    if args.positive_tubes < 0 or not 0 < args.api_seconds <= 120 or not 0 <= args.warmup <= 60:
        parser.error("--positive-tubes >= 0, --api-seconds in (0, 120], --warmup in [0, 60]")
    return args


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Clock:
    """The timed steps: each one's seconds, printed as it ends; their sum is the total."""

    def __init__(self):
        self.steps: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.steps[name] = self.steps.get(name, 0.0) + seconds

    @property
    def total(self) -> float:
        return sum(self.steps.values())


# ---- HTTP: the sampler phones ----------------------------------------------------------------------------------


def raw_head(path: str, port: int, *, token: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\nUser-Agent: testing_round\r\n"
            f"Authorization: Bearer {token}\r\n").encode()


def raw_tail(body: bytes, *, key: str) -> bytes:
    return (f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"\r\n").encode() + body


def one_request(port: int, payload: bytes) -> tuple[int, bytes]:
    """Send one prepared request on a fresh connection to 127.0.0.1: (HTTP status, body)."""
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    answer = b"".join(chunks)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer.partition(b"\r\n\r\n")[2]


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master's worker processes, from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def api_load(port: int, heads: list[bytes], tails: list[bytes], sizes: list[int], *, next_tube, duration: float,
             server_pid: int) -> dict:
    """One thread per phone (heads[i] carries phone i's token), each sending the next tube's prepared request
    (tails[n]) until `duration` seconds have passed or the prepared tubes run out."""
    threads = len(heads)
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failures: list[str] = []
    people = [0]

    def worker(index: int) -> None:
        mine, codes, count = [], {}, 0
        while time.perf_counter() < stop_at:
            n = next_tube()
            if n is None:
                break
            started = time.perf_counter()
            try:
                status, body = one_request(port, heads[index] + tails[n])
            except OSError as exc:
                status, body = -1, str(exc).encode()
            mine.append(time.perf_counter() - started)
            codes[status] = codes.get(status, 0) + 1
            if status == 200:
                count += sizes[n]
            elif len(failures) < 5:
                failures.append(f"tube {n}: {status} {body[:300]!r}")
        with lock:
            latencies.extend(mine)
            people[0] += count
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    server0 = server_cpu(server_pid)
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=duration + 120)
    elapsed = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    server1 = server_cpu(server_pid)
    latencies.sort()
    count = len(latencies)
    return {"requests": count, "elapsed": elapsed, "people": people[0], "statuses": statuses, "failures": failures,
            "p50_ms": latencies[count // 2] * 1000 if count else 0.0,
            "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else 0.0,
            "client_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "server_cpu_ms": (server1 - server0) * 1000 / count if count else 0.0}


# ---- set-up --------------------------------------------------------------------------------------------------


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
        return f"copied from {cached} in {time.perf_counter() - started:.1f} s"
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


def plan_tubes(prefix: str) -> tuple[list[tuple[str, list[int]]], list[int]]:
    """Every active person, by area (tree order), household and id, ten to a tube: (barcode, person ids)."""
    from django.db import connection

    from shouwang.areas.models import Area
    from shouwang.people.models import Person

    order = {pk: i for i, pk in enumerate(Area.objects.order_by("path").values_list("id", flat=True))}
    people = list(Person.objects.active().values_list("area_id", "household_id", "id"))
    people.sort(key=lambda r: (order[r[0]], r[1] or 0, r[2]))
    ids = [r[2] for r in people]
    connection.close()
    tubes = [(f"{prefix}{i // POOL + 1:07d}", ids[i:i + POOL]) for i in range(0, len(ids), POOL)]
    return tubes, ids


def person_codes(person_ids: list[int]) -> dict[int, str]:
    """A live personal code for each of these people (issued where missing, as the venues domain issues them)."""
    from shouwang.venues.models import PersonCode
    from shouwang.venues.services import new_token

    out: dict[int, str] = {}
    for i in range(0, len(person_ids), 900):
        out.update(PersonCode.objects.filter(person_id__in=person_ids[i:i + 900], revoked_at__isnull=True,
                                             person__merged_into__isnull=True).values_list("person_id", "token"))
    fresh = [PersonCode(person_id=pid, token=new_token()) for pid in person_ids if pid not in out]
    PersonCode.objects.bulk_create(fresh, batch_size=1000)
    out.update((c.person_id, c.token) for c in fresh)
    return out


def main() -> None:
    args = parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="testing_round-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "testing_round.sqlite3"
    remove_database(db_path)
    env = {"DATABASE_URL": f"sqlite:///{db_path}", "SHOUWANG_VAR_DIR": str(workdir / "var"),
           "SHOUWANG_TODAY": BUSINESS_DAY, "SHOUWANG_TESTING": "1", "DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "ERROR"}
    os.environ.update(env)
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count

    from shouwang.accounts.enums import Role
    from shouwang.accounts.models import User
    from shouwang.accounts.services import api_token_issue, user_create
    from shouwang.areas.enums import AreaLevel
    from shouwang.areas.models import Area
    from shouwang.core import clock
    from shouwang.people.models import Person
    from shouwang.status.models import PersonStatus, StatusFact
    from shouwang.testing import selectors
    from shouwang.testing.models import PersonRound, RecheckTask, TestingRound, Tube, TubeMember, TubeResult
    from shouwang.testing.services import (
        POOL_SOURCE,
        RoundInput,
        batch_pack,
        batch_receive,
        lab_create,
        results_review,
        results_stage,
        round_create,
        site_create,
        tubes_fill_bulk,
    )

    server = None
    rng = random.Random(args.seed)
    timer = Clock()
    try:
        # ---- set-up (not timed) --------------------------------------------------------------------------------
        print(f"working directory: {workdir}")
        how = build_or_copy_county(args, db_path)
        connection.close()
        people_total = Person.objects.active().count()
        earlier_rounds = TestingRound.objects.count()
        print(f"set-up (not timed): county of {people_total} people {how}"
              + (f"; {earlier_rounds} testing round(s) already in it, left as they are" if earlier_rounds else ""))

        started = time.perf_counter()
        county = Area.objects.get(level=AreaLevel.COUNTY)
        hq = User.objects.get(username="hq")
        run = uuid.uuid4().hex[:6]
        samplers = [user_create(username=f"tr-{run}-phone{i + 1}", password="Shouwang-2022", role=Role.SAMPLER,
                                jurisdiction=county, display_name=f"采样手机{i + 1}", is_device=True)
                    for i in range(args.threads)]
        tokens = [api_token_issue(user=u, name="testing_round phone")[1] for u in samplers]
        bulk_sampler = user_create(username=f"tr-{run}-site", password="Shouwang-2022", role=Role.SAMPLER,
                                   jurisdiction=county, display_name="集中采样点")
        lab_users = [user_create(username=f"tr-{run}-lab{k + 1}", password="Shouwang-2022", role=Role.LAB,
                                 jurisdiction=county, display_name=f"实验室{k + 1}") for k in range(args.labs)]
        prefix = f"TR{run}-"  # barcodes and boxes: unique beside any testing data the county holds
        tubes, order = plan_tubes(prefix)
        api_cap = min(len(tubes), int(800 * (args.api_seconds + args.warmup)))  # tubes the API could reach
        codes = person_codes([pid for _, ids in tubes[:api_cap] for pid in ids])
        numbers: dict[int, str] = {}  # every fifth person of a tube is read from the ID card instead
        by_card = [pid for _, ids in tubes[:api_cap] for pid in ids[4::5]]
        for i in range(0, len(by_card), 900):
            numbers.update(Person.objects.filter(id__in=by_card[i:i + 900]).values_list("id", "id_number"))
        connection.close()
        port = free_port()
        base = f"http://{HOST}:{port}"
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi", "-b", f"{HOST}:{port}", "-w",
             str(args.workers), "--timeout", "300", "--log-level", "warning"],
            env={**os.environ, **env}, cwd=ROOT)
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not start")
        print(f"set-up (not timed): {len(tubes)} tubes planned ({len(order)} people, {POOL} a tube, by area and "
              f"household), {len(codes)} personal codes for the first {api_cap} tubes, {args.threads} sampler "
              f"phones, {args.labs} labs, gunicorn with {args.workers} sync workers on {base}, "
              f"in {time.perf_counter() - started:.1f} s")

        # ---- 1. the round ----------------------------------------------------------------------------------------
        started = time.perf_counter()
        start = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        round_ = round_create(actor=hq, data=RoundInput(
            name=f"全县第1轮全员核酸（基准 {run}）", kind="whole", area_ids=[county.id], starts_at=start,
            deadline=start + dt.timedelta(days=1), settings={county.id: "routine"}))
        site = site_create(actor=hq, name=f"集中采样点（基准 {run}）", area_id=county.id, per_hour=2000, samplers=40)
        labs = [lab_create(actor=hq, name=f"检测实验室{k + 1}（基准 {run}）", area_id=county.id, tubes_per_day=40_000)
                for k in range(args.labs)]
        elapsed = time.perf_counter() - started
        timer.add("round", elapsed)
        ra = round_.areas.get()
        print(f"\n1. round: created in {elapsed:.2f} s: target {round_.target} people, {ra.pool_mode} by {ra.rule} "
              f"(policy {round_.policy_version}), a site and {len(labs)} labs")
        if round_.target != len(order):
            raise SystemExit(f"the round's target {round_.target} is not the {len(order)} active people")

        # requests prepared before the clock runs again (not timed)
        started = time.perf_counter()

        def body(n: int) -> bytes:
            barcode, ids = tubes[n]
            people = [{"id_number": numbers[pid]} if k % 5 == 4 else {"person_token": codes[pid]}
                      for k, pid in enumerate(ids)]
            return json.dumps({"round_id": round_.id, "barcode": barcode, "people": people, "site_id": site.id,
                               "close": len(ids) < POOL}).encode()

        # a phone's request is its own head (token) and the tube's part (its retry key, its body)
        heads = [raw_head("/api/v1/testing/tubes", port, token=token) for token in tokens]
        tails = [raw_tail(body(n), key=f"{run}-{n}") for n in range(api_cap)]
        sizes = [len(ids) for _, ids in tubes]
        connection.close()
        print(f"   {api_cap} API requests prepared in {time.perf_counter() - started:.1f} s (not timed)")

        # ---- 2. registration: the API measured, the rest in bulk ---------------------------------------------
        counter = iter(range(api_cap))
        counter_lock = threading.Lock()

        def next_tube() -> int | None:
            with counter_lock:
                return next(counter, None)

        results = {}
        for phase, seconds in (("warm-up", args.warmup), ("window", args.api_seconds)):
            if seconds <= 0:
                continue
            results[phase] = api_load(port, heads, tails, sizes, next_tube=next_tube,
                                      duration=seconds, server_pid=server.pid)
            timer.add("register (API)", results[phase]["elapsed"])
            bad = {k: v for k, v in results[phase]["statuses"].items() if k != 200}
            if bad:
                raise SystemExit(f"API {phase}: unexpected answers {bad}: {results[phase]['failures']}")
        sent = next_tube()  # the first tube no phone took
        sent = api_cap if sent is None else sent
        window, label = results["window"], "window"
        if not window["requests"] and "warm-up" in results:  # a small county: every tube went in the warm-up
            window, label = results["warm-up"], "warm-up (no tube was left for the window)"
        api_rate = window["people"] / window["elapsed"]
        api_people = sum(sizes[:sent])
        print(f"\n2. register, API: {sent} tubes / {api_people} people through POST /api/v1/testing/tubes in "
              f"{timer.steps['register (API)']:.1f} s ({args.warmup:g} s warm-up + {args.api_seconds:g} s window)")
        print(f"   {label}: {window['requests']} tubes = {window['people']} people in {window['elapsed']:.1f} s = "
              f"{api_rate:.0f} people/s ({window['requests'] / window['elapsed']:.0f} requests/s), p50 "
              f"{window['p50_ms']:.1f} ms, p99 {window['p99_ms']:.1f} ms, {args.threads} phones, {args.workers} "
              f"workers; server CPU {window['server_cpu_ms']:.1f} ms a request, load generator CPU "
              f"{window['client_cpu_s']:.1f} s")
        server.terminate()
        server.wait(timeout=30)
        server = None
        if api_cap < len(tubes) and sent == api_cap:
            print(f"   (the API used every prepared request: raise the cap in the script, {api_cap} tubes)")

        started = time.perf_counter()
        rest = tubes[sent:]
        added = 0
        for i in range(0, len(rest), args.bulk_tubes):
            report = tubes_fill_bulk(actor=bulk_sampler, round_id=round_.id, tubes=rest[i:i + args.bulk_tubes],
                                     site_id=site.id, close=True)
            added += report.people_added
        elapsed = time.perf_counter() - started
        timer.add("register (bulk)", elapsed)
        print(f"   bulk, in process: {len(rest)} tubes / {added} people with tubes_fill_bulk in {elapsed:.1f} s "
              f"({added / elapsed if elapsed else 0:.0f} people/s, {args.bulk_tubes} tubes a call)")

        # ---- 3. transport and receipt ------------------------------------------------------------------------
        barcodes = [b for b, _ in tubes]
        boxes = [barcodes[i:i + args.box_size] for i in range(0, len(barcodes), args.box_size)]
        lab_of_box = [k % args.labs for k in range(len(boxes))]
        started = time.perf_counter()
        for k, box in enumerate(boxes):
            batch_pack(actor=bulk_sampler, code=f"{prefix}BOX{k + 1:05d}", lab_id=labs[lab_of_box[k]].id,
                       barcodes=box, site_id=site.id, courier="转运组", courier_mobile="13900001111")
        packed_s = time.perf_counter() - started
        started = time.perf_counter()
        for k, box in enumerate(boxes):
            batch_receive(actor=lab_users[lab_of_box[k]], code=f"{prefix}BOX{k + 1:05d}", barcodes=box)
        received_s = time.perf_counter() - started
        timer.add("transport", packed_s + received_s)
        print(f"\n3. transport: {len(boxes)} boxes of up to {args.box_size} tubes packed in {packed_s:.1f} s and "
              f"received in {received_s:.1f} s")

        # ---- 4. lab results: staged, reviewed; members' states, rechecks, facts ----------------------------------
        positive = set(rng.sample(range(len(tubes)), min(args.positive_tubes, len(tubes))))
        tested_at = clock.now().isoformat()
        files = []
        for lab_index in range(args.labs):
            mine = [n for k, box in enumerate(boxes) if lab_of_box[k] == lab_index
                    for n in range(k * args.box_size, k * args.box_size + len(box))]
            for i in range(0, len(mine), args.file_rows):
                lines = []
                for line, n in enumerate(mine[i:i + args.file_rows], start=1):
                    hit = n in positive
                    lines.append((line, {"barcode": barcodes[n], "result": "阳性" if hit else "阴性",
                                         "ct_orf": f"{rng.uniform(24, 34):.2f}" if hit else None,
                                         "ct_n": f"{rng.uniform(24, 34):.2f}" if hit else None,
                                         "tested_at": tested_at}))
                files.append((lab_index, f"{labs[lab_index].name}-{i // args.file_rows + 1:03d}.csv", lines))
        stage_s = review_s = 0.0
        totals = {"tubes": 0, "negative_people": 0, "rechecks": 0}
        for lab_index, name, lines in files:
            started = time.perf_counter()
            staged = results_stage(actor=lab_users[lab_index], lab_id=labs[lab_index].id, lines=lines, file_name=name)
            stage_s += time.perf_counter() - started
            if staged.errors:
                raise SystemExit(f"{name}: {staged.errors[:3]}")
            started = time.perf_counter()
            _, report = results_review(actor=lab_users[lab_index], file_id=staged.id, accept=True)
            review_s += time.perf_counter() - started
            for key in totals:
                totals[key] += getattr(report, key)
        timer.add("results", stage_s + review_s)
        print(f"\n4. results: {len(files)} instrument files ({sum(len(f[2]) for f in files)} lines) staged in "
              f"{stage_s:.1f} s and reviewed in {review_s:.1f} s: {totals['tubes']} tubes resulted, "
              f"{totals['negative_people']} people negative, {len(positive)} positive pools -> "
              f"{totals['rechecks']} people under recheck (states, RecheckTasks, pool_recheck_pending facts)")

        # checks, not timed
        started = time.perf_counter()
        n_people = len(order)
        recheck_people = sum(sizes[n] for n in positive)
        states = dict(PersonRound.objects.filter(round=round_).values_list("state").annotate(n=Count("id")))
        expected = {"negative": n_people - recheck_people, "recheck": recheck_people}
        checks = {
            "round states": (states, {k: v for k, v in expected.items() if v}),
            "members": (TubeMember.objects.filter(round=round_, removed_at__isnull=True).count(), n_people),
            "tubes resulted": (Tube.objects.filter(round=round_, state="resulted").count(), len(tubes)),
            "results": (TubeResult.objects.filter(tube__round=round_).count(), len(tubes)),
            "rechecks open": (RecheckTask.objects.filter(round=round_, state="open").count(), recheck_people),
            "pool facts": (StatusFact.objects.filter(source=POOL_SOURCE, withdrawn_at__isnull=True,
                                                     source_id__startswith=prefix,
                                                     value="pool_recheck_pending").count(), recheck_people),
            "codes not green": (PersonStatus.objects.filter(person_id__in=RecheckTask.objects.filter(round=round_)
                                                            .values("person_id")).exclude(colour="green").count(),
                                recheck_people),
        }
        wrong = {k: v for k, v in checks.items() if v[0] != v[1]}
        if wrong:
            raise SystemExit(f"the database does not hold what the round did: {wrong}")
        print(f"   checked in the database (not timed, {time.perf_counter() - started:.1f} s): one member and one "
              f"round state per person ({expected['negative']} negative, {recheck_people} recheck), {len(tubes)} "
              f"results, {recheck_people} open rechecks and pool_recheck_pending facts (codes not green)")

        # ---- 5. coverage ----------------------------------------------------------------------------------------
        grids = list(Area.objects.subtree(county.path).filter(level=AreaLevel.GRID).order_by("path"))
        parent_paths = sorted({g.path[:-Area.steplen] for g in grids})
        parents = list(Area.objects.filter(path__in=parent_paths).order_by("path"))
        calls: list[tuple[float, str, str]] = []
        grid_rows = {}
        started = time.perf_counter()
        for kind, areas in (("grids' parents", parents), ("grids", grids), ("county", [county])):
            for area in areas:
                t0 = time.perf_counter()
                table = selectors.coverage(round_=round_, parent=area)
                calls.append((time.perf_counter() - t0, kind, area.name))
                if kind == "grids' parents":
                    for row in table.rows:
                        if row.area.level == AreaLevel.GRID:
                            grid_rows[row.area.id] = row
                elif kind == "county":
                    county_total = table.total
        elapsed = time.perf_counter() - started
        timer.add("coverage", elapsed)
        slowest = max(calls)
        by_kind = {}
        for seconds, kind, _ in calls:
            by_kind.setdefault(kind, []).append(seconds)
        print(f"\n5. coverage: {len(calls)} calls of selectors.coverage in {elapsed:.2f} s, slowest "
              f"{slowest[0] * 1000:.0f} ms ({slowest[2]}): "
              + ", ".join(f"{len(v)} for the {k} (max {max(v) * 1000:.0f} ms, mean {sum(v) / len(v) * 1000:.0f} ms)"
                          for k, v in by_kind.items()))
        sums = {name: sum(getattr(r, name) for r in grid_rows.values())
                for name in ("target", "sampled", "negative", "recheck")}
        want = {"target": n_people, "sampled": n_people, "negative": n_people - recheck_people,
                "recheck": recheck_people}
        if len(grid_rows) != len(grids) or sums != want or county_total.sampled != n_people:
            raise SystemExit(f"coverage does not add up: {len(grid_rows)} of {len(grids)} grids, {sums} != {want}")
        print(f"   every one of the {len(grids)} grids has its row; they add up to target {sums['target']}, sampled "
              f"{sums['sampled']}, negative {sums['negative']}, recheck {sums['recheck']} "
              f"(county: {county_total.percent}% sampled)")

        # ---- the promises ---------------------------------------------------------------------------------------
        total = timer.total
        promises = [
            (f"the timed steps take < {TOTAL_PROMISE_S:.0f} s", f"{total:.1f} s", total < TOTAL_PROMISE_S),
            (f"every coverage call takes < {COVERAGE_PROMISE_S:.0f} s", f"slowest {slowest[0]:.3f} s",
             slowest[0] < COVERAGE_PROMISE_S),
            (f"the sampler API registers >= {API_PROMISE_PEOPLE_S:.0f} people/s", f"{api_rate:.0f} people/s",
             api_rate >= API_PROMISE_PEOPLE_S),
        ]
        print("\nsteps: " + ", ".join(f"{k} {v:.1f} s" for k, v in timer.steps.items()))
        for text, value, kept in promises:
            print(f"promise: {text}: {value} -> {'kept' if kept else 'BROKEN'}")
        print(f"testing_round: {total:.1f} s total")
        if not all(kept for _, _, kept in promises):
            raise SystemExit(1)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        connection.close()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
