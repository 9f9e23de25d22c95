"""HQ reads the policy versions, compares V9 with V20 and asks what would happen to a close contact."""

import pytest

from tests.browser.conftest import login, shot

pytestmark = pytest.mark.browser


def test_hq_compares_v9_with_v20_and_plans_a_close_contact(live_site, page):
    login(page, live_site, "hq")
    assert page.locator("[data-testid=policy-in-force]").inner_text() == "V9"  # the demo's date is 2022-07-15
    page.click("nav >> text=政策版本")
    page.wait_for_url(live_site + "/policy/")
    rows = page.locator("[data-testid=policy-versions] tbody tr")
    assert [r.locator("td").first.inner_text().split()[0] for r in rows.all()] == ["V9", "V20", "V20a", "V10"]
    assert rows.first.locator("[data-testid=in-force]").inner_text() == "现行"  # the business date is 2022-07-15
    close = page.locator("[data-testid=compare-table] tr", has_text="密切接触者").first
    assert close.locator("td").nth(0).inner_text() == (
        "P1 集中隔离医学观察 7天（第1、2、3、5、7天核酸） → 居家健康监测 3天（第3天核酸）")
    assert close.locator("td").nth(1).inner_text() == (
        "P1' 集中隔离医学观察 5天（第1、2、3、5天核酸） → 居家隔离医学观察 3天（第1、3天核酸）")
    secondary = page.locator("[data-testid=compare-table] tr", has_text="次密接").first
    assert secondary.locator("td").nth(1).inner_text() == "P2' 不再判定"
    assert "changed" in (secondary.get_attribute("class") or "")

    page.select_option("[data-testid=whatif-form] select[name=category]", "close_contact")
    page.fill("[data-testid=whatif-form] input[name=anchor_date]", "2022-07-01")
    page.click("[data-testid=whatif-form] button")
    result = page.locator("[data-testid=whatif-result] article")
    result.first.wait_for()
    v9 = result.nth(0)
    assert v9.locator("header strong").inner_text() == "V9"
    assert [li.inner_text().split("\n")[0] for li in v9.locator("ol.phases > li").all()] == [
        "集中隔离医学观察 07-02–07-08", "居家健康监测 07-09–07-11"]
    assert "07-02、07-03、07-04、07-06、07-08" in v9.inner_text()
    assert "假设" in result.nth(1).inner_text()  # V20 shown as if it had been in force
    v9.locator("summary").click()
    assert "D3 第1天为起算日后第1天：2022-07-02" in v9.locator("ul.because").inner_text()
    shot(page, "policy-hq")
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("text=Versions side by side")
    shot(page, "policy-hq-en")
