"""The demo county's mass testing (shouwang/demo/testing.py): a finished whole-county round whose coverage adds up,
a town round in progress with one positive 10-in-1 pool under recheck and one result file waiting for review, rows
consistent with what the testing services write, and the same data for the same seed (the quarantine and zones data
too: test_demo_quarantine.fingerprint, test_demo_zones.fingerprint)."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from shouwang.areas.models import Area
from shouwang.demo.generator import COUNTY_CODE, generate_county
from shouwang.demo.testing import FIRST_ROUND, NOW, SECOND_ROUND
from shouwang.demo.tests.test_demo_quarantine import fingerprint as quarantine_fingerprint
from shouwang.demo.tests.test_demo_zones import fingerprint as zones_fingerprint
from shouwang.demo.venues import DEMO_DATE
from shouwang.people.enums import PersonTag
from shouwang.people.models import Person
from shouwang.status.models import StatusFact
from shouwang.status.services import status_get
from shouwang.testing import selectors
from shouwang.testing.enums import EXEMPT_NOT_SAMPLED
from shouwang.testing.models import (
    Exemption,
    Lab,
    LabResultFile,
    PersonRound,
    RecheckTask,
    SamplingSite,
    TestingRound,
    TransportBatch,
    Tube,
    TubeMember,
    TubeResult,
)

SEED, PEOPLE = 3, 1500


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = DEMO_DATE.isoformat()


def local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value).replace(tzinfo=None)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2022, 7, day, hour, minute)


def totals(round_: TestingRound) -> tuple:
    table = selectors.coverage(round_=round_, parent=Area.objects.get(code=COUNTY_CODE))
    t = table.total
    for name in ("target", "exempt", "sampled", "resulted", "negative", "recheck", "positive"):
        assert sum(getattr(row, name) for row in table.rows) == getattr(t, name)  # the townships add up
    assert t.target == t.sampled + t.unsampled == round_.target
    return t.target, t.exempt, t.sampled, t.unsampled, t.resulted, t.negative, t.recheck, t.positive


@pytest.mark.django_db
def test_demo_county_has_a_finished_round_and_one_in_progress():
    generate_county(seed=SEED, people=PEOPLE)
    # (the key-group rounds of the people under measure, one a day, are checked in test_demo_quarantine.py, the risk
    # zones' day-7 round in test_demo_zones.py)
    first, second = TestingRound.objects.filter(name__in=[FIRST_ROUND, SECOND_ROUND]).order_by("starts_at")
    assert (first.name, first.kind, first.state, first.policy_version) == (FIRST_ROUND, "whole", "finished", "V9")
    assert (second.name, second.kind, second.state, second.policy_version) == (SECOND_ROUND, "area", "sampling", "V9")
    assert [local(r.starts_at) for r in (first, second)] == [at(12, 6), at(15, 6)]
    assert [local(r.deadline) for r in (first, second)] == [at(13, 6), at(16, 6)]
    assert Counter(first.areas.values_list("area__name", "setting", "pool_mode")) == {
        ("浮山县", "other_area", "20in1"): 1}
    settings = Counter(second.areas.values_list("setting", "pool_mode", "rule"))
    assert settings == {("medium_risk_zone", "10in1", "T4"): 6, ("other_area", "20in1", "T5"): 17}
    medium = {a.split("第")[0] for a in second.areas.filter(setting="medium_risk_zone")
              .values_list("area__name", flat=True)}
    assert len(medium) == 1  # the grids of one community

    assert dict(Lab.objects.values_list("name", "tubes_per_day")) == {"县疾控中心实验室": 4000,
                                                                      "金域医学检验实验室": 8000}
    sites = Counter(SamplingSite.objects.values_list("kind", flat=True))
    assert sites == {"fixed": 143, "temporary": 3, "door_to_door": 8}  # 136 villages, 6 communities, 1 health centre
    assert SamplingSite.objects.filter(name="城关社区核酸采样点", opening_hours="07:00-11:00, 15:00-19:00").exists()
    assert not SamplingSite.objects.exclude(kind="door_to_door").filter(
        Q(per_hour__lt=120) | Q(per_hour__gt=300) | Q(samplers__lt=2) | Q(samplers__gt=6)).exists()

    check_the_finished_round(first)
    check_the_round_in_progress(second)
    check_tubes_and_people()


def check_the_finished_round(round_: TestingRound) -> None:
    """About 97% sampled, everyone else unsampled or exempt; every tube boxed, received and negative after review."""
    assert totals(round_) == (1477, 23, 1408, 69, 1408, 1408, 0, 0)
    exempt = Counter(Exemption.objects.filter(round=round_).values_list("reason", flat=True))
    assert exempt == {"away": 17, "infant": 5, "door_to_door": 5, "in_quarantine": 1}
    bedridden = set(Person.objects.filter(tags__tag=PersonTag.BEDRIDDEN).values_list("id", flat=True))
    assert set(Exemption.objects.filter(round=round_, reason="door_to_door").values_list("person_id", flat=True)) \
        == bedridden
    assert PersonRound.objects.filter(round=round_, person__in=bedridden).count() == 5  # sampled at home
    assert not PersonRound.objects.filter(round=round_, person__in=Exemption.objects.filter(
        round=round_, reason__in=list(EXEMPT_NOT_SAMPLED)).values("person")).exists()

    tubes = Tube.objects.filter(round=round_)
    assert Counter(tubes.values_list("purpose", "pool_mode", "pool_size", "state", "result")) == {
        ("round", "20in1", 20, "resulted", "negative"): 366}
    assert Counter(PersonRound.objects.filter(round=round_).values_list("state", flat=True)) == {"negative": 1408}
    assert not tubes.filter(Q(batch__state__in=["packed", "in_transit"]) | Q(lab__isnull=True)
                            | ~Q(lab=F("batch__lab"))).exists()
    results = TubeResult.objects.filter(tube__round=round_)
    assert results.count() == 366
    assert set(results.values_list("source_file__state", "reviewed_by__username", "result")) == {
        ("accepted", "lab", "negative")}
    for tube in tubes:
        assert at(12, 6) <= local(tube.opened_at) <= local(tube.closed_at) <= at(12, 21)
        assert dt.timedelta(minutes=30) <= tube.received_at - tube.closed_at <= dt.timedelta(hours=4)
        assert dt.timedelta(hours=2, minutes=30) <= tube.resulted_at - tube.received_at <= dt.timedelta(hours=8)
        assert local(tube.resulted_at) < at(13, 6)
    boxes = TransportBatch.objects.filter(tubes__round=round_).distinct()
    assert max(b.tubes.count() for b in boxes) <= 50
    assert not boxes.filter(Q(courier="") | Q(courier_mobile="") | Q(received_at__isnull=True)).exists()


def check_the_round_in_progress(round_: TestingRound) -> None:
    """About 60% sampled by the afternoon; tubes at every step of the chain; one positive pool under recheck."""
    assert totals(round_) == (548, 4, 364, 184, 124, 114, 10, 0)
    now = at(15, NOW // 3600, NOW % 3600 // 60)
    assert all(local(t) <= now for t in TubeMember.objects.filter(round=round_).values_list("added_at", flat=True))
    tubes = Tube.objects.filter(round=round_, purpose="round")
    assert Counter(tubes.values_list("state", flat=True)) == {
        "open": 5, "closed": 5, "in_transit": 1, "received": 22, "resulted": 14}

    (positive,) = tubes.filter(result="positive")
    members = list(TubeMember.objects.filter(tube=positive).order_by("position").values_list("person_id", flat=True))
    assert (positive.pool_mode, positive.members_count, len(members)) == ("10in1", 10, 10)
    assert list(positive.results.values_list("result", "ct_orf", "ct_n", "source_file__state")) == [
        ("positive", Decimal("32.41"), Decimal("30.96"), "accepted")]
    assert Counter(PersonRound.objects.filter(round=round_, tube=positive).values_list("state", flat=True)) == {
        "recheck": 10}
    rechecks = RecheckTask.objects.filter(round=round_)
    assert sorted(rechecks.values_list("person_id", flat=True)) == sorted(members)
    assert Counter(rechecks.values_list("state", flat=True)) == {"open": 7, "sampled": 3}
    assert set(rechecks.values_list("source_tube", flat=True)) == {positive.id}
    for task in rechecks:
        assert task.due_at - positive.resulted_at == dt.timedelta(hours=24)
        view = status_get(task.person_id)
        assert (view.colour, view.rule) == ("yellow", "K6b")
    assert Counter(StatusFact.objects.filter(value="pool_recheck_pending").values_list("source_id", flat=True)) == {
        positive.barcode: 10}
    singles = Tube.objects.filter(round=round_, purpose="recheck")
    assert Counter(singles.values_list("pool_mode", "members_count", "state")) == {("single", 1, "in_transit"): 3}
    assert {t.members.get().person_id for t in singles} == set(rechecks.filter(state="sampled")
                                                             .values_list("person_id", flat=True))
    assert set(rechecks.filter(state="sampled").values_list("tube__purpose", flat=True)) == {"recheck"}
    (box,) = TransportBatch.objects.filter(tubes__in=singles).distinct()
    assert (box.state, box.tubes.count(), box.site.kind) == ("in_transit", 3, "door_to_door")

    (pending,) = LabResultFile.objects.filter(state="pending")
    barcodes = [row["barcode"] for row in pending.rows]
    assert pending.errors == [] and barcodes
    assert set(Tube.objects.filter(barcode__in=barcodes).values_list("round", "state", "result", "lab")) == {
        (round_.id, "received", "", pending.lab_id)}
    assert LabResultFile.objects.exclude(state="accepted").count() == 1


def check_tubes_and_people() -> None:
    """Nobody is in two tubes of a round; each tube counts its members; a sampled person has one round state,
    pointing at their tube."""
    twice = (TubeMember.objects.filter(removed_at__isnull=True).values("round", "purpose", "person")
             .annotate(n=Count("id")).filter(n__gt=1))
    assert not twice.exists()
    counted = Tube.objects.annotate(active=Count("members", filter=Q(members__removed_at__isnull=True)))
    assert not counted.exclude(members_count=F("active")).exists()
    assert not counted.filter(active=0).exists()
    members = set(TubeMember.objects.filter(purpose="round").values_list("round", "person", "tube"))
    assert set(PersonRound.objects.values_list("round", "person", "tube")) == members
    assert PersonRound.objects.count() == len(members)
    assert not TubeMember.objects.exclude(round=F("tube__round")).exists()
    assert not PersonRound.objects.exclude(area=F("person__area")).exists()


def fingerprint() -> dict:
    """The testing data by natural keys (ID numbers, barcodes, names), independent of database ids."""
    number = dict(Person.objects.values_list("id", "id_number"))
    tubes = {}
    for tube in Tube.objects.select_related("site", "batch"):
        tubes[tube.barcode] = (tube.state, tube.pool_mode, tube.site.name, tube.opened_at, tube.closed_at,
                               tube.received_at, tube.resulted_at, tube.result, tube.batch.code if tube.batch else "")
    for tube_barcode, person, position in (TubeMember.objects.order_by("tube__barcode", "position", "person__id_number")
                                           .values_list("tube__barcode", "person", "position")):
        tubes[tube_barcode] += ((number[person], position),)
    return {
        "rounds": sorted(TestingRound.objects.values_list("name", "state", "target")),
        "sites": sorted(SamplingSite.objects.values_list("name", "kind", "area__code", "opening_hours", "samplers",
                                                         "per_hour")),
        "tubes": tubes,
        "boxes": sorted(TransportBatch.objects.values_list("code", "state", "courier", "handed_at", "received_at")),
        "files": sorted(LabResultFile.objects.values_list("file_name", "state", "sha256")),
        "exempt": sorted((r, number[p], why) for r, p, why in Exemption.objects.values_list(
            "round__name", "person", "reason")),
        "rechecks": sorted((number[p], s, b) for p, s, b in RecheckTask.objects.values_list(
            "person", "state", "source_tube__barcode")),
    }


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_testing_quarantine_and_zones_data():
    # Each county is built and rolled back in a savepoint (the audit log and the scan log cannot be wiped).
    prints, quarantine, zones = [], [], []
    for _ in range(2):
        with transaction.atomic():
            generate_county(seed=SEED, people=PEOPLE)
            prints.append(fingerprint())
            quarantine.append(quarantine_fingerprint())
            zones.append(zones_fingerprint())
            transaction.set_rollback(True)
    assert prints[0] == prints[1]
    assert len(prints[0]["tubes"]) > 100 and len(prints[0]["rechecks"]) == 10
    assert quarantine[0] == quarantine[1]  # shouwang/demo/quarantine.py
    assert (len(quarantine[0]["stays"]), len(quarantine[0]["checks"]), len(quarantine[0]["team"])) == (25, 23, 45)
    assert zones[0] == zones[1]  # shouwang/demo/zones.py
    assert (len(zones[0]["zones"]), len(zones[0]["history"]), len(zones[0]["facts"])) == (6, 19, 104)
