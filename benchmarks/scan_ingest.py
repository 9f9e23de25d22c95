"""Benchmark: scans coming in. Bulk loads (a device's batch upload, a file import) in rows/s, and the door scan
endpoint's throughput and p99 latency under load, against the same server's bare /healthz.

    .venv/bin/python benchmarks/scan_ingest.py [--people 5000] [--venues 200] [--batches 20] [--batch-size 1000]
        [--file-rows 20000] [--duration 10] [--threads 8] [--workers 2] [--workdir DIR] [--keep]

Everything runs on this machine. The script builds a throwaway SQLite database (migrated, a county with one grid,
--venues venues with their place codes, --people people with personal codes, some of them quarantined, in a
medium-risk zone or awaiting a pool recheck so the colours are not all green) and a checkpoint account with a
device token, then starts gunicorn (`config.wsgi`, --workers sync workers) on a free port of 127.0.0.1 with that
database, as tests/browser/conftest.py does, and talks to it over HTTP only:

  * batch:  --batches POSTs of --batch-size lines to /api/v1/scans/batch (one device's offline backlog), then the
            first batch again, which must store nothing (all duplicates);
  * file:   one CSV of --file-rows rows POSTed to /api/v1/scans/import, then once more (nothing stored twice);
  * scan:   the load generator below against GET /healthz (a view that touches nothing), then against
            POST /api/v1/scans with a random venue and person and a fresh client_ref per request (the device's
            own retry key: the endpoint checks it, so the benchmark pays for it), each for --duration seconds.

The load generator: --threads threads in this process, each sending one request per fresh TCP connection
(gunicorn's sync workers close the connection after each response) to 127.0.0.1 only, with the request bytes
prepared in advance and only the status line parsed, so the client costs little of the two cores it shares with
the server. Every loop is bounded in time (--duration) and in requests (--max-requests per endpoint) and stops by
itself; every answer must be 200 (/healthz) or 201 (scan), else the run fails. rps counts answers completed in the
window; p99 is over every request of the window.

The promise: the scan endpoint (the device token in one statement, the retry check, both codes and the materialised
status row in one more, one INSERT into the append-only log; see docs/venues.md, "The door scan's speed") reaches at
least half the requests per second of /healthz on the same server; the script exits 1 when it does not. The CPU the
gunicorn workers spend per request is printed for each endpoint (from /proc), and so is the load generator's: it
takes more of the two cores during /healthz than during the scans, which flatters the ratio slightly. With one
worker the scan costs about twice /healthz's CPU; with two, SQLite's cost of two processes writing one file adds
10-20% to each scan. `--settings` runs the server with another settings module to try a change: a file on
PYTHONPATH with `from config.settings import *` and the change.
The last line is
`scan_ingest: batch <rows/s> rows/s, file <rows/s> rows/s, scan endpoint <rps> rps (<ratio> of /healthz), p99 <ms> ms`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import resource
import shutil
import socket
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
PROMISE_RATIO = 0.5
BUSINESS_DAY = "2022-07-15"  # as in the demo: July 2022, under V9


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--venues", type=int, default=200)
    parser.add_argument("--batches", type=int, default=20, help="batch uploads (default 20)")
    parser.add_argument("--batch-size", type=int, default=1000, help="lines per batch upload (default 1000)")
    parser.add_argument("--file-rows", type=int, default=20000, help="rows in the imported CSV (default 20000)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per endpoint (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of untimed load first (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per endpoint (default 200000)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settings", default="config.settings",
                        help="Django settings module for the set-up and gunicorn (default config.settings; another "
                             "one must be importable, e.g. through PYTHONPATH, to try a setting out)")
    parser.add_argument("--workdir", type=Path, default=None, help="database and var dir (default: a temporary "
                        "directory, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if min(args.people, args.venues, args.batches, args.batch_size, args.file_rows, args.threads, args.workers) < 1:
        parser.error("sizes must be at least 1")
    if not 0 < args.duration <= 120:
        parser.error("--duration must be in (0, 120] seconds")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---- set-up, in this process, on the throwaway database ------------------------------------------------------


def build_county(people: int, venues: int, seed: int) -> dict:
    from django.core.management import call_command

    from shouwang.accounts.enums import Role
    from shouwang.accounts.services import api_token_issue, user_create
    from shouwang.areas.services import area_create, area_ensure_gb2260_chain
    from shouwang.people.enums import IdType
    from shouwang.people.identifiers import make_resident_id, parse_resident_id
    from shouwang.people.models import Person
    from shouwang.status.services import fact_publish
    from shouwang.venues.enums import VenueCategory
    from shouwang.venues.models import PersonCode
    from shouwang.venues.services import VenueInput, new_token, venue_create

    rng = random.Random(seed)
    call_command("migrate", verbosity=0, interactive=False)
    county = area_ensure_gb2260_chain("141027")
    township = area_create(parent=county, level="township", code="141027100", name="天坛镇", is_synthetic_code=True)
    village = area_create(parent=township, level="village", code="141027100001", name="城关社区",
                          is_synthetic_code=True)
    grid = area_create(parent=village, level="grid", code="141027100001001", name="第一网格", grid_kind="community")
    hq = user_create(username="hq", password="Shouwang-2022", role=Role.HQ, jurisdiction=county, display_name="指挥部")
    door = user_create(username="door", password="Shouwang-2022", role=Role.CHECKPOINT, jurisdiction=county,
                       display_name="门口扫码设备", is_device=True)
    _, device_token = api_token_issue(user=door, name="benchmark door device")
    _, import_token = api_token_issue(user=hq, name="benchmark import")

    categories = list(VenueCategory.values)
    venue_tokens = []
    for i in range(venues):
        venue = venue_create(actor=hq, data=VenueInput(name=f"场所{i + 1:04d}", category=rng.choice(categories),
                                                       area_id=grid.id))
        venue_tokens.append(venue.codes.get().token)

    first_birth = dt.date(1940, 1, 1)
    rows = []
    for i in range(people):
        number = make_resident_id("141027", first_birth + dt.timedelta(days=i % 25_000), i // 25_000)
        rid = parse_resident_id(number)
        rows.append(Person(name=f"王{i:05d}", id_type=IdType.RESIDENT_ID, id_number=number, sex=rid.sex,
                           birth_date=rid.birth_date, area_id=grid.id))
    created = Person.objects.bulk_create(rows, batch_size=1000)
    ids = [p.id for p in created] if created[0].id else list(Person.objects.order_by("id").values_list("id", flat=True))
    codes = [PersonCode(person_id=pid, token=new_token()) for pid in ids]
    PersonCode.objects.bulk_create(codes, batch_size=1000)
    today = dt.date.fromisoformat(BUSINESS_DAY)
    shuffled = rng.sample(ids, len(ids))
    n = max(1, len(ids) // 50)
    fact_publish(person_ids=shuffled[:n], kind="measure", value="central_quarantine", since=today - dt.timedelta(3),
                 until=today + dt.timedelta(4), source="benchmark", source_id="q")
    fact_publish(person_ids=shuffled[n:3 * n], kind="zone", value="medium", since=today - dt.timedelta(10),
                 until=None, source="benchmark", source_id="zone")
    fact_publish(person_ids=shuffled[3 * n:4 * n], kind="flag", value="pool_recheck_pending", since=today,
                 until=None, source="benchmark", source_id="pool")
    return {"device_token": device_token, "import_token": import_token, "venue_tokens": venue_tokens,
            "person_tokens": [c.token for c in codes]}


# ---- HTTP ----------------------------------------------------------------------------------------------------


def http(base: str, path: str, token: str, *, body: bytes, content_type: str, timeout: float = 300) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def multipart(field: str, file_name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{file_name}"\r\n'
            f"Content-Type: text/csv\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def raw_request(method: str, path: str, port: int, *, token: str = "", body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close", "User-Agent: scan_ingest"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def one_request(port: int, payload: bytes) -> int:
    """Send one prepared request on a fresh connection to 127.0.0.1 and return the HTTP status."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    head = b"".join(chunks)[:32]
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0


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


def load(port: int, make_payload, *, threads: int, duration: float, max_requests: int, server_pid: int = 0) -> dict:
    """Bounded load: `threads` loops until `duration` seconds have passed or `max_requests` were sent."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    sent = [0]
    stop_at = time.perf_counter() + duration

    def worker(index: int) -> None:
        mine, codes = [], {}
        while time.perf_counter() < stop_at:
            with lock:
                if sent[0] >= max_requests:
                    break
                sent[0] += 1
                n = sent[0]
            payload = make_payload(index, n)
            started = time.perf_counter()
            try:
                status = one_request(port, payload)
            except OSError:
                status = -1
            mine.append(time.perf_counter() - started)
            codes[status] = codes.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    server0 = server_cpu(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=duration + 60)
    elapsed = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    server1 = server_cpu(server_pid) if server_pid else 0.0
    latencies.sort()
    count = len(latencies)
    return {"requests": count, "elapsed": elapsed, "rps": count / elapsed, "statuses": statuses,
            "p50_ms": latencies[count // 2] * 1000 if count else 0.0,
            "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else 0.0,
            "client_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "server_cpu_ms": (server1 - server0) * 1000 / count if count else 0.0}


def main() -> None:
    args = parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="scan_ingest-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "scan_ingest.sqlite3"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    env = {"DATABASE_URL": f"sqlite:///{db_path}", "SHOUWANG_VAR_DIR": str(workdir / "var"),
           "SHOUWANG_TODAY": BUSINESS_DAY, "SHOUWANG_TESTING": "1", "DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": args.settings, "LOG_LEVEL": "ERROR"}
    os.environ.update(env)
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from shouwang.core import clock
    from shouwang.venues.models import Scan

    server = None
    rng = random.Random(args.seed)
    try:
        print(f"working directory: {workdir}")
        started = time.perf_counter()
        data = build_county(args.people, args.venues, args.seed)
        connection.close()
        print(f"set up in {time.perf_counter() - started:.1f} s: {args.venues} venues, {args.people} people "
              f"(2% quarantined, 4% in a medium-risk zone, 2% awaiting a pool recheck), business day {BUSINESS_DAY}")

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
        print(f"gunicorn: {args.workers} sync workers on {base}")

        now = clock.now()
        venues, people = data["venue_tokens"], data["person_tokens"]

        def scan_line(ref: str) -> dict:
            when = now - dt.timedelta(seconds=rng.randrange(1, 3 * 86400))
            return {"client_ref": ref, "venue_token": rng.choice(venues), "person_token": rng.choice(people),
                    "scanned_at": when.isoformat(timespec="seconds"),
                    "temperature": round(rng.uniform(35.8, 37.2), 1) if rng.random() < 0.5 else None}

        # ---- device batches ----------------------------------------------------------------------------------
        batches = [[scan_line(f"b{b}-{i}") for i in range(args.batch_size)] for b in range(args.batches)]
        bodies = [json.dumps({"lines": lines}).encode() for lines in batches]
        started = time.perf_counter()
        accepted = 0
        for body in bodies:
            status, answer = http(base, "/api/v1/scans/batch", data["device_token"], body=body,
                                  content_type="application/json")
            if status != 200 or answer["rejected"]:
                raise SystemExit(f"batch upload failed: {status} {str(answer)[:500]}")
            accepted += answer["accepted"]
        batch_s = time.perf_counter() - started
        batch_rows = args.batches * args.batch_size
        status, again = http(base, "/api/v1/scans/batch", data["device_token"], body=bodies[0],
                             content_type="application/json")
        assert status == 200 and again["accepted"] == 0 and again["duplicates"] == args.batch_size, again
        assert accepted == batch_rows, (accepted, batch_rows)
        batch_rps = batch_rows / batch_s
        print(f"\nbatch: {args.batches} uploads x {args.batch_size} lines = {batch_rows} scans in {batch_s:.2f} s "
              f"({batch_rps:.0f} rows/s); the first upload again: {again['accepted']} stored, "
              f"{again['duplicates']} duplicates")

        # ---- file import -------------------------------------------------------------------------------------
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["场所码", "个人码", "扫码时间", "体温", "流水号"])
        for i in range(args.file_rows):
            line = scan_line(f"f-{i}")
            writer.writerow([line["venue_token"], line["person_token"], line["scanned_at"].replace("T", " ")[:19],
                             line["temperature"] or "", line["client_ref"]])
        body, content_type = multipart("file", "扫码记录.csv", out.getvalue().encode("utf-8-sig"))
        started = time.perf_counter()
        status, report = http(base, "/api/v1/scans/import", data["import_token"], body=body, content_type=content_type)
        file_s = time.perf_counter() - started
        if status != 200 or report["rejected"] or report["accepted"] != args.file_rows:
            raise SystemExit(f"file import failed: {status} {str(report)[:500]}")
        file_rps = args.file_rows / file_s
        status, again = http(base, "/api/v1/scans/import", data["import_token"], body=body, content_type=content_type)
        assert status == 200 and again["accepted"] == 0 and again["duplicates"] == args.file_rows, again
        print(f"file: {args.file_rows} rows ({len(body) / 1e6:.1f} MB CSV) imported in {file_s:.2f} s "
              f"({file_rps:.0f} rows/s); the same file again: {again['accepted']} stored, "
              f"{again['duplicates']} duplicates")

        # ---- the door scan under load, against /healthz -------------------------------------------------------
        health = raw_request("GET", "/healthz", port)
        run = uuid.uuid4().hex[:8]

        # Every scan request is prepared before the clock starts, as /healthz's is: a fresh device reference each
        # (the endpoint checks it), a venue and a person spread over the county. Past the pool (a faster machine
        # than the sizing assumes), requests are built on the fly.
        pool_size = min(args.max_requests, int(4000 * (args.duration + args.warmup)))

        def build_scan(n: int) -> bytes:
            body = json.dumps({"venue_token": venues[(n * 7919) % len(venues)],
                               "person_token": people[(n * 104729) % len(people)],
                               "temperature": 36.5, "client_ref": f"{run}-{n}"}).encode()
            return raw_request("POST", "/api/v1/scans", port, token=data["device_token"], body=body)

        pool = [build_scan(n) for n in range(pool_size)]
        served = iter(range(10 ** 12))  # one counter over the warm-up and the window: no reference twice

        def scan_payload(index: int, n: int) -> bytes:
            k = next(served)
            return pool[k] if k < pool_size else build_scan(k)

        results = {}
        for name, make, ok in (("/healthz", lambda i, n: health, 200), ("POST /api/v1/scans", scan_payload, 201)):
            load(port, make, threads=args.threads, duration=args.warmup, max_requests=args.max_requests)
            result = load(port, make, threads=args.threads, duration=args.duration, max_requests=args.max_requests,
                          server_pid=server.pid)
            results[name] = result
            bad = {k: v for k, v in result["statuses"].items() if k != ok}
            print(f"{name}: {result['requests']} requests in {result['elapsed']:.1f} s = {result['rps']:.0f} rps, "
                  f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, {args.threads} connections; "
                  f"load generator CPU {result['client_cpu_s']:.1f} s, server CPU {result['server_cpu_ms']:.2f} ms a request")
            if bad:
                raise SystemExit(f"{name}: unexpected answers {bad}")

        scans_http = sum(r["statuses"].get(201, 0) for r in [results["POST /api/v1/scans"]])
        stored = Scan.objects.count()
        connection.close()
        # every 201 of the warm-up and the window is one row; batch and file rows once each
        assert stored >= batch_rows + args.file_rows + scans_http, (stored, batch_rows, args.file_rows, scans_http)
        print(f"scan log: {stored} rows")

        health_rps = results["/healthz"]["rps"]
        scan = results["POST /api/v1/scans"]
        ratio = scan["rps"] / health_rps
        kept = ratio >= PROMISE_RATIO
        print(f"\npromise: the scan endpoint reaches >= {PROMISE_RATIO:.0%} of /healthz's rps -> "
              f"{'kept' if kept else 'BROKEN'}")
        print(f"scan_ingest: batch {batch_rps:.0f} rows/s, file {file_rps:.0f} rows/s, scan endpoint "
              f"{scan['rps']:.0f} rps ({ratio:.2f} of /healthz), p99 {scan['p99_ms']:.1f} ms")
        if not kept:
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
