"""The zones' world: the test county with a compound (幸福小区) of two buildings under grid A, one with two units,
and people living in them; rounds written as the testing services leave them (a round over areas, tubes, each
person's state), for the clock's screening rounds."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone

from shouwang.areas.services import area_create, household_get_or_create
from shouwang.policy.selectors import forget
from shouwang.policy.services import policy_sync
from shouwang.testing.enums import PoolMode, RoundKind, RoundState, TubePurpose, TubeState
from shouwang.testing.models import PersonRound, RoundArea, TestingRound, Tube

VERSIONS = Path(__file__).resolve().parents[2] / "policy" / "versions"
_barcodes = itertools.count(1)


def on(settings, day) -> dt.date:
    settings.SHOUWANG_TODAY = day if isinstance(day, str) else day.isoformat()
    return dt.date.fromisoformat(settings.SHOUWANG_TODAY)


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@dataclass
class World:
    county: object
    compound: object
    b1: object  # 幸福小区1号楼 (inside the compound)
    b2: object  # 幸福小区2号楼
    unit1: object  # 2号楼1单元
    unit2: object  # 2号楼2单元
    people: dict  # name -> Person


@pytest.fixture
def world(county) -> World:
    c = county
    compound = area_create(parent=c.grid_a, level="compound", code="141027100001001-C01", name="幸福小区")
    b1 = area_create(parent=compound, level="building", code="141027100001001-C01-B01", name="1号楼")
    b2 = area_create(parent=compound, level="building", code="141027100001001-C01-B02", name="2号楼")
    unit1 = area_create(parent=b2, level="unit", code="141027100001001-C01-B02-U1", name="1单元")
    unit2 = area_create(parent=b2, level="unit", code="141027100001001-C01-B02-U2", name="2单元")
    h101 = household_get_or_create(area=b1, room="101")
    h102 = household_get_or_create(area=b1, room="102")
    h201 = household_get_or_create(area=unit1, room="201")
    h202 = household_get_or_create(area=unit2, room="202")
    people = {}
    spec = [  # name, area, household, birth, tags
        ("张一", b1, h101, dt.date(1980, 5, 1), []),
        ("张二", b1, h101, dt.date(2021, 9, 1), ["infant"]),
        ("李老", b1, h102, dt.date(1950, 1, 1), []),  # 72, alone in 102: living alone (computed)
        ("王孕", unit1, h201, dt.date(1995, 2, 2), ["pregnant"]),
        ("王病", unit1, h201, dt.date(1958, 3, 3), ["seriously_ill", "disabled"]),  # 64, not alone
        ("赵独", unit2, h202, dt.date(1940, 4, 4), ["elderly_alone", "bedridden"]),  # tagged (and alone)
        ("钱无户", unit2, None, dt.date(1990, 6, 6), []),
        ("孙外", c.building_a, c.household_a, dt.date(1985, 7, 7), []),  # building A, outside the compound
        ("周村", c.grid_b, None, dt.date(1970, 8, 8), []),  # village B
    ]
    for i, (name, area, household, birth, tags) in enumerate(spec):
        people[name] = c.person(name=name, area=area, household=household, birth=birth, seq=500 + i, tags=tags)
    return World(c, compound, b1, b2, unit1, unit2, people)


def screening(areas, day: dt.date, results: dict, *, kind: str = RoundKind.AREA, state: str = RoundState.FINISHED):
    """A round over `areas` sampled on `day`, as the testing services leave it: each person in `results` (person ->
    their state: negative, positive, recheck, sampled) in a single tube of the round, sampled at 09:00."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(6)))
    round_ = TestingRound.objects.create(name=f"{day} 区域核酸", kind=kind, starts_at=start,
                                         deadline=start + dt.timedelta(hours=18), state=state, policy_version="V9")
    for area in areas:
        RoundArea.objects.create(round=round_, area=area, setting="high_risk_zone", pool_mode=PoolMode.SINGLE,
                                 rule="T3", reason_zh="", reason_en="")
    at = start + dt.timedelta(hours=3)
    for person, state_ in results.items():
        tube = Tube.objects.create(barcode=f"ZT{next(_barcodes):06d}", round=round_, purpose=TubePurpose.ROUND,
                                   pool_mode=PoolMode.SINGLE, pool_size=1, state=TubeState.RESULTED, opened_at=at,
                                   closed_at=at, members_count=1,
                                   result={"negative": "negative", "positive": "positive"}.get(state_, ""))
        PersonRound.objects.create(round=round_, person=person, area=person.area, state=state_, tube=tube,
                                   sampled_at=at)
    return round_


EXCLUSIONS = """
[version]
id = "141027-Z1"
title_zh = "浮山县：不作为划定风险区依据的病例"
effective_from = 2022-07-01
base = "V9"
scope = "141027"

[params.uncounted_case_contexts]
value = ["central_quarantine", "home_quarantine", "closed_loop", "post_discharge", "arrival_prior_infection"]
rule = "Z6-L"
confidence = "LOC"
note_zh = "浮山县：按二十条配套方案的五种情形执行"
"""


@pytest.fixture
def county_exclusions(tmp_path):
    """浮山县 applies V20a's five uncounted situations under V9 (the 9th edition's own list was not found)."""
    directory = tmp_path / "versions"
    shutil.copytree(VERSIONS, directory)
    (directory / "local-141027-zones.toml").write_text(EXCLUSIONS, encoding="utf-8")
    assert policy_sync(directories=[directory]).loaded == ["141027-Z1"]
    yield
    forget()
