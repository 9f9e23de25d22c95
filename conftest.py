"""Shared fixtures: a small county built through the real services, and users of every role."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.test import Client

from shouwang.accounts.enums import Role
from shouwang.accounts.services import user_create
from shouwang.areas.services import area_create, area_ensure_gb2260_chain, household_get_or_create
from shouwang.people.identifiers import make_resident_id
from shouwang.people.services import PersonInput, person_create

PASSWORD = "Shouwang-2022"
_seq = itertools.count(1)


class County:
    """浮山县 with two townships; grid A (天坛镇 › 城关社区 › 第一网格) and grid B (响水河镇 › 东村 › 东村网格)."""

    def __init__(self):
        self.county = area_ensure_gb2260_chain("141027")
        self.township_a = area_create(parent=self.county, level="township", code="141027100", name="天坛镇",
                                      is_synthetic_code=True)
        self.township_b = area_create(parent=self.county, level="township", code="141027101", name="响水河镇",
                                      is_synthetic_code=True)
        self.village_a = area_create(parent=self.township_a, level="village", code="141027100001", name="城关社区",
                                     is_synthetic_code=True)
        self.village_b = area_create(parent=self.township_b, level="village", code="141027101001", name="东村",
                                     is_synthetic_code=True)
        self.grid_a = area_create(parent=self.village_a, level="grid", code="141027100001001", name="第一网格",
                                  grid_kind="community")
        self.grid_b = area_create(parent=self.village_b, level="grid", code="141027101001001", name="东村网格",
                                  grid_kind="rural")
        self.building_a = area_create(parent=self.grid_a, level="building", code="141027100001001-B01",
                                      name="幸福小区1号楼")
        self.household_a = household_get_or_create(area=self.building_a, room="1-101")
        self.users: dict[str, object] = {}

    def user(self, role: str, area=None, username: str | None = None):
        area = area if area is not None else self.county
        name = username or f"{role}_{area.code}"
        if name not in self.users:
            self.users[name] = user_create(username=name, password=PASSWORD, role=role, jurisdiction=area,
                                           display_name=name)
        return self.users[name]

    @property
    def hq(self):
        return self.user(Role.HQ)

    def person(self, *, name: str = "王芳", area=None, birth: dt.date = dt.date(1985, 3, 14), mobile: str = "",
               household=None, seq: int | None = None, **extra):
        number = make_resident_id("141027", birth, seq if seq is not None else next(_seq) % 1000)
        data = PersonInput(name=name, id_number=number, area_id=(area or self.grid_a).id, mobile=mobile,
                           household_id=household.id if household else None, **extra)
        return person_create(data=data, actor=self.hq)


@pytest.fixture(autouse=True)
def _business_afternoon(settings):
    """With a pinned business date, the business clock starts at 15:00 on it (clock.SHOUWANG_TIME), not at the
    real time of day: a test must not pass at noon and fail at midnight (a lab time of 11:00 is "in the future" at
    00:05). Tests that need another moment pin clock.now themselves."""
    settings.SHOUWANG_TIME = "15:00"
    from shouwang.core import clock

    clock._STARTED = clock.timezone.now()


@pytest.fixture(autouse=True)
def _own_scan_index(settings, tmp_path_factory):
    """Each test's companion engine keeps its files apart (a case report queries it), never in var/."""
    settings.SHOUWANG_SCAN_INDEX_DIR = str(tmp_path_factory.mktemp("scan-index"))


@pytest.fixture
def county(db) -> County:
    return County()


@pytest.fixture
def client_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
