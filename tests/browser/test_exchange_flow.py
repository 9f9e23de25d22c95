"""Excel in and out through the pages: blank template, trial run, apply, export; the area tree; the audit log.

Every test here stands on its own against the shared demo county (the imports use ID numbers of their own), so
any one of them can run alone.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from shouwang.people.identifiers import make_resident_id
from tests.browser.conftest import login, menu, shot

pytestmark = pytest.mark.browser
COUNTY_CODE = "141027"  # 浮山县
MASKED_ID = re.compile(r"^\d{4}\*{10}[\dX]{4}$")
MASKED_MOBILE = re.compile(r"^\d{3}\*{4}\d{4}$")
GRID_1 = "天坛镇 / 城关社区 / 城关社区第一网格"
GRID_2 = "天坛镇 / 城关社区 / 城关社区第二网格"

# (楼栋, 单元, 房号, 姓名, birth date, sequence, 联系电话, 人员类别) of a new compound's residents.
RESIDENTS = [
    ("1", "1", "101", "欧阳明远", dt.date(1958, 3, 14), 911, "13835712345", "独居老人"),
    ("1", "1", "102", "欧阳清漪", dt.date(1986, 7, 2), 912, "13935712346", ""),
    ("1", "1", "102", "欧阳思齐", dt.date(2012, 11, 30), 913, "", "学生"),
    ("2号楼", "1单元", "201", "司马云舒", dt.date(1979, 1, 8), 914, "15035712347", "流动人口"),
    ("2号楼", "1单元", "201", "司马景行", dt.date(2016, 5, 21), 915, "", ""),
]


def resident_id(birth: dt.date, sequence: int) -> str:
    return make_resident_id(COUNTY_CODE, birth, sequence)


def with_wrong_check_character(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


def download_template(page, tmp_path: Path) -> Path:
    """The blank 常住人口信息汇总表 from the imports page, as the browser saves it."""
    with page.expect_download() as info:
        page.click("[data-testid=template-residents]")
    download = info.value
    assert download.suggested_filename == "常住人口信息汇总表模板.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path


def fill_template(template: Path, out: Path, sheet_name: str, rows: list[tuple]) -> Path:
    """Type rows under the template's heading row, the way a community worker fills it in Excel."""
    wb = load_workbook(template)
    ws = wb.worksheets[0]
    ws.title = sheet_name
    columns = {cell.value: cell.column for cell in ws[2] if cell.value}
    assert list(columns) == ["楼栋", "单元", "房号", "姓名", "身份证号", "联系电话", "人员类别", "备注"]
    for offset, values in enumerate(rows):
        for name, value in zip(["楼栋", "单元", "房号", "姓名", "身份证号", "联系电话", "人员类别"], values, strict=True):
            ws.cell(row=3 + offset, column=columns[name], value=value or None)
    wb.save(out)
    return out


def upload(page, path: Path, grid_label: str) -> None:
    """Choose the layout and the grid, upload, and land on the trial-run report."""
    page.check("input[name=kind][value=residents]")
    page.select_option("[data-testid=import-area]", label=grid_label)
    page.set_input_files("[data-testid=import-file]", str(path))
    page.click("[data-testid=import-dry-run]")
    page.wait_for_url(re.compile(r"/imports/[0-9a-f]{32}/$"))


def stat_values(page, container: str) -> dict[str, str]:
    """{label: number} of a row of stat cards."""
    cards = page.locator(f"{container} article")
    return {cards.nth(i).locator("small").inner_text(): cards.nth(i).locator("strong").inner_text()
            for i in range(cards.count())}


def result_count(page) -> int:
    text = page.locator("[data-testid=result-count]").inner_text()
    return int(re.search(r"共 ([\d,]+) 人", text).group(1).replace(",", ""))


def test_grid_worker_imports_a_filled_template_and_finds_the_people(live_site, page, tmp_path):
    login(page, live_site, "grid")
    page.goto(live_site + "/imports/")
    expect(page.locator("h2")).to_have_text("导入人员名单")
    # A grid worker may import into their own grid only.
    assert page.locator("[data-testid=import-area] option").all_inner_texts() == ["请选择网格", GRID_1]
    shot(page, "imports")
    template = download_template(page, tmp_path)
    rows = [(b, u, r, name, resident_id(birth, seq), mobile, category)
            for b, u, r, name, birth, seq, mobile, category in RESIDENTS]
    filled = fill_template(template, tmp_path / "滨河苑居民.xlsx", "滨河苑", rows)

    upload(page, filled, GRID_1)
    expect(page.locator("h2")).to_have_text("试导入结果")
    expect(page.locator("main p.muted").first).to_contain_text("滨河苑居民.xlsx · 常住人口信息汇总表 · 导入到 城关社区第一网格")
    assert page.locator("[data-testid=total-rows]").inner_text() == "5"
    assert page.locator("[data-testid=valid-rows]").inner_text() == "5"
    assert page.locator("[data-testid=bad-rows]").inner_text() == "0"
    expect(page.get_by_role("status")).to_have_text("5 行全部无误，可以导入。")
    # The new sheet becomes a compound of the grid.
    sheets = page.locator("[data-testid=import-sheets] tbody tr")
    assert [tuple(tr.locator("td").all_inner_texts()) for tr in sheets.all()] == [("滨河苑", "5", "小区")]
    assert page.locator("[data-testid=import-errors]").count() == 0
    shot(page, "import-report")

    page.click("[data-testid=import-apply]")
    page.wait_for_url(re.compile(r"/imports/[0-9a-f]{32}/$"))
    expect(page.locator("h2")).to_have_text("导入完成")
    assert stat_values(page, "[data-testid=import-result]") == {
        "新增人员": "5", "新增户": "3", "新增小区": "1", "新增楼栋": "2", "新增单元": "2"}
    shot(page, "import-result")
    # The report page of an applied import shows the result; confirming twice is impossible.
    page.reload()
    expect(page.locator("[data-testid=people-created]")).to_have_text("5")
    assert page.locator("[data-testid=import-apply]").count() == 0

    page.goto(live_site + "/people/")
    page.fill("[data-testid=person-q]", "司马云舒")
    page.click("[data-testid=person-search]")
    expect(page.locator("[data-testid=result-count]")).to_contain_text("共 1 人")
    row = page.locator("tbody tr").first
    assert row.locator("[data-testid=person-link]").inner_text() == "司马云舒"
    assert row.locator("td.mono").first.inner_text() == "1410**********" + resident_id(*RESIDENTS[3][4:6])[-4:]
    assert row.locator("td.mono").nth(1).inner_text() == "150****2347"
    row.locator("[data-testid=person-link]").click()
    page.wait_for_url(re.compile(r"/people/\d+/$"))
    expect(page.locator("[data-testid=person-name]")).to_have_text("司马云舒")
    chain = page.locator("dd").filter(has_text="›").first.inner_text()
    assert chain.endswith("城关社区第一网格 › 滨河苑 › 2号楼 › 1单元"), chain
    assert "流动人口" in page.locator("[data-testid=person-file] header .muted").inner_text()
    expect(page.locator(".chips")).to_contain_text("司马景行")
    shot(page, "person-file-imported")


def test_a_file_with_errors_lists_every_bad_cell_and_cannot_be_confirmed(live_site, page, tmp_path):
    login(page, live_site, "community")
    page.goto(live_site + "/imports/")
    template = download_template(page, tmp_path)
    good = resident_id(dt.date(1990, 2, 3), 921)
    rows = [
        ("3", "1", "301", "上官若水", good, "13835700001", ""),
        ("3", "1", "302", "上官若谷", with_wrong_check_character(resident_id(dt.date(1992, 4, 5), 923)), "", ""),
        ("3", "1", "303", "上官若云", resident_id(dt.date(1993, 6, 7), 925), "12035700003", ""),
        ("3", "1", "304", "", resident_id(dt.date(1994, 8, 9), 927), "", ""),
        ("3", "2", "401", "上官若风", good, "", ""),
        ("3", "2", "402", "上官若雨", resident_id(dt.date(1995, 10, 11), 929), "", "重点人员"),
        ("3", "2", "403", "上官若雷", resident_id(dt.date(1996, 12, 13), 931), "", ""),
    ]
    filled = fill_template(template, tmp_path / "有错误.xlsx", "翠湖苑", rows)

    upload(page, filled, GRID_2)
    expect(page.locator("h2")).to_have_text("试导入结果")
    assert page.locator("[data-testid=total-rows]").inner_text() == "7"
    assert page.locator("[data-testid=valid-rows]").inner_text() == "2"
    assert page.locator("[data-testid=bad-rows]").inner_text() == "5"
    expect(page.locator("[data-testid=not-importable]")).to_have_text(
        "发现 5 处错误。请在Excel中改正后重新上传；有错误时不会导入任何一行。")
    assert page.locator("[data-testid=import-apply]").count() == 0
    assert page.get_by_role("button", name="确认导入").count() == 0

    table = page.locator("[data-testid=import-errors]")
    assert table.locator("thead th").all_inner_texts() == ["工作表", "行", "列", "内容", "原因"]
    found = [tuple(tr.locator("td").all_inner_texts()) for tr in table.locator("tbody tr").all()]
    expected_check = resident_id(dt.date(1992, 4, 5), 923)[17]
    assert found == [
        ("翠湖苑", "4", "身份证号", with_wrong_check_character(resident_id(dt.date(1992, 4, 5), 923)),
         f"身份证号校验位错误（应为{expected_check}）"),
        ("翠湖苑", "5", "联系电话", "12035700003", "手机号号段120不存在"),
        ("翠湖苑", "6", "姓名", "（空）", "姓名不能为空"),
        ("翠湖苑", "7", "身份证号", good, "身份证号与工作表“翠湖苑”第3行重复"),
        ("翠湖苑", "8", "人员类别", "重点人员", "人员类别“重点人员”不是可选值（人口类别只能填一个）"),
    ]
    shot(page, "import-report-errors")

    # The same list as a workbook to work through.
    with page.expect_download() as info:
        page.click("[data-testid=errors-xlsx]")
    assert info.value.suggested_filename == "错误清单_有错误.xlsx"
    ws = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    listed = list(ws.iter_rows(values_only=True))
    assert listed[0] == ("工作表", "行号", "列", "内容", "错误代码", "原因", "Reason")
    assert [(r[1], r[2], r[4]) for r in listed[1:]] == [
        (4, "身份证号", "id_number_checksum"), (5, "联系电话", "mobile_prefix"), (6, "姓名", "required"),
        (7, "身份证号", "duplicate_in_file"), (8, "人员类别", "invalid_choice")]

    # Nothing was imported, not even the good rows.
    page.goto(live_site + "/people/?q=上官若")
    expect(page.locator("[data-testid=result-count]")).to_contain_text("共 0 人")


def _export_rows(body: bytes) -> tuple[str, list[dict]]:
    rows = list(load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True))
    header = rows[1]
    return rows[0][0], [dict(zip(header, r, strict=True)) for r in rows[2:]]


def test_grid_worker_exports_their_people_with_masked_ids(live_site, page):
    login(page, live_site, "grid")
    page.goto(live_site + "/people/")
    total = result_count(page)
    with page.expect_download() as info:
        page.click("[data-testid=export]")
    download = info.value
    assert re.fullmatch(r"人员名单_\d{8}\.xlsx", download.suggested_filename), download.suggested_filename
    title, people = _export_rows(Path(download.path()).read_bytes())
    assert "证件号码和手机号已打码" in title and "导出人：" in title
    assert len(people) == total
    assert {p["所属网格"] for p in people} == {"城关社区第一网格"}
    for p in people:
        assert "*" in p["证件号码"], p
        if p["证件类型"] == "居民身份证":
            assert MASKED_ID.match(p["证件号码"]), p
        assert p["手机号"] is None or MASKED_MOBILE.match(p["手机号"]), p
    # Asking for the full list does not unmask it for a grid worker.
    response = page.request.get(live_site + "/people/export.xlsx?full=1")
    assert response.ok
    _, people = _export_rows(response.body())
    assert len(people) == total
    assert all("*" in p["证件号码"] for p in people)


def crumb_texts(page) -> tuple[list[str], list[str]]:
    """(every crumb, the crumbs that are links): areas above the user's jurisdiction are not links."""
    crumbs = page.locator("[data-testid=breadcrumb]")
    return crumbs.locator("li").all_inner_texts(), crumbs.locator("a").all_inner_texts()


def _children(page) -> dict[str, tuple[int, int]]:
    """{name: (households, people)} of the child-area table."""
    out = {}
    for tr in page.locator("[data-testid=area-children] tbody tr").all():
        name, _level, households, people = tr.locator("td").all_inner_texts()
        out[name] = (int(households.replace(",", "")), int(people.replace(",", "")))
    return out


def test_hq_drills_down_the_area_tree(live_site, page):
    login(page, live_site, "hq")
    page.goto(live_site + "/people/")
    county_total = result_count(page)
    menu(page, "people", "区划网格")
    expect(page.locator("h2")).to_have_text("浮山县")
    county = _children(page)
    assert "天坛镇" in county and len(county) == 7
    assert sum(people for _, people in county.values()) == county_total
    shot(page, "areas-county")

    parent = county
    for name, crumbs in (("天坛镇", ["浮山县", "天坛镇"]), ("城关社区", ["浮山县", "天坛镇", "城关社区"])):
        page.locator("[data-testid=area-children]").get_by_role("link", name=name, exact=True).click()
        expect(page.locator("h2")).to_have_text(name)
        assert crumb_texts(page) == (["山西省", "临汾市", *crumbs], crumbs)
        children = _children(page)
        assert children and parent[name][1] > 0
        # Nobody lives on a township or a community itself: its children hold everyone it counts.
        assert sum(people for _, people in children.values()) == parent[name][1]
        assert sum(households for households, _ in children.values()) == parent[name][0]
        parent = children
    assert list(parent) == [f"城关社区第{n}网格" for n in "一二三四五六"]
    shot(page, "areas-community")

    page.locator("[data-testid=area-children]").get_by_role("link", name="城关社区第一网格").click()
    expect(page.locator("h2")).to_have_text("城关社区第一网格")
    expect(page.locator("hgroup p")).to_contain_text("网格")
    assert crumb_texts(page)[1] == ["浮山县", "天坛镇", "城关社区", "城关社区第一网格"]
    # Back up through the breadcrumb.
    page.locator("[data-testid=breadcrumb]").get_by_role("link", name="天坛镇").click()
    expect(page.locator("h2")).to_have_text("天坛镇")
    page.go_back()
    compounds = _children(page)
    assert "锦绣花园" in compounds
    assert 0 < sum(people for _, people in compounds.values()) <= parent["城关社区第一网格"][1]
    expect(page.locator("main table").last).to_contain_text("陈晓燕")  # the grid's worker
    shot(page, "areas-grid")
    page.get_by_role("button", name="本区域人员").click()
    page.wait_for_url(re.compile(r"/people/\?area_id=\d+$"))
    assert result_count(page) == parent["城关社区第一网格"][1]


def test_supervisor_sees_the_import_and_the_export_in_the_audit_log(live_site, browser, tmp_path):
    # A grid worker imports a small file and exports their list ...
    worker = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = worker.new_page()
    login(page, live_site, "grid")
    page.goto(live_site + "/imports/")
    template = download_template(page, tmp_path)
    filled = fill_template(template, tmp_path / "补录.xlsx", "锦绣花园", [
        ("1", "2", "202", "诸葛青岚", resident_id(dt.date(1961, 9, 9), 941), "", "独居老人")])
    upload(page, filled, GRID_1)
    page.click("[data-testid=import-apply]")
    expect(page.locator("[data-testid=people-created]")).to_have_text("1")
    import_id = re.search(r"/imports/([0-9a-f]{32})/$", page.url).group(1)
    page.goto(live_site + "/people/?q=诸葛青岚")
    with page.expect_download():
        page.click("[data-testid=export]")
    worker.close()

    # ... and the supervisor finds both in the log.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    login(page, live_site, "supervisor")
    page.click("header nav >> text=审计日志")
    expect(page.locator("h2")).to_have_text("审计日志")
    table = page.locator("[data-testid=audit-table]")
    imported = table.locator("tbody tr").filter(has_text="补录.xlsx")
    expect(imported).to_have_count(1)
    assert imported.locator("td").nth(1).inner_text() == "陈晓燕"
    assert imported.locator("td").nth(2).inner_text() == "导入"
    assert "导入常住人口信息汇总表《补录.xlsx》到城关社区第一网格：新增1人" in imported.inner_text()
    exported = table.locator("tbody tr").filter(has_text="关键词“诸葛青岚”")
    expect(exported).to_have_count(1)
    assert exported.locator("td").nth(2).inner_text() == "导出"
    assert "导出人员名单1人" in exported.inner_text() and "已打码" in exported.inner_text()
    shot(page, "audit")

    page.select_option("select[name=action]", label="导入")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"action=import"))
    actions = table.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert actions and set(actions) == {"导入"}
    page.fill("input[name=object_id]", import_id)
    page.click("form.filters button[type=submit]")
    expect(table.locator("tbody tr")).to_have_count(1)
    shot(page, "audit-import-filter")
    context.close()


def test_the_exchange_pages_in_english(live_site, page, tmp_path):
    """The same pages with the interface in English: headings, labels and messages, not the data."""
    login(page, live_site, "hq")
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state()
    shot(page, "home-hq-en")
    page.goto(live_site + "/areas/")
    shot(page, "areas-county-en")
    page.goto(live_site + "/imports/")
    expect(page.locator("h2")).to_have_text("Import person lists")
    shot(page, "imports-en")
    template = download_template(page, tmp_path)
    rows = [("5", "1", "501", "东方既白", resident_id(dt.date(1988, 1, 1), 951), "13835700009", "独居老人"),
            ("5", "1", "502", "东方未明", resident_id(dt.date(1989, 2, 2), 953), "12335700009", "")]
    upload(page, fill_template(template, tmp_path / "bad.xlsx", "长青苑", rows), GRID_2)
    expect(page.locator("[data-testid=import-errors] tbody tr td").last).to_have_text(
        "mobile number prefix 123 is not a mainland operator's")
    shot(page, "import-report-errors-en")
    page.goto(live_site + "/imports/")
    upload(page, fill_template(template, tmp_path / "good.xlsx", "长青苑", rows[:1]), GRID_2)
    page.click("[data-testid=import-apply]")
    expect(page.locator("[data-testid=people-created]")).to_have_text("1")
    shot(page, "import-result-en")
    page.goto(live_site + "/people/?q=东方既白")
    page.locator("[data-testid=person-link]").first.click()
    page.wait_for_url(re.compile(r"/people/\d+/$"))
    shot(page, "person-file-en")
    page.goto(live_site + "/audit/")
    shot(page, "audit-en")


def test_grid_home_in_english(live_site, page):
    login(page, live_site, "grid")
    page.click("[data-testid=lang-en]")
    page.wait_for_load_state()
    shot(page, "home-grid-en")


@pytest.mark.parametrize("username, paths", [
    ("grid", ["/", "/people/", "/areas/", "/imports/"]),
    ("supervisor", ["/audit/", "/people/?q=王"]),
])
def test_pages_fit_a_phone_screen(live_site, browser, username, paths):
    """Wide tables scroll inside their own box; the page itself never scrolls sideways on a phone."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    login(page, live_site, username)
    for path in paths:
        page.goto(live_site + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
        name = path.strip("/").split("/")[0].split("?")[0] or "home"
        shot(page, f"mobile-{username}-{name}")
    context.close()
