"""Fixtures: the business day and the small outbreak of outbreak.py."""

import pytest

from shouwang.reports.tests.outbreak import TODAY, build


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY


@pytest.fixture
def outbreak(county):
    return build(county)
