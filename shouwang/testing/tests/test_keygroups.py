"""Periodic testing of key groups through the services, the daily command and the HTTP client: the interval from the
policy per group (P8 daily, P8b twice a week, P8b gone under V10), the last counted test (negative or pending,
not positive, not invalid, not antigen), the flag key_person_untested (yellow, K6) published and withdrawn
idempotently."""

import datetime as dt
import io
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.accounts.services import api_token_issue
from shouwang.core import clock
from shouwang.policy.selectors import ruleset_in_force
from shouwang.policy.services import policy_sync
from shouwang.status.models import StatusFact
from shouwang.status.services import status_get
from shouwang.testing.antigen import antigen_record
from shouwang.testing.keygroups import SOURCE, key_person_flags_refresh, overdue_key_persons, requirement
from shouwang.testing.models import TubeMember
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    batch_receive,
    lab_create,
    results_review,
    results_stage,
    round_create,
    tube_fill,
)

D = dt.date.fromisoformat
TODAY = D("2022-07-15")
VERSIONS = Path(__file__).resolve().parents[2] / "policy" / "versions"


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY.isoformat()


@pytest.fixture
def clock_at(monkeypatch):
    """Pin the business clock to a moment (the services stamp samples with clock.now())."""

    def pin(day: dt.date, hour: int = 9):
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
        monkeypatch.setattr(clock, "now", lambda: moment)

    return pin


class Testing:
    """Key-groups rounds of single tubes, one per day, with the chain up to reviewed results."""

    __test__ = False

    def __init__(self, county, clock_at):
        self.county, self.clock_at = county, clock_at
        self.sampler = county.user(Role.SAMPLER, county.county, username="sampler-k")
        self.lab_user = county.user(Role.LAB, county.county, username="lab-k")
        self.lab = lab_create(actor=county.hq, name="县疾控实验室", area_id=county.county.id)

    def day(self, day: dt.date, people, results: dict | None = None):
        """Sample each person in a single tube at 09:00 on the day; results {person: "negative" | "positive" |
        "invalid"} go through transport, the lab file and its review; the others stay pending."""
        c = self.county
        self.clock_at(day)
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(6)))
        round_ = round_create(actor=c.hq, data=RoundInput(
            name=f"重点人群{day}", area_ids=[c.grid_a.id, c.grid_b.id], starts_at=moment,
            deadline=moment + dt.timedelta(hours=17), kind="key_groups",
            settings={c.grid_a.id: "key_group", c.grid_b.id: "key_group"}))
        codes = {}
        for i, person in enumerate(people):
            codes[person.id] = f"K{day:%m%d}{i:02d}"
            tube_fill(actor=self.sampler, round_id=round_.id, barcode=codes[person.id],
                      people=[{"id_number": person.id_number}])
        results = results or {}
        if results:
            barcodes = [codes[p.id] for p in results]
            batch_pack(actor=self.sampler, code=f"BOX{day:%m%d}", lab_id=self.lab.id, barcodes=barcodes)
            batch_receive(actor=self.lab_user, code=f"BOX{day:%m%d}", barcodes=barcodes)
            staged = results_stage(actor=self.lab_user, lab_id=self.lab.id, lines=[
                (n, {"barcode": codes[p.id], "result": r}) for n, (p, r) in enumerate(results.items(), start=1)])
            results_review(actor=self.lab_user, file_id=staged.id, accept=True)


@pytest.fixture
def world(county, clock_at):
    c = county
    tag = {}

    def person(name, tags, area=None):
        tag[name] = c.person(name=name, tags=tags, area=area, seq=len(tag) + 1)
        return tag[name]

    cold_a = person("冷链甲", ["cold_chain"])
    cold_b = person("冷链乙", ["cold_chain"])
    iso_c = person("隔离丙", ["quarantine_staff"])
    cour_d = person("快递丁", ["courier"])
    cour_e = person("快递戊", ["courier"])
    teach_f = person("教师己", ["teacher", "cold_chain"])
    market_g = person("市场庚", ["market_worker"])
    person("司机辛", ["truck_driver"])
    student_i = person("学生壬", ["student"])
    person("老人", ["elderly_alone"])  # a vulnerable group, not a key group
    cour_j = person("快递癸", ["courier"], area=c.grid_b)
    t = Testing(c, clock_at)
    t.day(D("2022-07-08"), [market_g], {market_g: "negative"})
    t.day(D("2022-07-09"), [cour_j], {cour_j: "negative"})
    t.day(D("2022-07-10"), [cour_e], {cour_e: "negative"})
    t.day(D("2022-07-11"), [cour_d])  # pending
    t.day(D("2022-07-12"), [iso_c, student_i], {student_i: "invalid"})  # iso_c pending
    t.day(D("2022-07-13"), [cold_b, teach_f], {cold_b: "negative", teach_f: "negative"})
    t.day(D("2022-07-14"), [cold_a, market_g], {cold_a: "negative", market_g: "positive"})
    clock_at(TODAY, 10)
    antigen_record(actor=t.sampler, person_id=student_i.id, result="negative", kind="staff",
                   taken_at=timezone.make_aware(dt.datetime(2022, 7, 14, 8)))
    return {"people": tag, "testing": t, "county": c}


def rows(found):
    return [(p.name, p.tag, p.days_overdue, p.due_on and p.due_on.isoformat(),
             p.last_test and timezone.localdate(p.last_test).isoformat(), p.requirement.every_days,
             p.requirement.rule) for p in found]


OVERDUE_0715 = [
    ("司机辛", "truck_driver", None, None, None, 4, "P8b"),  # never tested
    ("学生壬", "student", None, None, None, 4, "P8b"),  # an invalid tube and an antigen test only
    ("市场庚", "market_worker", 3, "2022-07-12", "2022-07-08", 4, "P8b"),  # the positive of 07-14 does not count
    ("隔离丙", "quarantine_staff", 2, "2022-07-13", "2022-07-12", 1, "P8"),  # pending counts
    ("快递癸", "courier", 2, "2022-07-13", "2022-07-09", 4, "P8b"),
    ("冷链乙", "cold_chain", 1, "2022-07-14", "2022-07-13", 1, "P8"),
    ("快递戊", "courier", 1, "2022-07-14", "2022-07-10", 4, "P8b"),
    ("教师己", "cold_chain", 1, "2022-07-14", "2022-07-13", 1, "P8"),  # the stricter of teacher and cold chain
]


def test_the_interval_per_group_comes_from_the_policy_and_v10_keeps_only_the_daily_posts(db):
    v9, v10 = ruleset_in_force(TODAY), ruleset_in_force(D("2022-12-08"))
    assert [(r.rule, r.every_days, r.policy_version) for r in (
        requirement(v9, "arrival_facing_worker"), requirement(v9, "key_group_worker"))] == [
        ("P8", 1, "V9"), ("P8b", 4, "V9")]
    assert v9.categories["key_group_worker"].confidence == "LOC"
    assert requirement(v10, "arrival_facing_worker").every_days == 1
    assert requirement(v10, "key_group_worker") is None
    assert v10.removed["key_group_worker"][0] == "N2"


def test_overdue_key_persons_with_their_group_last_test_and_days_overdue(world):
    found = overdue_key_persons(TODAY)
    assert rows(found) == OVERDUE_0715
    assert found[0].tags == ("truck_driver",) and found[7].tags == ("cold_chain", "teacher")
    cold_b = found[5]
    assert cold_b.reason_zh == "冷链从业：按V9 P8每1天核酸一次，最近一次采样2022-07-13，应于2022-07-14前再检，已逾期1天"
    assert cold_b.reason_en == ("Cold-chain worker: V9 P8 asks for a PCR test every 1 day(s); last sampled 2022-07-13, "
                                "next test due by 2022-07-14, 1 day(s) overdue")
    assert found[0].reason_zh == "货车司机：按V9 P8b每4天核酸一次，无核酸检测记录"
    # the invalid tube freed its member: no counted sample is left
    assert TubeMember.objects.filter(person=world["people"]["学生壬"], removed_at__isnull=True).count() == 0


def test_a_later_sample_does_not_count_for_an_earlier_day_and_the_area_prefix_limits_the_list(world):
    county = world["county"]
    on_0713 = {p.name: (p.days_overdue, p.due_on) for p in overdue_key_persons(D("2022-07-13"))}
    assert on_0713["冷链甲"] == (None, None)  # sampled only on 07-14
    assert on_0713["市场庚"] == (1, D("2022-07-12"))  # 07-08 + 4 days
    assert rows(overdue_key_persons(TODAY, county.grid_b.path)) == [OVERDUE_0715[4]]
    assert [p.name for p in overdue_key_persons(TODAY, county.village_a.path)] == [
        r[0] for r in OVERDUE_0715 if r[0] != "快递癸"]


LOCAL = """
[version]
id = "141027101-L1"
title_zh = "响水河镇：重点人群每2天一检"
effective_from = 2022-07-01
base = "V9"
scope = "141027101"

[[categories.key_group_worker.phases]]
measure = "precaution"
until = "leaves_post"
test_every_days = 2
"""


def test_a_county_override_sets_the_interval_for_its_own_area_only(world, tmp_path):
    directory = tmp_path / "versions"
    shutil.copytree(VERSIONS, directory)
    (directory / "local-141027101.toml").write_text(LOCAL, encoding="utf-8")
    assert policy_sync(directories=[directory]).loaded == ["141027101-L1"]
    found = {p.name: (p.days_overdue, p.requirement.every_days, p.requirement.rule, p.requirement.policy_version)
             for p in overdue_key_persons(TODAY)}
    assert found["快递癸"] == (4, 2, "P8b", "141027101-L1")  # 响水河镇: 07-09 + 2 days, due by 07-11
    assert found["快递戊"] == (1, 4, "P8b", "V9")  # 天坛镇 keeps the national rule


def test_the_list_takes_the_same_queries_for_more_people(world, county):
    with CaptureQueriesContext(connection) as before:
        assert len(overdue_key_persons(TODAY)) == 8
    for i in range(20):
        county.person(name=f"快递{i}", tags=["courier", "student"], seq=200 + i)
    with CaptureQueriesContext(connection) as after:
        assert len(overdue_key_persons(TODAY)) == 28
    assert len(after.captured_queries) == len(before.captured_queries) <= 4


def test_the_refresh_flags_the_overdue_yellow_and_a_second_run_changes_nothing(world):
    p = world["people"]
    report = key_person_flags_refresh(TODAY)
    assert (report.overdue, report.flagged, report.unchanged, report.cleared) == (8, 8, 0, 0)
    facts = {f.person.name: (f.kind, f.value, f.since.isoformat(), f.until) for f in
             StatusFact.objects.filter(source=SOURCE, withdrawn_at__isnull=True).select_related("person")}
    assert facts == {
        "司机辛": ("flag", "key_person_untested", "2022-07-15", None),
        "学生壬": ("flag", "key_person_untested", "2022-07-15", None),
        "市场庚": ("flag", "key_person_untested", "2022-07-13", None),
        "隔离丙": ("flag", "key_person_untested", "2022-07-14", None),
        "快递癸": ("flag", "key_person_untested", "2022-07-14", None),
        "冷链乙": ("flag", "key_person_untested", "2022-07-15", None),
        "快递戊": ("flag", "key_person_untested", "2022-07-15", None),
        "教师己": ("flag", "key_person_untested", "2022-07-15", None),
    }
    view = status_get(p["冷链乙"].id)
    assert (view.colour, view.rule) == ("yellow", "K6")
    assert StatusFact.objects.get(source=SOURCE, person=p["冷链乙"]).note == \
        "重点人群（冷链从业）应于2022-07-14前核酸，未按期（V9 P8）"
    assert (status_get(p["市场庚"].id).colour, status_get(p["市场庚"].id).rule) == ("red", "K1")  # positive on 07-14
    assert status_get(p["快递丁"].id).colour == "green"
    again = key_person_flags_refresh(TODAY)
    assert (again.overdue, again.flagged, again.unchanged, again.cleared) == (8, 0, 8, 0)
    assert StatusFact.objects.filter(source=SOURCE).count() == 8


def test_a_new_sample_clears_the_flag_on_the_next_run(world):
    p = world["people"]
    key_person_flags_refresh(TODAY)
    world["testing"].day(TODAY, [p["冷链乙"]])  # pending counts
    report = key_person_flags_refresh(TODAY)
    assert (report.overdue, report.flagged, report.unchanged, report.cleared) == (7, 0, 7, 1)
    assert status_get(p["冷链乙"].id).colour == "green"
    assert StatusFact.objects.get(source=SOURCE, person=p["冷链乙"]).withdrawn_at is not None


def test_under_v10_only_the_daily_posts_stay_and_the_other_flags_are_withdrawn(world):
    key_person_flags_refresh(TODAY)
    later = D("2022-12-08")
    assert [(p.name, p.tag, p.days_overdue, p.requirement.rule, p.requirement.policy_version)
            for p in overdue_key_persons(later)] == [
        ("隔离丙", "quarantine_staff", 148, "P8", "V10"), ("冷链乙", "cold_chain", 147, "P8", "V10"),
        ("教师己", "cold_chain", 147, "P8", "V10"), ("冷链甲", "cold_chain", 146, "P8", "V10")]
    report = key_person_flags_refresh(later)
    # 冷链甲 newly flagged; the three others' notes now name V10; the five P8b people are cleared
    assert (report.overdue, report.flagged, report.unchanged, report.cleared) == (4, 4, 0, 5)
    assert sorted(StatusFact.objects.filter(source=SOURCE, withdrawn_at__isnull=True)
                  .values_list("person__name", flat=True)) == sorted(["隔离丙", "冷链乙", "教师己", "冷链甲"])


def test_the_daily_command_prints_the_counts_in_chinese_and_english(world):
    out = io.StringIO()
    call_command("testing_overdue", stdout=out)
    assert out.getvalue().strip() == ("2022-07-15：重点人群逾期未检 8 人，新标记 8 人，保持 0 人，撤销 0 人 "
                                      "key-group people overdue 8: flagged 8, unchanged 0, cleared 0")
    out = io.StringIO()
    call_command("testing_overdue", "--date", "2022-07-15", stdout=out)
    assert "新标记 0 人，保持 8 人" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("testing_overdue", "--date", "15/07/2022")


def bearer(user):
    _, raw = api_token_issue(user=user, name="手机")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_the_overdue_list_over_http_is_masked_and_scoped(world):
    county = world["county"]
    hq = bearer(county.hq)
    body = hq.get("/api/v1/testing/key-persons/overdue").json()
    assert (body["on"], body["area_id"], body["total"]) == ("2022-07-15", county.county.id, 8)
    first, cold_b = body["rows"][0], body["rows"][5]
    assert (first["name"], first["tag"], first["last_test"], first["days_overdue"]) == ("司*辛", "truck_driver",
                                                                                         None, None)
    assert first["id_number"][:4] == "1410" and "*" in first["id_number"]
    assert {k: cold_b[k] for k in ("name", "tag", "tag_label", "category", "rule", "every_days", "policy_version",
                                   "due_on", "days_overdue", "last_test")} == {
        "name": "冷*乙", "tag": "cold_chain", "tag_label": "冷链从业", "category": "arrival_facing_worker", "rule": "P8",
        "every_days": 1, "policy_version": "V9", "due_on": "2022-07-14", "days_overdue": 1,
        "last_test": "2022-07-13T09:00:00+08:00"}
    assert [r["name"] for r in hq.get(f"/api/v1/testing/key-persons/overdue?area_id={county.grid_b.id}")
            .json()["rows"]] == ["快*癸"]
    assert len(hq.get("/api/v1/testing/key-persons/overdue?limit=2").json()["rows"]) == 2
    village_b = bearer(county.user(Role.VILLAGE, county.village_b, username="east-village"))
    assert village_b.get("/api/v1/testing/key-persons/overdue").json()["total"] == 1
    outside = village_b.get(f"/api/v1/testing/key-persons/overdue?area_id={county.grid_a.id}")
    assert (outside.status_code, outside.json()["code"]) == (404, "not_found")
    sampler = bearer(county.user(Role.SAMPLER, county.grid_a, username="sampler-http"))
    refused = sampler.get("/api/v1/testing/key-persons/overdue")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
