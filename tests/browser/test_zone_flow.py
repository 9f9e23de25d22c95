"""Risk zones at HQ: the demo's latest proposal (or one made through the services over the home of a case when the
demo has none) is found on /zones/, approved on its page, and then drawn in force on the map (the map's data carries
the zone's area with its level, and the shape is painted red) and listed in force with its clock; the pages fit a
phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import live_query, login, menu, shot

pytestmark = pytest.mark.browser

# The latest proposal of the demo; without one, a high-risk zone proposed over the village of the latest case.
PROPOSAL = """
import json
from shouwang.accounts.models import User
from shouwang.areas.models import Area
from shouwang.zones.models import CaseReport, Zone
from shouwang.zones.selectors import zone_scopes
from shouwang.zones.services import CaseRef, zone_propose
zone = Zone.objects.filter(state="proposed").order_by("-proposed_at", "-id").first()
if zone is None:  # the village of the latest case that no open zone touches, else any such village
    taken = [za.area.path for z in Zone.objects.filter(state__in=["proposed", "in_force"]) for za in z.areas.all()]
    free = lambda v: not any(p.startswith(v.path) or v.path.startswith(p) for p in taken)
    villages = [a for case in CaseReport.objects.order_by("-found_on", "-id")
                for a in Area.objects.filter(path__in=Area.ancestor_paths(case.area.path), level="village")]
    village = next((v for v in villages + list(Area.objects.filter(level="village").order_by("path")) if free(v)))
    case = CaseReport.objects.order_by("-found_on", "-id").first()
    zone = zone_propose(actor=User.objects.get(username="hq"), kind="high", area_ids=[village.id], reason="浏览器测试",
                        cases=[CaseRef(case.code, case.found_on, case.context, case.area_id)] if case else [])
areas = zone_scopes([zone.id])[zone.id]
print(json.dumps({"id": zone.id, "code": zone.code, "kind": zone.kind, "areas": [a.code for a in areas]}))
"""

MAP_FEATURE = """([id, code]) => {
  const data = JSON.parse(document.getElementById(id + "-data").textContent);
  const f = data.shapes.features.find((x) => x.properties.code === code);
  return f ? {zone: f.properties.zone, zone_id: f.properties.zone_id, label: f.properties.zone_label} : null;
}"""

PAINTED = """([id, colours]) => Array.from(document.querySelectorAll("#" + id + " svg path"))
  .filter((p) => colours.includes((p.getAttribute("fill") || "").replace(/\\s/g, ""))).length"""
LEVELS = {"high": ("高风险区", ["#d32f2f", "rgb(211,47,47)"]), "medium": ("中风险区", ["#fb8c00", "rgb(251,140,0)"])}


def test_hq_approves_a_proposal_and_sees_it_in_force_on_the_map(live_site, live_env, page, phone):
    zone = live_query(live_env, PROPOSAL)
    label, colours = LEVELS[zone["kind"]]
    login(page, live_site, "hq")
    menu(page, "zones", "风险区地图与审批")
    page.wait_for_url(live_site + "/zones/")
    row = page.locator(f"[data-testid=proposed-row][data-code='{zone['code']}']")
    expect(row).to_be_visible()
    assert f"{zone['code']}（{label}，待审批）" in page.evaluate(MAP_FEATURE, ["zones-map", zone["areas"][0]])["label"]
    shot(page, "zones-proposed")

    row.locator(f"a:text('{zone['code']}')").click()
    page.wait_for_url(f"{live_site}/zones/{zone['id']}/")
    expect(page.locator("[data-testid=zone-state]")).to_have_attribute("data-state", "proposed")
    expect(page.locator("[data-testid=clock-next]")).to_be_visible()
    page.click("[data-testid=approve-save]")
    expect(page.locator("body")).to_contain_text(f"{zone['code']} 已批准划定为{label}，通告已生成")
    expect(page.locator("[data-testid=zone-state]")).to_have_attribute("data-state", "in_force")
    expect(page.locator("[data-testid=announcement-text]")).to_contain_text(f"关于划定{label}的通告（{zone['code']}）")
    expect(page.locator("[data-testid=clock-eligible]")).to_have_text(page.locator(
        "[data-testid=clock-step]").first.get_attribute("data-eligible"))
    shot(page, "zone-approved")

    page.goto(live_site + "/zones/")
    feature = page.evaluate(MAP_FEATURE, ["zones-map", zone["areas"][0]])
    assert (feature["zone"], feature["zone_id"]) == (zone["kind"], zone["id"])
    assert f"{zone['code']}（{label}）" in feature["label"]
    assert page.evaluate(MAP_FEATURE, ["zones-close-map", zone["areas"][0]])["zone"] == zone["kind"]
    assert page.evaluate(PAINTED, ["zones-map", colours]) >= 1  # the zone's shape is drawn in its level's colour
    in_force = page.locator(f"[data-testid=in-force-row][data-code='{zone['code']}']")
    expect(in_force).to_have_attribute("data-level", zone["kind"])
    expect(in_force.locator("[data-testid=row-clock]")).to_have_text("未到期")
    expect(page.locator(f"[data-testid=proposed-row][data-code='{zone['code']}']")).to_have_count(0)
    expect(page.locator(f"[data-testid=status-zones] [data-level={zone['kind']}]")).to_contain_text(label)
    shot(page, "zones-in-force")

    login(phone, live_site, "hq")
    phone.goto(live_site + "/zones/")
    expect(phone.locator(f"[data-testid=in-force-row][data-code='{zone['code']}']")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways
    shot(phone, "zones-phone")
    phone.goto(f"{live_site}/zones/{zone['id']}/")
    expect(phone.locator("#lift > summary")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "zone-phone")

    public = phone.context.browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
    public.goto(live_site + "/public/zones/")
    expect(public.locator(f"[data-testid=public-zone][data-code='{zone['code']}']")).to_be_visible()
    shot(public, "zones-public-phone")
    public.context.close()
