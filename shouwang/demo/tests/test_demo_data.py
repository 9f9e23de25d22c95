import datetime as dt
from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.accounts.models import User
from shouwang.areas.enums import AreaLevel, GridKind, GridWorkerRole
from shouwang.areas.models import Area, GridWorker, Household
from shouwang.demo import shapes as demo_shapes
from shouwang.demo.generator import COUNTY_CODE, generate_county
from shouwang.demo.venues import DEMO_DATE
from shouwang.people.enums import IdType, PersonTag
from shouwang.people.identifiers import parse_resident_id
from shouwang.people.models import Person
from shouwang.quarantine.models import Stay
from shouwang.status.models import PersonStatus, StatusFact
from shouwang.venues.enums import VenueCategory, VenueStatus
from shouwang.venues.models import Scan, Venue, VenueCode
from shouwang.venues.services import VENUE_LEVELS

TODAY = dt.date(2022, 4, 15)
SEED, PEOPLE = 7, 2000
ROLES = {
    "hq": (Role.HQ, "浮山县"),
    "taskforce": (Role.TASK_FORCE, "浮山县"),
    "township": (Role.TOWNSHIP, "天坛镇"),
    "community": (Role.VILLAGE, "城关社区"),
    "grid": (Role.GRID_WORKER, "城关社区第一网格"),
    "sampler": (Role.SAMPLER, "天坛镇"),
    "lab": (Role.LAB, "浮山县"),
    "quarantine": (Role.QUARANTINE_MANAGER, "浮山县"),
    "doctor": (Role.QUARANTINE_MANAGER, "天坛镇"),
    "checkpoint": (Role.CHECKPOINT, "响水河镇"),
    "supervisor": (Role.SUPERVISOR, "浮山县"),
    "admin": (Role.ADMIN, "浮山县"),
}


def first_people(n: int = 20) -> list[tuple[str, str]]:
    return list(Person.objects.order_by("id").values_list("name", "id_number")[:n])


def wipe_demo() -> None:
    """Remove what the generator wrote (the append-only audit log stays)."""
    Person.objects.all().delete()
    Household.objects.all().delete()
    GridWorker.objects.all().delete()
    User.objects.all().delete()
    Area.objects.all().delete()


@pytest.mark.django_db
def test_demo_county_has_fushans_shape_and_valid_data():
    call_command("demo_data", seed=SEED, people=PEOPLE, quiet=True)

    county = Area.objects.get(code=COUNTY_CODE)
    assert [a.name for a in Area.objects.get_ancestors(county)] == ["山西省", "临汾市"]
    townships = Area.objects.filter(level=AreaLevel.TOWNSHIP)
    assert sorted(townships.values_list("name", flat=True)) == sorted(
        ["天坛镇", "响水河镇", "东张乡", "张庄乡", "北王乡", "槐埝乡", "寨圪塔乡"])
    assert all(t.is_synthetic_code and len(t.code) == 9 for t in townships)
    villages = Area.objects.filter(level=AreaLevel.VILLAGE, name__endswith="村")
    assert villages.count() == 136
    assert Area.objects.filter(level=AreaLevel.VILLAGE, name__endswith="社区").count() == 6
    grids = Counter(Area.objects.filter(level=AreaLevel.GRID).values_list("grid_kind", flat=True))
    assert grids == {GridKind.RURAL: 136, GridKind.COMMUNITY: 36, GridKind.SPECIAL: 12}
    town = townships.get(name="天坛镇")
    assert Area.objects.get_children(town).filter(level=AreaLevel.GRID, grid_kind=GridKind.SPECIAL).count() == 12
    for village in villages.filter(code__startswith=f"{COUNTY_CODE}101")[:5]:
        (grid,) = Area.objects.get_children(village)
        assert (grid.grid_kind, grid.code, len(village.code)) == (GridKind.RURAL, village.code + "001", 12)
    assert Area.objects.filter(level=AreaLevel.UNIT).exists()
    # SQLite does not enforce a CharField's length; PostgreSQL does.
    longest = max(len(c) for c in Area.objects.values_list("code", flat=True))
    assert longest == 27 and longest <= Area._meta.get_field("code").max_length
    assert Area.objects.find_problems() == ([], [], [], [], [])

    workers = Counter(GridWorker.objects.values_list("role", flat=True))
    assert workers[GridWorkerRole.GRID_WORKER] == 136
    assert workers[GridWorkerRole.GRID_OFFICER] == 27
    assert workers[GridWorkerRole.FULL_TIME] == 36
    assert workers[GridWorkerRole.ASSISTANT] == 22
    assert workers[GridWorkerRole.BUILDING_HEAD] > 0

    users = {u.username: (u.role, u.jurisdiction.name) for u in User.objects.select_related("jurisdiction")}
    assert users == ROLES
    grid_user = User.objects.get(username="grid")
    assert grid_user.check_password("Shouwang-2022")
    assert GridWorker.objects.filter(user=grid_user, area=grid_user.jurisdiction).exists()

    assert Person.objects.count() == PEOPLE
    residents = Person.objects.filter(id_type=IdType.RESIDENT_ID)
    for number, sex, birth in residents.values_list("id_number", "sex", "birth_date"):
        rid = parse_resident_id(number, today=TODAY)
        assert (rid.sex, rid.birth_date) == (sex, birth)
    assert Person.objects.exclude(id_type=IdType.RESIDENT_ID).count() == 1  # the planted passport duplicate
    numbers = list(Person.objects.values_list("id_number", flat=True))
    assert len(set(numbers)) == len(numbers)
    # The three planted likely duplicates: same name and mobile, another document.
    pairs = Counter(Person.objects.exclude(mobile="").values_list("name", "mobile"))
    assert sum(1 for n in pairs.values() if n > 1) == 3
    assert all(p.mobile == "" for p in Person.objects.filter(birth_date__gt=dt.date(2010, 1, 1)))
    students = Person.objects.filter(tags__tag=PersonTag.STUDENT)
    assert all(6 <= (TODAY - p.birth_date).days // 365.25 <= 18 for p in students)
    check_venues_statuses_and_scans()


def check_venues_statuses_and_scans():
    """Venues with one valid code each, a few closed and re-issued; facts in every colour; a week of scans."""
    assert Venue.objects.count() == 627
    assert Counter(Venue.objects.values_list("status", flat=True)) == {VenueStatus.ACTIVE: 624, VenueStatus.CLOSED: 3}
    assert set(Venue.objects.values_list("category", flat=True)) <= set(VenueCategory.values)
    assert set(Venue.objects.values_list("area__level", flat=True)) <= set(VENUE_LEVELS)
    assert Venue.objects.values("name").distinct().count() == 627
    assert (VenueCode.objects.count(), VenueCode.objects.filter(revoked_at__isnull=False).count()) == (629, 2)
    valid = Counter(VenueCode.objects.filter(revoked_at__isnull=True).values_list("venue_id", flat=True))
    assert len(valid) == 627 and set(valid.values()) == {1}
    # the outbreak's cases and contacts are checked in test_demo_tracing.py; its risk zones (source zones.zone, codes
    # FX..., facts withdrawn at a downgrade or lifting counted too) in test_demo_zones.py
    from_contacts = [str(i) for i in Stay.objects.filter(source_ref__startswith="contact:").values_list("id", flat=True)]
    traced = StatusFact.objects.filter(Q(source="tracing.case") | Q(source="tracing.contact", source_id__regex=r"^\d+$")
                                       | Q(source="quarantine.stay", source_id__in=from_contacts))
    assert Counter(StatusFact.objects.exclude(id__in=traced.values("id")).values_list("value", flat=True)) == {
        "high": 59, "medium": 73, "home_health_monitoring": 3, "spatio_temporal_companion": 1, "close_contact": 1,
        "central_quarantine": 1, "pool_recheck_pending": 10}
    statuses = PersonStatus.objects.exclude(person_id__in=traced.values("person_id"))
    assert Counter(statuses.values_list("rule", flat=True)) == {"K3": 23, "K5": 44, "K4": 2, "K2b": 1, "K2": 1,
                                                                "K6": 1, "K6b": 6}  # 4 under recheck in a zone
    assert set(statuses.values_list("computed_for", flat=True)) == {DEMO_DATE}
    assert statuses.get(rule="K2").changes_on == dt.date(2022, 7, 16)  # central quarantine ends on the 15th
    assert Scan.objects.count() == 10468
    assert Counter(Scan.objects.values_list("colour", flat=True)) == {"green": 10456, "yellow": 3, "red": 9}
    assert Counter(Scan.objects.values_list("method", flat=True)) == {"self": 10458, "reverse": 10}
    times = [timezone.localtime(t) for t in Scan.objects.values_list("scanned_at", flat=True)]
    assert {t.date() for t in times} == {DEMO_DATE - dt.timedelta(days=d) for d in range(7)}
    assert all(6 <= t.hour <= 21 for t in times)
    closed = Venue.objects.filter(status=VenueStatus.CLOSED)
    assert not Scan.objects.filter(venue__in=closed, scanned_at__date__gte=dt.date(2022, 7, 12)).exists()
    # The planted likely duplicates can be merged: neither file of a pair has scans or facts.
    twins = Person.objects.exclude(mobile="").values("name", "mobile").annotate(n=Count("id")).filter(n__gt=1)
    assert twins.count() == 3
    for pair in twins:
        files = Person.objects.filter(name=pair["name"], mobile=pair["mobile"])
        assert not Scan.objects.filter(person__in=files).exists()
        assert not StatusFact.objects.filter(person__in=files).exists()
    assert Scan.objects.filter(method="reverse", venue__category=VenueCategory.CHECKPOINT,
                               recorded_by__username="checkpoint", temperature__isnull=False).count() == 10


@pytest.mark.django_db
def test_same_seed_gives_the_same_people_and_shapes_and_if_empty_does_nothing(capsys, monkeypatch):
    # The audit log and the scan log are append-only even in tests, so everything happens in the test's one
    # transaction, and the county is built without venues and scans so that it can be wiped.
    generate_county(seed=SEED, people=PEOPLE, venues=False)
    first = first_people()
    shapes = dict(Area.objects.values_list("code", "shape"))
    call_command("demo_data", seed=SEED, people=PEOPLE, if_empty=True)
    assert capsys.readouterr().out == ""
    assert Person.objects.count() == PEOPLE

    wipe_demo()
    assert not Area.objects.exists()
    generate_county(seed=SEED, people=PEOPLE, venues=False)
    assert first_people() == first
    assert len(first) == 20
    assert dict(Area.objects.values_list("code", "shape")) == shapes  # the same boundaries (shouwang/demo/shapes.py)

    wipe_demo()  # without shapes at all the people are the same: the shapes draw from their own random streams
    monkeypatch.setattr(demo_shapes.DemoShapes, "tree", lambda self, code, townships: None)
    monkeypatch.setattr(demo_shapes.DemoShapes, "grid_children", lambda self, grid: None)
    generate_county(seed=SEED, people=PEOPLE, venues=False)
    assert first_people() == first
    assert Area.objects.filter(level="village", shape__isnull=False).count() == 0
    monkeypatch.undo()

    wipe_demo()
    generate_county(seed=SEED + 1, people=PEOPLE, venues=False)
    assert first_people() != first
