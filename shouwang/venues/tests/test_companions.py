"""The companion engine (时空伴随): exact answers on a hand-built log, window edges, partition boundaries, scans
appended (also late and out of id order), several workers on one index, and agreement with the plain SQL answer.

The scan log is append-only (database triggers): tests only add scans, inside the test transaction."""

import datetime as dt
import json
import random

import numpy as np
import pytest

from shouwang.venues import companions
from shouwang.venues.companions import (
    Companion,
    CompanionEngine,
    CompanionVenue,
    IndexScans,
    companions_for_cases,
    companions_sql,
    default_engine,
    index_dir,
)
from shouwang.venues.models import Scan, Venue

UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai
T0 = dt.datetime(2022, 7, 15, 10, 0, tzinfo=LOCAL)
M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)


def add_scans(*scans):
    """(venue, person, scanned_at[, id]) -> Scan rows, added in the order given."""
    rows = []
    for venue, person, at, *scan_id in scans:
        rows.append(Scan(venue=venue, person=person, scanned_at=at, method="self", colour="green",
                         **({"id": scan_id[0]} if scan_id else {})))
    return Scan.objects.bulk_create(rows)


def v(venue, n, first, last):
    return CompanionVenue(venue.id, n, first, last)


@pytest.fixture
def engine(tmp_path):
    return CompanionEngine(tmp_path / "scan-index")


@pytest.fixture
def place(county):
    def make(name):
        return Venue.objects.create(name=name, category="supermarket", area=county.grid_a)

    return make


@pytest.fixture
def log(county, place):
    """Case X scans A at T0 and T0+20m, and B at T0+2h; Δ = 30 minutes."""
    a, b, c = place("城关超市"), place("人民医院"), place("客运站")
    names = ["病例X", "下沿", "下沿外", "上沿", "上沿外", "两窗", "两次", "别处", "同事Z", "并列甲", "并列乙"]
    p = {name: county.person(name=name) for name in names}
    add_scans(
        (a, p["病例X"], T0), (a, p["病例X"], T0 + 20 * M), (b, p["病例X"], T0 + 120 * M),
        (a, p["下沿"], T0 - 30 * M),  # exactly Δ before the first index scan: counts
        (a, p["下沿外"], T0 - 30 * M - S),  # Δ + 1 s: does not
        (a, p["上沿"], T0 + 50 * M),  # exactly Δ after the second index scan: counts
        (a, p["上沿外"], T0 + 50 * M + S),  # Δ + 1 s: does not
        (a, p["两窗"], T0 + 10 * M), (b, p["两窗"], T0 + 125 * M),  # in both A windows, and at B
        (a, p["两次"], T0 + 15 * M), (a, p["两次"], T0 + 25 * M),  # twice, each in both A windows
        (c, p["别处"], T0),  # same time, another venue
        (a, p["同事Z"], T0 + 5 * M),
        (b, p["并列甲"], T0 + 100 * M), (b, p["并列乙"], T0 + 100 * M),  # a tie: person id decides
    )
    return a, b, c, p


def expected(a, b, p, *, without=()):
    out = [
        Companion(p["两次"].id, 4, T0 + 15 * M, T0 + 25 * M, (v(a, 4, T0 + 15 * M, T0 + 25 * M),)),
        Companion(p["两窗"].id, 3, T0 + 10 * M, T0 + 125 * M,
                  (v(a, 2, T0 + 10 * M, T0 + 10 * M), v(b, 1, T0 + 125 * M, T0 + 125 * M))),
        Companion(p["同事Z"].id, 2, T0 + 5 * M, T0 + 5 * M, (v(a, 2, T0 + 5 * M, T0 + 5 * M),)),
        Companion(p["下沿"].id, 1, T0 - 30 * M, T0 - 30 * M, (v(a, 1, T0 - 30 * M, T0 - 30 * M),)),
        Companion(p["上沿"].id, 1, T0 + 50 * M, T0 + 50 * M, (v(a, 1, T0 + 50 * M, T0 + 50 * M),)),
        Companion(p["并列甲"].id, 1, T0 + 100 * M, T0 + 100 * M, (v(b, 1, T0 + 100 * M, T0 + 100 * M),)),
        Companion(p["并列乙"].id, 1, T0 + 100 * M, T0 + 100 * M, (v(b, 1, T0 + 100 * M, T0 + 100 * M),)),
    ]
    return [c for c in out if c.person_id not in {p[name].id for name in without}]


def test_hand_built_log_exact_answer(log, engine):
    a, b, _, p = log
    assert p["并列甲"].id < p["并列乙"].id
    result = companions_for_cases(person_ids=[p["病例X"].id], start=T0.date(), end=T0.date(), engine=engine)
    assert result.to_list() == expected(a, b, p)
    assert result.index_count == 3
    assert result.pairs == 4 + 3 + 2 + 1 + 1 + 1 + 1
    assert result[1].venue_ids == (a.id, b.id)
    assert result.top(2) == expected(a, b, p)[:2]
    # The plain SQL answer is the same, to the microsecond and the order.
    index = IndexScans.from_rows(Scan.objects.filter(person=p["病例X"]).values_list("venue_id", "scanned_at",
                                                                                     "person_id"))
    assert companions_sql(index) == result.to_list()


def test_window_edges_and_excluded_people(log, engine):
    a, b, _, p = log
    engine.refresh()
    x = p["病例X"]
    index = [(a.id, T0, x.id), (a.id, T0 + 20 * M, x.id), (b.id, T0 + 120 * M, x.id)]
    found = engine.find(index, exclude_person_ids=[p["同事Z"].id])
    assert found.to_list() == expected(a, b, p, without=["同事Z"])
    assert not found.person_set() & {x.id, p["下沿外"].id, p["上沿外"].id, p["别处"].id, p["同事Z"].id}
    # One second narrower and both edge scans drop out; one second wider and the outer ones come in.
    narrower = engine.find(index, delta_seconds=30 * 60 - 1).person_set()
    assert p["下沿"].id not in narrower and p["上沿"].id not in narrower
    wider = engine.find(index, delta_seconds=30 * 60 + 1).person_set()
    assert {p["下沿外"].id, p["上沿外"].id} <= wider and p["别处"].id not in wider
    # Epoch seconds do as well as datetimes; a venue the index never visited has no companions.
    as_epoch = [(venue, when.timestamp(), person) for venue, when, person in index]
    assert engine.find(as_epoch, exclude_person_ids=[p["同事Z"].id]).to_list() == found.to_list()
    assert len(engine.find([(a.id + b.id + 1000, T0, x.id)])) == 0
    assert len(engine.find([])) == 0


def test_window_of_the_cases_lookback(log, engine):
    a, b, _, p = log
    # Datetimes are instants, both included: only the first scan of the case is in this window.
    result = companions_for_cases(person_ids=[p["病例X"].id], start=T0 - M, end=T0, engine=engine)
    assert result.index_count == 1
    assert [(c.person_id, c.co_presences) for c in result] == [
        (p["两次"].id, 2), (p["下沿"].id, 1), (p["同事Z"].id, 1), (p["两窗"].id, 1)]
    # Dates are local calendar days: the day before has no scans of the case.
    day_before = T0.date() - dt.timedelta(days=1)
    assert len(companions_for_cases(person_ids=[p["病例X"].id], start=day_before, end=day_before,
                                    engine=engine)) == 0


def test_across_midnight(county, place, engine):
    """Partitions are UTC days: a window that crosses midnight reads both days."""
    a = place("夜市")
    names = ("病例", "晚", "边", "边外", "前", "太早", "后")
    case, late, edge, edge_plus, before, too_early, after = (county.person(name=n) for n in names)
    midnight = dt.datetime(2022, 7, 16, tzinfo=UTC)
    add_scans(
        (a, case, midnight - 10 * M),  # 23:50, index scan 1
        (a, case, midnight + 50 * M),  # 00:50 the next day, index scan 2
        (a, late, midnight + 10 * M),  # 00:10: 20 minutes after 23:50
        (a, edge, midnight + 20 * M),  # 00:20: exactly Δ after 23:50 and exactly Δ before 00:50
        (a, edge_plus, midnight + 20 * M + S),  # Δ + 1 s after 23:50: only the 00:50 scan counts
        (a, before, midnight - 40 * M),  # 23:20: exactly Δ before 23:50
        (a, too_early, midnight - 40 * M - S),
        (a, after, midnight + 65 * M),  # 01:05
    )
    result = companions_for_cases(person_ids=[case.id], start=midnight - 60 * M, end=midnight + 60 * M,
                                  engine=engine)
    assert [(c.person_id, c.co_presences) for c in result] == [
        (edge.id, 2), (before.id, 1), (late.id, 1), (edge_plus.id, 1), (after.id, 1)]
    assert sorted(json.loads((engine.directory / "manifest.json").read_text())["partitions"]) == [
        "2022-07-15", "2022-07-16"]
    # From the other side: an index scan at 00:10 finds the 23:50 scan in yesterday's partition.
    back = engine.find([(a.id, midnight + 10 * M, late.id)])
    assert [(c.person_id, c.first_at) for c in back] == [
        (case.id, midnight - 10 * M), (edge.id, midnight + 20 * M), (edge_plus.id, midnight + 20 * M + S)]


def test_appended_scans_after_refresh(log, county, engine):
    a, b, c, p = log
    x = p["病例X"]
    assert engine.refresh() == 15
    assert engine.refresh() == 0
    first = companions_for_cases(person_ids=[x.id], start=T0.date(), end=T0.date(), engine=engine)
    manifest = json.loads((engine.directory / "manifest.json").read_text())
    newcomer, uploader = county.person(name="新来"), county.person(name="补传")
    # Today a newcomer at B; and a device uploads yesterday's scans late (higher ids, earlier day).
    yesterday = T0 - dt.timedelta(days=1)
    add_scans((b, newcomer, T0 + 130 * M), (c, uploader, yesterday), (c, x, yesterday + 29 * M))
    # Before the refresh the engine does not know them.
    assert engine.find(IndexScans.from_rows([(b.id, T0 + 120 * M, x.id)])).person_set() == {
        p["两窗"].id, p["并列甲"].id, p["并列乙"].id}
    second = companions_for_cases(person_ids=[x.id], start=yesterday.date(), end=T0.date(), engine=engine)
    assert engine.refresh() == 0
    assert second.index_count == first.index_count + 1
    assert {cp.person_id: cp.co_presences for cp in second} == {
        **{cp.person_id: cp.co_presences for cp in first}, newcomer.id: 1, uploader.id: 1}
    index = IndexScans.from_rows(Scan.objects.filter(person=x).values_list("venue_id", "scanned_at", "person_id"))
    assert companions_sql(index) == second.to_list()
    after = json.loads((engine.directory / "manifest.json").read_text())
    today, day_before = T0.astimezone(UTC).date().isoformat(), yesterday.astimezone(UTC).date().isoformat()
    assert after["partitions"][today]["rows"] == manifest["partitions"][today]["rows"] + 1
    assert after["partitions"][day_before]["rows"] == 2
    assert after["last_id"] == Scan.objects.order_by("-id").values_list("id", flat=True).first()
    # One more late scan: only yesterday's partition is rewritten, today's keeps its files.
    add_scans((c, uploader, yesterday + M))
    assert engine.refresh() == 1
    latest = json.loads((engine.directory / "manifest.json").read_text())
    assert latest["partitions"][today] == after["partitions"][today]
    assert latest["partitions"][day_before]["generation"] > after["partitions"][day_before]["generation"]
    assert latest["partitions"][day_before]["max_id"] == latest["last_id"]
    assert sorted(f.name for f in engine.directory.glob("day-*.npy")) == sorted(
        f"day-{day}-g{meta['generation']}-{column}.npy" for day, meta in latest["partitions"].items()
        for column in ("venues", "key", "person", "scan_id"))
    assert engine.find([(c.id, yesterday + 29 * M, x.id)]).to_list() == [
        Companion(uploader.id, 2, yesterday, yesterday + M, (v(c, 2, yesterday, yesterday + M),))]


def test_a_new_venue_in_a_known_day(county, place, engine):
    """A venue that sorts before the day's known venues renumbers the day's slots; the older rows still answer."""
    low, high = place("先建的药店"), place("后建的超市")
    assert low.id < high.id
    case, one, two = county.person(name="病例"), county.person(name="甲"), county.person(name="乙")
    add_scans((high, case, T0), (high, one, T0 + M))
    engine.refresh()
    add_scans((low, case, T0), (low, two, T0 - M), (high, two, T0 + 31 * M))
    assert engine.refresh() == 3
    assert engine.find([(high.id, T0, case.id)]).person_set() == {one.id}
    assert engine.find([(low.id, T0, case.id)]).person_set() == {two.id}
    assert engine.find([(high.id, T0 + 2 * M, case.id)]).person_set() == {one.id, two.id}


def test_workers_share_one_index(log, tmp_path):
    """Two engines on one directory, as two gunicorn workers: one refreshes, the other reads the new files."""
    a, b, _, p = log
    writer, reader = CompanionEngine(tmp_path / "idx"), CompanionEngine(tmp_path / "idx")
    assert len(reader.find([(a.id, T0, p["病例X"].id)])) == 0  # nothing indexed yet
    writer.refresh()
    assert len(reader.find([(a.id, T0, p["病例X"].id)])) == 4
    parts = reader._snapshot()
    assert all(isinstance(part.key, np.memmap) for part in parts.values())
    add_scans((a, p["别处"], T0 + M))
    writer.refresh()
    assert p["别处"].id in reader.find([(a.id, T0, p["病例X"].id)]).person_set()


def test_late_commit_inside_an_id_gap(county, place, engine):
    """A scan that becomes visible after higher ids were taken in (a later commit on PostgreSQL) is not lost."""
    a = place("超市")
    case, one, two = county.person(name="病例"), county.person(name="甲"), county.person(name="乙")
    base = (Scan.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000
    add_scans((a, case, T0, base + 1), (a, one, T0 + M, base + 10))
    engine.refresh()
    assert [base + 2, base + 9] in [g[:2] for g in json.loads((engine.directory / "manifest.json").read_text())["gaps"]]
    add_scans((a, two, T0 + 2 * M, base + 5))
    assert engine.refresh() == 1
    assert engine.find([(a.id, T0, case.id)]).person_set() == {one.id, two.id}
    gaps = [g[:2] for g in json.loads((engine.directory / "manifest.json").read_text())["gaps"]]
    assert [base + 2, base + 4] in gaps and [base + 6, base + 9] in gaps


def test_index_of_another_database_is_rebuilt(log, engine):
    """Files built against rows the database does not have (a restore, a new demo) are thrown away."""
    a, _, _, p = log
    engine.ingest([10**9], [a.id], [int(T0.timestamp()) * 10**6], [10**9])
    assert engine.find([(a.id, T0, p["病例X"].id)]).person_set() == {10**9}
    assert engine.refresh() == 15
    assert 10**9 not in engine.find([(a.id, T0, p["病例X"].id)]).person_set()
    assert engine.status()["rows"] == 15


def test_default_engine_follows_the_setting(settings, tmp_path, log):
    a, b, _, p = log
    settings.SHOUWANG_SCAN_INDEX_DIR = str(tmp_path / "configured")
    assert index_dir() == tmp_path / "configured"
    result = companions_for_cases(person_ids=[p["病例X"].id], start=T0.date(), end=T0.date())
    assert result.to_list() == expected(a, b, p)
    assert default_engine() is default_engine()
    assert (tmp_path / "configured" / "manifest.json").exists()


@pytest.mark.parametrize("dense", [True, False], ids=["counted-by-id", "grouped-by-sort"])
def test_engine_equals_sql_on_a_random_log(county, place, engine, monkeypatch, dense):
    """Random times to the microsecond over two days and four venues, some duplicates; several index persons.
    Both ways of adding up per person (arrays indexed by person id, or a sort) give the same answer."""
    monkeypatch.setattr(companions, "DENSE_FACTOR", 10**9 if dense else 0)
    rng = random.Random(7)
    venues = [place(f"场所{i}") for i in range(4)]
    people = [county.person(name=f"居民{i}") for i in range(30)]
    start = dt.datetime(2022, 7, 14, 20, 0, tzinfo=UTC)
    scans = []
    for _ in range(600):
        at = start + dt.timedelta(microseconds=rng.randrange(8 * 3600 * 10**6))  # 20:00 to 04:00 UTC
        scans.append((rng.choice(venues), rng.choice(people), at))
    scans += scans[:20]  # the same scan twice (a device retry without a reference)
    add_scans(*scans[:400])
    engine.refresh()
    add_scans(*scans[400:])  # and some more after the first refresh
    cases = [people[0].id, people[1].id, people[2].id]
    for minutes in (5, 30):
        result = companions_for_cases(person_ids=cases, start=start, end=start + dt.timedelta(hours=8),
                                      delta_minutes=minutes, engine=engine)
        index = IndexScans.from_rows(Scan.objects.filter(person_id__in=cases).values_list(
            "venue_id", "scanned_at", "person_id"))
        assert len(result) > 5
        expected = companions_sql(index, delta_seconds=minutes * 60, exclude_person_ids=cases)
        assert result.to_list() == expected
        assert result.top(3) == expected[:3] and result[-1] == expected[-1]


def test_microsecond_edges(county, place, engine):
    """Times keep their microseconds end to end (SQLite stores text; its strftime() would round to milliseconds)."""
    a = place("药店")
    case, edge, over, rounding = (county.person(name=n) for n in ("病例", "恰好", "多一微秒", "进位"))
    at = dt.datetime(2022, 7, 15, 3, 59, 59, 999_999, tzinfo=UTC)
    add_scans((a, case, at), (a, edge, at + 30 * M), (a, over, at + 30 * M + dt.timedelta(microseconds=1)),
              (a, rounding, at - 30 * M + dt.timedelta(microseconds=400)))
    result = companions_for_cases(person_ids=[case.id], start=at, end=at, engine=engine)
    assert [(c.person_id, c.first_at) for c in result] == [
        (rounding.id, at - 30 * M + dt.timedelta(microseconds=400)), (edge.id, at + 30 * M)]
    assert result[1].first_at.microsecond == 999_999


def test_the_command_builds_the_index_ahead_of_the_first_query(settings, tmp_path, log):
    from io import StringIO

    from django.core.management import call_command

    a, b, _, p = log
    settings.SHOUWANG_SCAN_INDEX_DIR = str(tmp_path / "cmd")
    out = StringIO()
    call_command("companion_index", stdout=out)
    assert "新增 15 条，共 15 条扫码、1 天" in out.getvalue()
    out = StringIO()
    call_command("companion_index", stdout=out)
    assert "新增 0 条，共 15 条扫码" in out.getvalue()  # incremental: nothing new
    (tmp_path / "cmd" / "stray.npy").write_bytes(b"x")
    out = StringIO()
    call_command("companion_index", "--rebuild", stdout=out)
    assert "新增 15 条" in out.getvalue() and not (tmp_path / "cmd" / "stray.npy").exists()
    engine = CompanionEngine(tmp_path / "cmd")
    assert engine.find(IndexScans.from_rows([(a.id, T0, p["病例X"].id)])).person_set() == {
        p["下沿"].id, p["两窗"].id, p["两次"].id, p["同事Z"].id}


def test_a_batch_upload_queues_an_index_refresh_and_the_task_takes_the_scans_in(
        settings, tmp_path, county, place, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from shouwang.accounts.enums import Role
    from shouwang.venues.services import person_code_get_or_issue, scan_batch, venue_code_reissue
    from shouwang.venues.tasks import companion_index_refresh

    settings.SHOUWANG_TODAY = "2022-07-15"
    settings.SHOUWANG_SCAN_INDEX_DIR = str(tmp_path / "tasks")
    token = venue_code_reissue(actor=county.hq, venue_id=place("城关超市").id).token
    person = county.person(name="王芳")
    device = county.user(Role.CHECKPOINT, county.grid_a, username="door-7")
    line = {"client_ref": "Q-1", "venue_token": token, "person_token": person_code_get_or_issue(person).token,
            "scanned_at": "2022-07-15T09:00:00+08:00"}
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_batch(actor=device, lines=[line]).accepted == 1
    queued = DBTaskResult.objects.filter(task_path__endswith="companion_index_refresh")
    assert queued.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_batch(actor=device, lines=[line]).duplicates == 1  # nothing new: nothing queued
    assert queued.count() == 1
    assert companion_index_refresh.call() == 1
    assert CompanionEngine(tmp_path / "tasks").status()["rows"] == 1
