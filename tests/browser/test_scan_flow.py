"""Place codes end to end: a grid worker prints a venue's poster, residents scan it on their phones (green, and
yellow or red with the reasons), door staff scan a personal code, an inspector reads the day, and the person page
shows the scans. Screenshots for review go to test-artifacts/."""

import re

import pytest

from shouwang.core.masking import mask_name
from tests.browser.conftest import ARTIFACTS, live_query, login, menu, shot

pytestmark = pytest.mark.browser

# Demo people found through the database: names and ID numbers are what a resident types in.
GREEN_PERSON = """
import json
from shouwang.people.models import Person
p = (Person.objects.filter(merged_into__isnull=True, status__isnull=True, id_type="resident_id",
                           area__code__startswith="141027100001").exclude(mobile="").order_by("id")[5])
print(json.dumps({"id": p.id, "name": p.name, "id_number": p.id_number}))
"""
FACT_PERSON = """
import json
from shouwang.status.models import StatusFact
from shouwang.venues.services import person_code_get_or_issue
f = StatusFact.objects.filter(value="{value}", withdrawn_at__isnull=True).select_related("person").order_by("id")[0]
print(json.dumps({{"id": f.person_id, "name": f.person.name, "token": person_code_get_or_issue(f.person).token}}))
"""
# Someone with a status fact who scanned during the demo week (the high-risk building's residents did before it).
SCANNED_FACT_PERSON = """
import json
from shouwang.status.models import StatusFact
from shouwang.venues.models import Scan
ids = StatusFact.objects.filter(withdrawn_at__isnull=True).values("person_id")
p = Scan.objects.filter(person_id__in=ids).order_by("person_id").values_list("person_id", flat=True).first()
print(json.dumps({"id": p}))
"""
VENUE_CODES = """
import json
from shouwang.venues.models import VenueCode
revoked = VenueCode.objects.filter(revoked_at__isnull=False).select_related("venue").order_by("id")[0]
current = VenueCode.objects.get(venue=revoked.venue, revoked_at__isnull=True)
closed = VenueCode.objects.filter(venue__status="closed").select_related("venue").order_by("id")[0]
print(json.dumps({"venue": revoked.venue.name, "revoked": revoked.token, "current": current.token,
                  "closed": closed.token}))
"""


def _poster_url(page, live_site) -> tuple[str, str]:
    """As the grid worker: the first venue of the list, its detail page and its poster; returns (name, QR url)."""
    page.goto(live_site + "/venues/?category=supermarket")
    if page.locator("[data-testid=venue-link]").count() == 0:
        page.goto(live_site + "/venues/")
    link = page.locator("[data-testid=venue-link]").first
    name = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/venues/\d+/$"))
    assert page.locator("[data-testid=venue-name]").inner_text() == name
    page.click("[data-testid=venue-poster]")
    page.wait_for_url(re.compile(r"/poster/$"))
    url = page.locator("[data-testid=poster-url]").inner_text()
    assert url.startswith(live_site + "/s/")
    return name, url


def test_grid_worker_registers_a_venue_and_prints_its_poster(live_site, page):
    login(page, live_site, "grid")
    menu(page, "venues", "场所与场所码")
    page.wait_for_url(live_site + "/venues/")
    count = int(re.search(r"共 (\d+) 个场所", page.locator("[data-testid=venue-count]").inner_text()).group(1))
    assert 0 < count < 100  # the grid worker's own grid only
    shot(page, "venues-grid")
    page.click("[data-testid=venue-new]")
    page.fill("input[name=name]", "锦绣便民超市（测试）")
    page.select_option("select[name=category]", "supermarket")
    page.select_option("select[name=area_id]", index=1)
    page.fill("input[name=address]", "浮山县天坛镇府前街88号")
    page.fill("input[name=manager_name]", "刘洋")
    page.fill("input[name=manager_mobile]", "1381234")
    page.click("[data-testid=venue-save]")
    assert page.locator("small.error").first.inner_text() == "手机号应为11位数字"
    shot(page, "venue-form-error")
    page.fill("input[name=manager_mobile]", "13812345678")
    page.click("[data-testid=venue-save]")
    page.wait_for_url(re.compile(r"/venues/\d+/$"))
    assert page.locator("[data-testid=venue-name]").inner_text() == "锦绣便民超市（测试）"
    assert page.locator("[data-testid=venue-qr] svg").count() == 1
    shot(page, "venue-detail")
    with page.expect_download() as png:
        page.click("[data-testid=qr-png]")
    assert png.value.suggested_filename == "场所码-锦绣便民超市（测试）.png"
    with page.expect_download() as pdf:
        page.click("[data-testid=qr-pdf]")
    assert pdf.value.suggested_filename.endswith(".pdf")
    page.click("[data-testid=venue-poster]")
    page.wait_for_url(re.compile(r"/poster/$"))
    assert page.locator("[data-testid=poster-name]").inner_text() == "锦绣便民超市（测试）"
    assert "进门请扫场所码" in page.locator("[data-testid=poster]").inner_text()
    box = page.locator("[data-testid=poster-qr]").bounding_box()
    assert box["width"] > 400 and abs(box["width"] - box["height"]) < 2  # a big, square QR
    sheet = page.locator("[data-testid=poster]").bounding_box()
    bottom = page.locator("[data-testid=poster-url]").bounding_box()
    assert bottom["y"] + bottom["height"] <= sheet["y"] + sheet["height"]  # everything fits on the A4 sheet
    shot(page, "venue-poster")
    page.emulate_media(media="print")
    shot(page, "venue-poster-print")
    printed = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", printed)) == 1  # one A4 sheet
    (ARTIFACTS / "venue-poster.pdf").write_bytes(printed)


def test_a_resident_identifies_on_a_phone_scans_and_sees_green(live_site, live_env, page, phone):
    login(page, live_site, "grid")
    venue, url = _poster_url(page, live_site)
    person = live_query(live_env, GREEN_PERSON)
    phone.goto(url)
    assert phone.locator("[data-testid=resident-venue]").inner_text() == venue
    phone.fill("[data-testid=resident-name-input]", person["name"] + "某")
    phone.fill("[data-testid=resident-id-input]", person["id_number"])
    phone.click("[data-testid=identify]")
    error = phone.locator("[data-testid=resident-error]").inner_text()
    assert "姓名与证件号码不匹配" in error and "do not match" in error
    shot(phone, "resident-identify-error")
    phone.fill("[data-testid=resident-name-input]", person["name"])
    phone.click("[data-testid=identify]")
    phone.wait_for_url(re.compile(r"/s/[\w-]+/done/\d+$"))
    card = phone.locator("[data-testid=status-card]")
    assert card.get_attribute("data-colour") == "green"
    assert phone.locator("[data-testid=status-colour]").inner_text() == "绿码"
    assert phone.locator("[data-testid=status-venue]").inner_text() == venue
    assert phone.locator("[data-testid=status-time]").inner_text().startswith("2022-07-15 ")
    shot(phone, "resident-status-green")
    phone.click("[data-testid=lang-en]")
    phone.wait_for_selector("text=Checked in at")
    assert phone.locator("[data-testid=status-colour]").inner_text() == "Green"
    shot(phone, "resident-status-green-en")
    phone.click("[data-testid=lang-zh]")
    phone.wait_for_selector("text=登记时间")
    # The next scan on this phone is one tap.
    phone.goto(url)
    assert phone.locator("[data-testid=resident-name]").inner_text() == mask_name(person["name"])
    shot(phone, "resident-checkin")
    phone.click("[data-testid=checkin]")
    phone.wait_for_url(re.compile(r"/done/\d+$"))
    phone.click("[data-testid=my-code]")
    phone.wait_for_url(re.compile(r"/me/[\w-]+$"))
    assert phone.locator("[data-testid=my-qr] svg").count() == 1
    assert phone.locator("[data-testid=my-scans] tr").count() >= 2
    shot(phone, "resident-my-code")


def test_residents_with_facts_see_their_colour_and_reasons(live_site, live_env, phone):
    codes = live_query(live_env, VENUE_CODES)
    yellow = live_query(live_env, FACT_PERSON.format(value="home_health_monitoring"))
    phone.goto(f"{live_site}/me/{yellow['token']}")
    assert phone.locator("[data-testid=me-card]").get_attribute("data-colour") == "yellow"
    assert "居家健康监测" in phone.locator("[data-testid=status-reasons]").inner_text()
    assert "预计 2022-07-18 起转码" in phone.locator("[data-testid=status-changes]").inner_text()
    shot(phone, "resident-me-yellow")
    phone.goto(f"{live_site}/s/{codes['current']}")
    phone.click("[data-testid=checkin]")
    phone.wait_for_url(re.compile(r"/done/\d+$"))
    assert phone.locator("[data-testid=status-card]").get_attribute("data-colour") == "yellow"
    assert phone.locator("[data-testid=status-venue]").inner_text() == codes["venue"]
    assert "居家健康监测中" in phone.locator("[data-testid=status-detail]").inner_text()
    shot(phone, "resident-status-yellow")

    red = live_query(live_env, FACT_PERSON.format(value="close_contact"))
    phone.goto(f"{live_site}/me/{red['token']}")  # another resident on the same phone: the cookie follows /me/
    phone.goto(f"{live_site}/s/{codes['current']}")
    phone.click("[data-testid=checkin]")
    phone.wait_for_url(re.compile(r"/done/\d+$"))
    assert phone.locator("[data-testid=status-colour]").inner_text() == "红码"
    assert "密切接触者" in phone.locator("[data-testid=status-reasons]").inner_text()
    shot(phone, "resident-status-red")

    phone.goto(f"{live_site}/s/{codes['revoked']}")
    assert "该场所码已作废" in phone.locator("[data-testid=error-message]").inner_text()
    shot(phone, "resident-code-revoked")
    phone.goto(f"{live_site}/s/{codes['closed']}")
    assert phone.locator("[data-testid=error-message]").inner_text() == "该场所已关闭"
    phone.goto(f"{live_site}/s/not-a-code")
    assert phone.locator("[data-testid=error-message]").inner_text() == "场所码无效"
    phone.click("[data-testid=lang-en]")
    phone.wait_for_selector("text=unknown place code")
    shot(phone, "resident-code-unknown-en")


def test_door_staff_scan_a_personal_code_on_a_phone(live_site, live_env, phone):
    red = live_query(live_env, FACT_PERSON.format(value="high"))  # lives in the high-risk building
    green = live_query(live_env, GREEN_PERSON)
    login(phone, live_site, "checkpoint")
    phone.goto(live_site + "/scan/?pick=1")
    phone.fill("[data-testid=scan-venue-q]", "卡口")
    phone.press("[data-testid=scan-venue-q]", "Enter")
    phone.locator("[data-testid=scan-venue]").first.click()
    assert "卡口" in phone.locator("[data-testid=scan-venue-name]").inner_text()
    shot(phone, "staff-scan-form")
    phone.fill("[data-testid=person-code]", f"{live_site}/me/{red['token']}")
    phone.fill("[data-testid=temperature]", "36.6")
    phone.click("[data-testid=scan-submit]")
    result = phone.locator("[data-testid=scan-result]")
    assert result.get_attribute("data-colour") == "red"
    assert phone.locator("[data-testid=scan-person]").inner_text() == mask_name(red["name"])
    assert "不得进入" in phone.locator("[data-testid=scan-advice]").inner_text()
    shot(phone, "staff-scan-red")
    token = live_query(live_env, f"""
import json
from shouwang.people.models import Person
from shouwang.venues.services import person_code_get_or_issue
print(json.dumps(person_code_get_or_issue(Person.objects.get(id={green['id']})).token))
""")
    phone.fill("[data-testid=person-code]", token)
    phone.fill("[data-testid=temperature]", "37.8")
    phone.click("[data-testid=scan-submit]")
    assert phone.locator("[data-testid=scan-result]").get_attribute("data-colour") == "green"
    assert phone.locator("[data-testid=fever]").is_visible()
    shot(phone, "staff-scan-fever")
    phone.click("[data-testid=lang-en]")
    phone.wait_for_selector("text=Scanning at")
    phone.fill("[data-testid=person-code]", "no-such-code")
    phone.click("[data-testid=scan-submit]")
    assert "Unknown personal code" in phone.locator("[data-testid=scan-error]").inner_text()
    shot(phone, "staff-scan-error-en")


def test_inspector_reads_the_day_and_the_person_page_shows_scans(live_site, live_env, page):
    login(page, live_site, "supervisor")
    menu(page, "venues", "查验后台")
    page.wait_for_url(live_site + "/venues/inspect/")
    assert int(page.locator("[data-testid=scan-total]").inner_text().replace(",", "")) > 1000
    assert page.locator("[data-testid=admitted-table] tbody tr").count() >= 1
    assert page.locator("#hour-chart svg").count() == 1  # ECharts drew the bars
    assert page.locator("[data-testid=hour-table] tbody tr").count() == 15
    assert page.locator("[data-testid=gaps-table] tbody tr").count() > 10
    shot(page, "venue-inspect")
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("text=Scans by hour")
    shot(page, "venue-inspect-en")
    page.click("[data-testid=lang-zh]")
    page.wait_for_load_state()

    person = live_query(live_env, SCANNED_FACT_PERSON)
    page.context.clear_cookies()
    login(page, live_site, "hq")
    page.goto(f"{live_site}/people/{person['id']}/")
    assert page.locator("[data-testid=person-colour]").get_attribute("data-colour") in ("red", "yellow")
    assert page.locator("[data-testid=status-reasons] li").count() >= 1
    assert page.locator("[data-testid=person-scans] tbody tr").count() >= 1
    shot(page, "person-status-scans")
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("text=Health status")
    shot(page, "person-status-scans-en")
