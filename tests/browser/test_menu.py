"""The top bar's menu groups: one open at a time, a click elsewhere closes it, each role sees only its groups, and
it fits a phone."""

import pytest

from tests.browser.conftest import login, shot

pytestmark = pytest.mark.browser


def test_menu_groups_open_one_at_a_time_and_follow_the_role(live_site, page, phone):
    login(page, live_site, "hq")
    groups = page.locator("header nav summary")
    assert groups.all_inner_texts() == ["人员与区划", "场所码", "核酸检测", "流调溯源", "隔离管控", "风险区"]
    page.click("[data-testid=nav-group-testing]")
    testing = page.locator("header nav details[open] a")
    assert testing.all_inner_texts() == ["检测轮次", "采样登记", "实验室", "采样点", "检测能力", "检测规划"]
    shot(page, "menu-testing-open")
    page.click("[data-testid=nav-group-tracing]")
    assert page.locator("header nav details[open] summary").all_inner_texts() == ["流调溯源"]
    page.click("main")
    assert page.locator("header nav details[open]").count() == 0

    login(phone, live_site, "sampler")
    assert phone.locator("header nav summary").all_inner_texts() == ["人员与区划", "场所码", "核酸检测"]
    phone.click("[data-testid=nav-group-testing]")
    assert phone.locator("header nav details[open] a").all_inner_texts() == ["采样登记"]
    shot(phone, "menu-sampler-phone")
    phone.click("header nav details[open] >> text=采样登记")
    phone.wait_for_url(live_site + "/testing/sample/")
