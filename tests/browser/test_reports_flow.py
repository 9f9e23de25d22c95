"""Epidemic analytics end to end: the county's HQ opens 疫情分析 from the menu and reads the epidemic curve (and
its table), switches it to report dates without a reload, reads R_t with its band and the line at 1, and the serial
interval of the linked pairs; then asks for R_t with another serial interval and mistypes one. The numbers on the
page are checked against the selectors run on the live database.

The demo county's outbreak is used when it has one; with fewer than 3 cases the test reports a small outbreak of
its own through the tracing services (people outside the township the other browser tests work in, no contacts
proposed), so the charts have something to draw."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import live_query, login, shot

pytestmark = pytest.mark.browser

OUTBREAK = """
import datetime as dt
import json
from django.utils import timezone
from shouwang.accounts.models import User
from shouwang.core import clock
from shouwang.people.models import Person
from shouwang.reports import selectors
from shouwang.tracing.models import Case
from shouwang.tracing.services import CaseInput, case_create, link_add

hq = User.objects.get(username="hq")
today = clock.today()
made = []
if Case.objects.exclude(state="excluded").count() < 3:
    town = User.objects.get(username="township").jurisdiction
    people = list(Person.objects.active().exclude(area__path__startswith=town.path)
                  .filter(tracing_cases__isnull=True).order_by("-id")[:9])
    # (onset days before today or None, sampled, origin, found in quarantine, infector index)
    plan = [(14, 14, "imported", False, None), (11, 10, "local", False, 0), (9, 9, "local", False, 1),
            (8, 8, "local", True, 1), (None, 7, "local", True, 2), (6, 5, "local", False, 2),
            (5, 5, "local", True, 3), (3, 2, "local", True, 5), (None, 1, "local", True, 6)]
    for person, (onset, sampled, origin, quarantine, infector) in zip(people, plan):
        day = today - dt.timedelta(days=sampled)
        case = case_create(actor=hq, data=CaseInput(
            person_id=person.id, found_by="arrival_test" if origin == "imported" else "fever_clinic",
            classification="asymptomatic" if onset is None else "confirmed",
            onset_date=None if onset is None else today - dt.timedelta(days=onset), sampling_date=day,
            reported_at=timezone.make_aware(dt.datetime.combine(day, dt.time(18))), origin=origin,
            found_in_quarantine=quarantine, propose_contacts=False)).case
        if infector is not None:
            link_add(actor=hq, infector_id=made[infector].id, infectee_id=case.id)
        made.append(case)
onset = selectors.epicurve(hq)
report = selectors.epicurve(hq, basis="report")
rt = selectors.rt_estimate(hq)
custom = selectors.rt_estimate(hq, mean_si=5.0)
si = selectors.serial_interval(hq)
busiest = max(onset.days, key=lambda c: (c.counts.total, c.day))
print(json.dumps({
    "made": len(made), "start": onset.start.isoformat(), "end": onset.end.isoformat(), "days": len(onset.days),
    "onset": onset.total.as_dict(), "report": report.total.as_dict(),
    "busiest": [busiest.day.isoformat(), busiest.counts.total, busiest.counts.community, busiest.counts.quarantine],
    "report_nonzero": [c.day.isoformat() for c in report.days if c.counts.total],
    "windows": len(rt.windows), "estimated": sum(1 for w in rt.windows if w.mean is not None),
    "latest": None if rt.latest is None else [rt.latest.t_end.isoformat(), "%.2f" % rt.latest.mean,
                                               "%.2f" % rt.latest.q025, "%.2f" % rt.latest.q975],
    "custom_latest": None if custom.latest is None else "%.2f" % custom.latest.mean,
    "si": [si.n, si.skipped, None if si.mean is None else "%.2f" % si.mean],
}))
"""


def numbers(page, testid: str) -> list[str]:
    return page.locator(f"[data-testid={testid}]").all_inner_texts()


def test_hq_reads_the_curve_rt_and_serial_interval(live_site, live_env, page):
    want = live_query(live_env, OUTBREAK)
    assert want["onset"]["total"] >= 3 and want["estimated"] >= 1, want
    login(page, live_site, "hq")
    page.click("[data-testid=nav-group-tracing]")
    page.click("nav >> [data-testid=nav-reports]")
    page.wait_for_url(live_site + "/reports/epi/")
    expect(page.locator("[data-testid=report-range]")).to_have_text(f"{want['start']} 至 {want['end']}")

    # The curve: the chart drawn (SVG with bars), its table by onset date, every day listed.
    expect(page.locator("#curve-chart svg")).to_have_count(1)
    onset_table = page.locator("[data-testid=curve-table-onset]")
    expect(onset_table).to_be_visible()
    expect(page.locator("[data-testid=curve-table-report]")).to_be_hidden()
    assert onset_table.locator("[data-testid=curve-row]").count() == want["days"]
    busiest = onset_table.locator(f"[data-testid=curve-row][data-date='{want['busiest'][0]}']")
    assert [busiest.locator(f"[data-testid=curve-{k}]").inner_text() for k in ("total", "community", "quarantine")] \
        == [str(n) for n in want["busiest"][1:]]
    stats = page.locator("[data-testid=curve-stats-onset]")
    assert stats.locator("[data-testid=curve-stat-total]").inner_text() == str(want["onset"]["total"])
    assert stats.locator("[data-testid=curve-stat-community]").inner_text() == str(want["onset"]["community"])
    shot(page, "reports-epi")

    # Report dates: the chart and the table switch in place, the address keeps the choice.
    page.click("[data-testid=basis-toggle] >> text=按报告日期")
    expect(page.locator("[data-testid=curve-table-report]")).to_be_visible()
    expect(onset_table).to_be_hidden()
    assert "basis=report" in page.url
    report_rows = page.locator("[data-testid=curve-table-report] [data-testid=curve-row]:not(.zero)")
    assert report_rows.evaluate_all("rows => rows.map(r => r.dataset.date)") == want["report_nonzero"]
    expect(page.locator("[data-testid=basis-toggle] [data-basis-link=report]")).to_have_attribute("aria-pressed",
                                                                                                 "true")
    page.locator("#curve").scroll_into_view_if_needed()
    shot(page, "reports-epi-report-basis")

    # R_t: a line, a band, the dashed line at 1; the table has every window and the latest estimate on top.
    expect(page.locator("#rt-chart svg")).to_have_count(1)
    assert page.locator("[data-testid=rt-table] [data-testid=rt-row]").count() == want["windows"]
    latest = page.locator("[data-testid=rt-latest]").inner_text()
    end, mean, low, high = want["latest"]
    assert mean in latest and f"{low}–{high}" in latest and end[5:] in latest
    assert page.locator(f"[data-testid=rt-row][data-end='{end}'] [data-testid=rt-mean]").inner_text() == mean
    assert "Rt = 1" in page.locator("#rt-chart").inner_html()
    assert "默认参数（奥密克戎）" in page.locator("[data-testid=rt-si]").inner_text()
    page.locator("#rt").scroll_into_view_if_needed()
    shot(page, "reports-epi-rt")

    # The serial interval of the linked pairs.
    n, skipped, si_mean = want["si"]
    assert (page.locator("[data-testid=si-n]").inner_text(), page.locator("[data-testid=si-skipped]").inner_text()) \
        == (str(n), str(skipped))
    if n:
        assert page.locator("[data-testid=si-mean]").inner_text() == si_mean
        expect(page.locator("#si-chart svg")).to_have_count(1)
    page.locator("#si").scroll_into_view_if_needed()
    shot(page, "reports-epi-si")

    # Another serial interval for R_t: the mean typed, the sd left to its default.
    page.fill("[data-testid=report-mean-si]", "5")
    page.click("[data-testid=report-submit]")
    page.wait_for_url(re.compile(r"mean_si=5"))
    assert "basis=report" in page.url  # the curve's basis is kept
    expect(page.locator("[data-testid=rt-si]")).to_contain_text("5.0 ± 2.0")
    expect(page.locator("[data-testid=rt-si]")).to_contain_text("自定义参数")
    assert want["custom_latest"] in page.locator("[data-testid=rt-latest]").inner_text()

    # A mistyped mean is named under its field, in both languages.
    page.fill("[data-testid=report-mean-si]", "0.5")
    page.click("[data-testid=report-submit]")
    error = page.locator("label:has([name=mean_si]) [data-testid=field-error]")
    expect(error).to_contain_text("序列间隔均值须大于 1 天")
    expect(error).to_contain_text("above 1 day")
    shot(page, "reports-epi-error")


def test_the_page_in_english(live_site, page):
    login(page, live_site, "supervisor")
    page.click("[data-testid=lang-en]")
    page.goto(live_site + "/reports/epi/")
    expect(page.locator("h2")).to_have_text("Epidemic analysis")
    expect(page.locator("[data-testid=basis-toggle]")).to_contain_text("By report date")
    expect(page.locator("[data-testid=rt-si]")).to_contain_text("Default (Omicron)")
    shot(page, "reports-epi-en")
