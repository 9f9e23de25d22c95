"""Tracing end to end: a case is reported (through the service, in the live site's database) for a demo person who
scanned venues in the last days, so its household and place-code companions are proposed; HQ finds it in the case
list, accepts the proposals on the case's page (htmx swaps the contacts section), moves one contact on, reads the
page on a phone, and opens the graph of the case's chain with the contacts in it.

The demo county may or may not hold tracing data of its own: the test reports a case of its own for someone who
is neither a case nor a contact yet."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import live_query, login, shot

pytestmark = pytest.mark.browser

# A person of the county with scans in the last three days who shares a venue within 30 minutes with at least
# two others and is neither a case nor an open contact, reported as a confirmed case with onset yesterday.
REPORT = """
import datetime as dt
import json
from django.db.models import Q
from django.utils import timezone
from shouwang.accounts.models import User
from shouwang.core import clock
from shouwang.core.masking import mask_name
from shouwang.tracing.enums import ACTIVE_CASE_STATES
from shouwang.tracing.models import Case, Contact
from shouwang.tracing.services import CaseInput, case_create
from shouwang.venues.models import Scan
hq = User.objects.get(username="hq")
today = clock.today()
start = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=2), dt.time()))
busy = set(Case.objects.filter(state__in=list(ACTIVE_CASE_STATES)).values_list("person_id", flat=True))
busy |= set(Contact.objects.exclude(state__in=["released", "rejected", "became_case"])
            .values_list("person_id", flat=True))
chosen = None
scans = Scan.objects.filter(scanned_at__gte=start).select_related("person").order_by("person_id", "scanned_at")
seen = set()
for scan in scans.iterator():
    pid = scan.person_id
    if pid in busy or pid in seen or scan.person.merged_into_id:
        continue
    seen.add(pid)
    near = Q()
    for s in Scan.objects.filter(person_id=pid, scanned_at__gte=start):
        near |= Q(venue_id=s.venue_id, scanned_at__gte=s.scanned_at - dt.timedelta(minutes=30),
                  scanned_at__lte=s.scanned_at + dt.timedelta(minutes=30))
    others = set(Scan.objects.filter(near).exclude(person_id=pid).values_list("person_id", flat=True)) - busy
    if len(others) >= 2:
        chosen = scan.person
        break
    if len(seen) > 400:
        break
report = case_create(actor=hq, data=CaseInput(
    person_id=chosen.id, found_by="fever_clinic", classification="confirmed", clinical_type="mild",
    onset_date=today - dt.timedelta(days=1), sampling_date=today, isolated_on=today))
case = report.case
mine = Contact.objects.filter(Q(case=case) | Q(exposures__case=case)).distinct().select_related("person")
proposed = [c for c in mine if c.state == "proposed"]
print(json.dumps({"id": case.id, "code": case.code, "events": report.events, "proposed": len(proposed),
                  "masked": [mask_name(c.person.name) for c in proposed], "name": mask_name(chosen.name),
                  "decided": len([c for c in mine if c.state != "proposed"]),
                  "listed": Contact.objects.filter(case=case, state="proposed").count()}))
"""


def test_hq_accepts_the_proposed_contacts_of_a_case_and_sees_them_on_the_chain_graph(live_site, live_env, page,
                                                                                      phone):
    case = live_query(live_env, REPORT)
    assert case["proposed"] >= 2 and case["events"] >= 1
    login(page, live_site, "hq")
    page.click("[data-testid=nav-group-tracing]")
    page.click("[data-testid=nav-tracing]")
    page.wait_for_url(f"{live_site}/tracing/")
    page.fill("[data-testid=case-q]", case["code"])
    page.locator("[data-testid=case-filters] button").click()
    row = page.locator(f"[data-testid=case-row][data-code='{case['code']}']")
    expect(row.locator("[data-testid=clock]")).to_have_attribute("data-state", "open")
    assert row.locator("[data-testid=case-name]").inner_text() == case["name"]
    expect(row.locator("[data-testid=case-contacts]")).to_contain_text(f"待确认 {case['listed']}")
    shot(page, "tracing-cases")
    row.locator("[data-testid=case-link]").click()
    page.wait_for_url(f"{live_site}/tracing/cases/{case['id']}/")
    assert page.locator("[data-testid=case-code]").inner_text() == case["code"]
    expect(page.locator("[data-testid=clock-card] [data-testid=clock]")).to_contain_text("剩余")
    assert page.locator("[data-testid=proposal]").count() == case["proposed"]
    assert page.locator("[data-testid=event-row]").count() == case["events"]
    assert sorted(page.locator("[data-testid=proposal-name]").all_inner_texts()) == sorted(case["masked"])
    shot(page, "tracing-case")

    login(phone, live_site, "hq")
    phone.goto(f"{live_site}/tracing/cases/{case['id']}/")
    expect(phone.locator("[data-testid=proposal]").first).to_be_visible()
    shot(phone, "tracing-case-phone")

    page.locator("[data-testid=proposed-all]").check()
    page.locator("[data-testid=accept]").click()
    done = page.locator("[data-testid=contacts-done]")
    expect(done).to_contain_text(f"已确认密接 {case['proposed']} 人")
    assert page.url == f"{live_site}/tracing/cases/{case['id']}/"  # swapped in place
    rows = page.locator("[data-testid=contact-row]")
    expect(rows).to_have_count(case["proposed"] + case["decided"])
    accepted = page.locator("[data-testid=contact-row][data-state=identified]")
    assert sorted(accepted.locator("[data-testid=contact-name]").all_inner_texts()) == sorted(case["masked"])
    first = accepted.first
    contact_id = first.get_attribute("data-contact")
    first.locator("[data-testid=advance][data-state=transferred]").click()
    expect(page.locator("[data-testid=contacts-done]")).to_contain_text("已转运")
    moved = page.locator(f"#contact-{contact_id}")
    expect(moved).to_have_attribute("data-state", "transferred")
    assert moved.locator("[data-testid=contact-state]").inner_text() == "已转运"
    shot(page, "tracing-case-accepted")
    phone.reload()
    expect(phone.locator("[data-testid=contact-row]")).to_have_count(case["proposed"] + case["decided"])
    shot(phone, "tracing-case-phone-accepted")

    page.click("[data-testid=chain-link]")
    page.wait_for_url(re.compile(rf"/tracing/cases/{case['id']}/chain/$"))
    expect(page.locator("#chain-graph canvas")).to_have_count(1)
    cases = page.locator("[data-testid=node-row][data-kind=case] [data-testid=node-name] a")
    assert case["code"] in cases.all_inner_texts()
    close = page.locator("[data-testid=node-row][data-kind=close] [data-testid=node-name]").all_inner_texts()
    assert set(case["masked"]) <= set(close)
    assert page.locator("[data-testid=node-row][data-kind=close][data-controlled='1']").count() >= 1
    shot(page, "tracing-chain")
    page.click("nav.crumbs >> text=传播链")
    page.wait_for_url(f"{live_site}/tracing/chains/")
    expect(page.locator("[data-testid=chain-row]").first).to_be_visible()
    shot(page, "tracing-chains")
    page.go_back()
    page.wait_for_url(re.compile(rf"/tracing/cases/{case['id']}/chain/$"))
    cases.filter(has_text=case["code"]).click()
    page.wait_for_url(f"{live_site}/tracing/cases/{case['id']}/")
    page.click("[data-testid=lang-en]")
    expect(page.locator("[data-testid=clock-card]")).to_contain_text("h left")
    expect(page.locator("#identified")).to_contain_text("Identified contacts")
    shot(page, "tracing-case-en")
    page.click("[data-testid=lang-zh]")
    expect(page.locator("#identified")).to_contain_text("已判定密接")
    page.click("nav.crumbs >> text=流调溯源")
    page.click("[data-testid=tracing-nav] >> text=流调任务")
    page.wait_for_url(f"{live_site}/tracing/work/")
    shot(page, "tracing-work")
