"""Log in, search a person, open their file: as a grid worker on a phone and as HQ on a desk."""

import re

import pytest

from tests.browser.conftest import login, shot

pytestmark = pytest.mark.browser
MASKED_ID = re.compile(r"^\d{4}\*{10}[\dX]{4}$")
MASKED_MOBILE = re.compile(r"^\d{3}\*{4}\d{4}$")


def test_hq_logs_in_searches_a_person_and_opens_their_file(live_site, page):
    login(page, live_site, "hq")
    assert page.locator("h2").first.inner_text() == "浮山县"
    shot(page, "home-hq")
    page.fill("input[name=q]", "王")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/people/\?q="))
    first = page.locator("[data-testid=person-link]").first
    name = first.inner_text()
    assert name.startswith("王")
    row_id = page.locator("tbody tr").first.locator("td.mono").first.inner_text()
    assert MASKED_ID.match(row_id), row_id
    shot(page, "people-search")
    first.click()
    page.wait_for_url(re.compile(r"/people/\d+/$"))
    assert page.locator("[data-testid=person-name]").inner_text() == name
    assert MASKED_ID.match(page.locator("[data-testid=id-number]").inner_text())
    shot(page, "person-file")
    page.click("[data-testid=show-full]")
    page.wait_for_url(re.compile(r"\?full=1$"))
    assert re.match(r"^\d{17}[\dX]$", page.locator("[data-testid=id-number]").inner_text())


def test_grid_worker_on_a_phone_sees_only_their_grid(live_site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    login(page, live_site, "grid")
    grid_name = page.locator("h2").first.inner_text()
    assert "网格" in grid_name
    shot(page, "home-grid-mobile")
    page.goto(live_site + "/people/")
    count_text = page.locator("[data-testid=result-count]").inner_text()
    total = int(re.search(r"共 (\d+) 人", count_text).group(1))
    assert 0 < total < 3000
    page.locator("[data-testid=person-link]").first.click()
    page.wait_for_url(re.compile(r"/people/\d+/$"))
    assert grid_name in page.locator("dd").filter(has_text="›").first.inner_text()
    shot(page, "person-file-mobile")
    context.close()


def test_the_interface_switches_to_english(live_site, page):
    login(page, live_site, "hq")
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state()
    assert page.locator("nav.container-fluid").get_by_text("People", exact=True).count() == 1
    page.goto(live_site + "/people/?q=王")
    assert re.search(r"\d+ (people|person)", page.locator("[data-testid=result-count]").inner_text())
    shot(page, "people-search-en")
    page.click("[data-testid=lang-zh]")
    page.wait_for_load_state()
    assert page.locator("nav.container-fluid").get_by_text("人员档案", exact=True).count() == 1
