"""Excel import and export through the API and the pages, as a community worker and the command centre use them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shouwang.areas.models import Area, Household
from shouwang.core.models import AuditEvent
from shouwang.people.excel import COLUMNS
from shouwang.people.identifiers import check_character, make_resident_id
from shouwang.people.models import Person, PersonTagging

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESIDENTS = ["楼栋", "单元", "房号", "姓名", "身份证号", "联系电话", "人员类别", "备注"]
ROSTER = ["户号", "户主姓名", "与户主关系", "姓名", "身份证号", "联系电话", "现住址", "备注"]
SOFFICE = shutil.which("soffice") or ("/usr/bin/soffice" if Path("/usr/bin/soffice").exists() else None)


def pid(seq: int, birth: dt.date = dt.date(1978, 6, 1)) -> str:
    """A valid resident ID of 浮山县 (141027); odd seq = male."""
    return make_resident_id("141027", birth, seq)


def masked_id(number: str) -> str:
    return number[:4] + "*" * 10 + number[-4:]


def book(sheets: dict[str, list[list]], *, guide: bool = True) -> bytes:
    """A workbook with the sheets given (rows as written) and, after them, a 填表说明 sheet that must be skipped."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    if guide:
        ws = wb.create_sheet("填表说明")
        # Would be a heading and a bad row if this sheet were read.
        ws.append(["姓名", "身份证号"])
        ws.append(["示例：张三", "这里填18位身份证号"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_xlsx(response) -> openpyxl.Workbook:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return openpyxl.load_workbook(io.BytesIO(content))


def upload(client, content: bytes, *, area, kind: str = "residents", name: str = "常住人口信息汇总表.xlsx", **form):
    return client.post("/api/v1/imports", {"kind": kind, "area_id": area.id,
                                           "file": SimpleUploadedFile(name, content, content_type=XLSX), **form})


def counts() -> tuple[int, int, int, int, int]:
    return (Person.objects.count(), Area.objects.count(), Household.objects.count(), PersonTagging.objects.count(),
            AuditEvent.objects.filter(action="import").count())


@pytest.fixture(autouse=True)
def imports_dir(settings, tmp_path) -> Path:
    """Uploads go to a throwaway directory, never into the repository's var/."""
    path = tmp_path / "imports"
    settings.SHOUWANG_IMPORTS_DIR = str(path)
    return path


@pytest.fixture
def worker_a(county):
    return county.user("grid_worker", county.grid_a)


# ---- 常住人口信息汇总表 ------------------------------------------------------------------------------------

TITLE = ["常住人口信息汇总表"]
P = {name: pid(seq, dt.date(1940 + seq, 1 + seq % 12, 1 + seq)) for seq, name in enumerate(
    ["张三", "李四", "王五", "赵六", "孙七", "周八"], start=1)}


def residents_book() -> bytes:
    return book({
        # A compound: buildings 1 and 2, units under building 1.
        "幸福小区": [
            TITLE,
            RESIDENTS,
            ["1", "1", "101", "张三", P["张三"], "13800000001", "独居老人", "腿脚不便"],
            [1, 1, 101, "李四", P["李四"], None, None, None],  # numbers typed into the cells
            ["1号楼", "2单元", "201", "王五", P["王五"].lower(), "+86 139 0000 0003", "流动人口、快递/物流", ""],
            [None, None, None, None, None, None, None, None],  # an empty line in the middle is ignored
            ["2", "", "301", "赵六", P["赵六"], "15900000004", "", ""],
        ],
        # A building on its own (平房院落 / 单栋楼): 楼栋 left blank.
        "7号楼": [
            RESIDENTS,
            ["", "", "101", "孙七", P["孙七"], "", "", ""],
            ["", "", "102", "周八", P["周八"], "18600000006", "常住人口", ""],
        ],
    })


def test_residents_dry_run_counts_rows_and_writes_nothing(county, worker_a, client_for, imports_dir):
    before = counts()
    response = upload(client_for(worker_a), residents_book(), area=county.grid_a)
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["import_id"]) == 32
    assert (body["kind"], body["kind_label"], body["area_id"], body["area_name"], body["file_name"]) == (
        "residents", "常住人口信息汇总表", county.grid_a.id, "第一网格", "常住人口信息汇总表.xlsx")
    assert (body["total_rows"], body["valid_rows"], body["bad_rows"], body["error_count"]) == (6, 6, 0, 0)
    assert body["errors"] == []
    assert body["sheets"] == [{"name": "幸福小区", "rows": 4, "level": "compound"},
                              {"name": "7号楼", "rows": 2, "level": "building"}]
    assert (body["can_apply"], body["applied"], body["result"], body["update_existing"]) == (True, False, None, False)
    assert counts() == before
    assert sorted(p.name for p in imports_dir.iterdir()) == [f"{body['import_id']}.json", f"{body['import_id']}.xlsx"]
    # The report can be read again.
    again = client_for(worker_a).get(f"/api/v1/imports/{body['import_id']}")
    assert again.status_code == 200
    assert again.json() == body


def test_residents_apply_creates_the_tree_households_and_people_once(county, worker_a, client_for):
    client = client_for(worker_a)
    import_id = upload(client, residents_book(), area=county.grid_a).json()["import_id"]
    people, areas, households, _, _ = counts()

    applied = client.post(f"/api/v1/imports/{import_id}/apply")
    assert applied.status_code == 200, applied.content
    body = applied.json()
    assert (body["applied"], body["can_apply"]) == (True, True)
    result = dict(body["result"])
    assert dt.datetime.fromisoformat(result.pop("applied_at"))
    assert result == {"import_id": import_id, "rows": 6, "people": 6, "updated": 0, "households": 5, "tags": 2,
                      "compounds": 1, "buildings": 3, "units": 2}
    assert counts() == (people + 6, areas + 6, households + 5, 2, 1)

    # The tree under the grid: 幸福小区 › 1号楼 › 1单元/2单元, 幸福小区 › 2号楼, and 7号楼 beside the existing building.
    grid = Area.objects.get(id=county.grid_a.id)
    assert [(a.level, a.name) for a in Area.objects.get_children(grid)] == [
        ("building", "7号楼"), ("compound", "幸福小区"), ("building", "幸福小区1号楼")]
    compound = Area.objects.get(level="compound", name="幸福小区")
    assert [a.name for a in Area.objects.get_children(compound)] == ["1号楼", "2号楼"]
    building_1 = Area.objects.get_children(compound).get(name="1号楼")
    assert [a.name for a in Area.objects.get_children(building_1)] == ["1单元", "2单元"]
    assert sorted(Area.objects.filter(code__startswith="141027100001001-").exclude(id=county.building_a.id)
                  .values_list("code", flat=True)) == [f"141027100001001-000{i}" for i in range(1, 7)]
    assert Area.objects.find_problems() == ([], [], [], [], [])
    assert grid.numchild == 3 and compound.numchild == 2 and building_1.numchild == 2

    # The people, stored in full, in their unit or building and household.
    zhang = Person.objects.select_related("area", "household").get(name="张三")
    assert (zhang.id_number, zhang.mobile, zhang.sex, zhang.birth_date) == (
        P["张三"], "13800000001", "male", dt.date(1941, 2, 2))
    assert (zhang.area.level, zhang.area.name, zhang.household.room, zhang.household.address) == (
        "unit", "1单元", "101", "幸福小区1号楼1单元101室")
    assert (zhang.current_address, zhang.residence_kind, zhang.notes) == ("幸福小区1号楼1单元101室", "resident",
                                                                          "腿脚不便")
    assert sorted(PersonTagging.objects.values_list("person__name", "tag")) == [
        ("张三", "elderly_alone"), ("王五", "courier")]
    li = Person.objects.get(name="李四")
    assert (li.household_id, li.mobile, li.residence_kind, li.sex) == (zhang.household_id, "", "resident", "female")
    wang = Person.objects.select_related("area").get(name="王五")
    assert (wang.id_number, wang.mobile, wang.residence_kind, wang.area.name, wang.current_address) == (
        P["王五"], "13900000003", "temporary", "2单元", "幸福小区1号楼2单元201室")
    zhao = Person.objects.select_related("area").get(name="赵六")
    assert (zhao.area.level, zhao.area.name, zhao.current_address) == ("building", "2号楼", "幸福小区2号楼301室")
    sun = Person.objects.select_related("area", "household").get(name="孙七")
    assert (sun.area.name, sun.household.room, sun.current_address) == ("7号楼", "101", "7号楼101室")
    assert Person.objects.get(name="周八").residence_kind == "resident"

    # Lists show them masked.
    rows = client.get("/api/v1/people", {"area_id": compound.id}).json()
    assert rows["count"] == 4
    by_name = {r["name"]: r for r in rows["items"]}
    assert (by_name["张三"]["id_number"], by_name["张三"]["mobile"]) == (masked_id(P["张三"]), "138****0001")
    assert (by_name["王五"]["id_number"], by_name["王五"]["mobile"]) == (masked_id(P["王五"]), "139****0003")

    # A retry (double click, lost answer) gives the same answer and imports nothing more.
    retry = client.post(f"/api/v1/imports/{import_id}/apply")
    assert retry.status_code == 200
    assert retry.json() == applied.json()
    assert counts() == (people + 6, areas + 6, households + 5, 2, 1)
    event = AuditEvent.objects.get(action="import")
    assert (event.actor_id, event.object_type, event.object_id, event.row_count) == (
        worker_a.id, "people.import", import_id, 6)
    assert event.summary == "导入常住人口信息汇总表《常住人口信息汇总表.xlsx》到第一网格：新增6人"
    assert event.query["kind"] == "residents" and event.query["area_id"] == county.grid_a.id


def test_a_second_file_for_the_same_compound_reuses_its_buildings_and_households(county, worker_a, client_for):
    client = client_for(worker_a)
    first = upload(client, residents_book(), area=county.grid_a).json()["import_id"]
    client.post(f"/api/v1/imports/{first}/apply")
    more = book({"幸福小区": [RESIDENTS, ["1", "1", "101", "钱九", pid(9, dt.date(2001, 9, 9)), "", "", ""],
                              ["3", "1", "101", "吴十", pid(10, dt.date(2002, 10, 10)), "", "", ""]]})
    second = upload(client, more, area=county.grid_a).json()
    assert second["sheets"] == [{"name": "幸福小区", "rows": 2, "level": "compound"}]
    result = client.post(f"/api/v1/imports/{second['import_id']}/apply").json()["result"]
    assert (result["people"], result["compounds"], result["buildings"], result["units"], result["households"]) == (
        2, 0, 1, 1, 1)
    qian = Person.objects.get(name="钱九")
    assert qian.household_id == Person.objects.get(name="张三").household_id
    assert Person.objects.get(name="吴十").current_address == "幸福小区3号楼1单元101室"
    assert Area.objects.filter(level="compound", name="幸福小区").count() == 1
    assert Area.objects.find_problems() == ([], [], [], [], [])


def test_residents_through_the_pages(county, worker_a, client_for):
    client = client_for(worker_a)
    page = client.get("/imports/")
    assert page.status_code == 200
    assert "天坛镇 / 城关社区 / 第一网格" in page.content.decode()
    assert "东村网格" not in page.content.decode()
    posted = client.post("/imports/", {"kind": "residents", "area_id": str(county.grid_a.id),
                                       "file": SimpleUploadedFile("汇总表.xlsx", residents_book(), content_type=XLSX)})
    assert posted.status_code == 302
    import_id = posted["Location"].strip("/").split("/")[-1]
    assert posted["Location"] == f"/imports/{import_id}/"
    report = client.get(posted["Location"])
    html = report.content.decode()
    assert report.status_code == 200
    assert 'data-testid="total-rows">6</strong>' in html and 'data-testid="bad-rows" >0</strong>' in html
    assert 'data-testid="import-apply"' in html
    assert Person.objects.count() == 0
    applied = client.post(f"/imports/{import_id}/apply/")
    assert (applied.status_code, applied["Location"]) == (302, f"/imports/{import_id}/")
    result = client.get(f"/imports/{import_id}/").content.decode()
    assert 'data-testid="people-created">6<' in result
    assert Person.objects.count() == 6
    # Pressing the button again changes nothing.
    assert client.post(f"/imports/{import_id}/apply/").status_code == 302
    assert Person.objects.count() == 6
    assert AuditEvent.objects.filter(action="import").count() == 1


# ---- 户籍花名册 -------------------------------------------------------------------------------------------

R = {name: pid(seq, dt.date(1950 + seq, 3, 3)) for seq, name in enumerate(
    ["刘大", "陈二", "刘三", "马四"], start=21)}


def roster_book() -> bytes:
    return book({"Sheet1": [
        ["东村户籍花名册"],
        [],
        ["户号", "户主姓名", "与户主关系", "姓名", "身份证号码", "手机号码", "现住址", "备注"],  # the aliases
        ["东村12号", "刘大", "户主", "刘大", R["刘大"], "13700000021", "东村12号院", ""],
        ["东村12号", "刘大", "妻子", "陈二", R["陈二"], "", "", ""],
        ["东村12号", "刘大", "儿子", "刘三", R["刘三"], "", "太原市小店区学府街1号", "在外上学"],
        ["东村15号", "马四", "本人", "马四", R["马四"], "13700000024", "东村15号", ""],
    ]}, guide=False)


def test_roster_import_makes_households_by_door_number_with_relations(county, client_for):
    village_b = county.user("village", county.village_b)
    client = client_for(village_b)
    dry = upload(client, roster_book(), area=county.grid_b, kind="roster", name="东村花名册.xlsx").json()
    assert (dry["kind_label"], dry["total_rows"], dry["valid_rows"], dry["error_count"], dry["can_apply"]) == (
        "户籍花名册", 4, 4, 0, True)
    assert dry["sheets"] == [{"name": "Sheet1", "rows": 4, "level": ""}]
    result = client.post(f"/api/v1/imports/{dry['import_id']}/apply").json()["result"]
    assert {k: result[k] for k in ("rows", "people", "updated", "households", "tags", "compounds", "buildings",
                                   "units")} == {"rows": 4, "people": 4, "updated": 0, "households": 2, "tags": 0,
                                                 "compounds": None, "buildings": None, "units": None}
    households = {h.room: h for h in Household.objects.filter(area=county.grid_b)}
    assert {room: h.address for room, h in households.items()} == {"东村12号": "东村12号院", "东村15号": "东村15号"}
    got = {p.name: (p.household.room, p.relation_to_head, p.current_address, p.residence_kind, p.area_id, p.notes)
           for p in Person.objects.select_related("household")}
    grid_b = county.grid_b.id
    assert got == {
        "刘大": ("东村12号", "户主", "东村12号院", "registered", grid_b, ""),
        "陈二": ("东村12号", "妻子", "东村12号院", "registered", grid_b, ""),  # blank address: the household's
        "刘三": ("东村12号", "儿子", "太原市小店区学府街1号", "registered", grid_b, "在外上学"),
        "马四": ("东村15号", "本人", "东村15号", "registered", grid_b, ""),
    }
    assert Person.objects.get(name="马四").mobile == "13700000024"
    event = AuditEvent.objects.get(action="import")
    assert (event.actor_id, event.row_count, event.summary) == (
        village_b.id, 4, "导入户籍花名册《东村花名册.xlsx》到东村网格：新增4人")


def test_roster_head_mismatch_is_an_error(county, client_for):
    content = book({"花名册": [ROSTER,
                               ["东村12号", "刘大", "户主", "刘大", R["刘大"], "", "", ""],
                               ["东村12号", "刘老大", "妻子", "陈二", R["陈二"], "", "", ""],
                               ["东村15号", "马四", "户主", "马小四", R["马四"], "", "", ""],
                               ["", "", "", "刘三", R["刘三"], "", "", ""]]})
    body = upload(client_for(county.hq), content, area=county.grid_b, kind="roster").json()
    assert [(e["row"], e["column"], e["code"], e["message_zh"]) for e in body["errors"]] == [
        (3, "户主姓名", "head_mismatch", "户号东村12号的户主姓名与第2行（刘大）不一致"),
        (4, "户主姓名", "head_mismatch", "与户主关系为“户主”，姓名却与户主姓名“马四”不同"),
        (5, "户号", "required", "户号不能为空"),
    ]
    assert body["can_apply"] is False


# ---- errors --------------------------------------------------------------------------------------------

GOOD = pid(31, dt.date(1990, 1, 1))


def errors_book(registered: str) -> bytes:
    bad_check = GOOD[:17] + ("0" if GOOD[17] != "0" else "1")
    return book({
        "幸福小区": [
            TITLE,
            RESIDENTS,
            ["1", "1", "101", "好人", GOOD, "13800000031", "", ""],  # row 3
            ["1", "1", "102", "错校验", bad_check, "", "", ""],  # row 4
            ["1", "1", "103", "错手机", pid(33, dt.date(1990, 1, 3)), "12345678901", "", ""],  # row 5
            ["1", "1", "104", "", pid(35, dt.date(1990, 1, 5)), "", "", ""],  # row 6
            ["1", "1", "105", "重复人", GOOD, "", "", ""],  # row 7
            ["1", "1", "106", "王芳", registered, "", "", ""],  # row 8
        ],
        "和平小区": [
            ["楼栋", "房号", "姓名", "电话号码"],  # no 身份证号 column
            ["1", "101", "某人", "13800000000"],
        ],
        "东苑": [
            ["名字", "证件"],  # not a heading this layout knows
            ["某人", "x"],
        ],
    })


def test_every_bad_cell_is_listed_with_sheet_row_column_and_reason_and_nothing_is_imported(county, worker_a,
                                                                                            client_for):
    registered = county.person(name="王芳", area=county.grid_a)
    client = client_for(worker_a)
    before = counts()
    body = upload(client, errors_book(registered.id_number), area=county.grid_a, name="有错的表.xlsx").json()
    expected_check = GOOD[17]
    errors = [(e["sheet"], e["row"], e["column"], e["value"], e["code"], e["message_zh"], e["message_en"])
              for e in body["errors"]]
    assert errors == [
        ("幸福小区", 4, "身份证号", GOOD[:17] + ("0" if GOOD[17] != "0" else "1"), "id_number_checksum",
         f"身份证号校验位错误（应为{expected_check}）", f"ID number check character is wrong (expected {expected_check})"),
        ("幸福小区", 5, "联系电话", "12345678901", "mobile_prefix", "手机号号段123不存在",
         "mobile number prefix 123 is not a mainland operator's"),
        ("幸福小区", 6, "姓名", "", "required", "姓名不能为空", "name is required"),
        ("幸福小区", 7, "身份证号", GOOD, "duplicate_in_file", "身份证号与工作表“幸福小区”第3行重复",
         "ID number repeats row 3 of sheet '幸福小区'"),
        ("幸福小区", 8, "身份证号", registered.id_number, "person_exists", "该身份证号已登记（一人一档）",
         "this ID number is already registered (one file per person)"),
        ("和平小区", None, "身份证号", "", "missing_column", "工作表“和平小区”缺少“身份证号”列",
         "sheet '和平小区' has no column '身份证号' (ID number)"),
        ("东苑", None, "", "", "header_not_found",
         "工作表“东苑”前10行中没有找到表头（应包含“姓名”“身份证号”等列）",
         "sheet '东苑': no heading row (with 姓名, 身份证号 …) in the first 10 rows"),
    ]
    assert (body["total_rows"], body["valid_rows"], body["bad_rows"], body["error_count"], body["can_apply"]) == (
        7, 1, 5, 7, False)

    applied = client.post(f"/api/v1/imports/{body['import_id']}/apply")
    assert applied.status_code == 422
    answer = applied.json()
    assert (answer["code"], answer["field"]) == ("import_has_errors", "file")
    assert answer["messages"] == {"zh-hans": "有5处错误，未导入任何数据；请改正后重新上传",
                                  "en": "5 errors: nothing was imported; correct the file and upload it again"}
    assert answer["details"] == body["errors"]
    assert counts() == before
    assert client.get(f"/api/v1/imports/{body['import_id']}").json()["applied"] is False

    # The page says the same and offers the list as a workbook.
    page = client.post(f"/imports/{body['import_id']}/apply/")
    assert page.status_code == 422
    html = page.content.decode()
    assert "有5处错误，未导入任何数据；请改正后重新上传" in html and "身份证号校验位错误" in html
    assert counts() == before
    listing = client.get(f"/imports/{body['import_id']}/errors.xlsx")
    assert listing.status_code == 200
    assert listing["Content-Type"] == XLSX
    assert listing["Content-Disposition"] == (
        f"attachment; filename=\"errors_{body['import_id']}.xlsx\"; "
        f"filename*=UTF-8''{quote('错误清单_有错的表.xlsx', safe='')}")
    rows = list(read_xlsx(listing)["错误清单"].iter_rows(values_only=True))
    assert rows[0] == ("工作表", "行号", "列", "内容", "错误代码", "原因", "Reason")
    assert rows[1:] == [(s, r, c or None, v or None, code, zh, en) for s, r, c, v, code, zh, en in errors]


def test_an_id_number_typed_as_a_number_is_named(county, client_for):
    """A spreadsheet keeps numbers as doubles (15 significant digits): an 18-digit ID typed as a number is lost."""
    exact = pid(100, dt.date(1990, 1, 1))
    assert exact == "141027199001011004"
    content = book({"幸福小区": [RESIDENTS, ["1", "1", "101", "整数号", int(exact), "", "", ""],
                                 ["1", "1", "102", "小数号", 1.41027199001011e17, "", "", ""]]})
    body = upload(client_for(county.hq), content, area=county.grid_a).json()
    assert [(e["row"], e["column"], e["code"], e["value"]) for e in body["errors"]] == [
        (2, "身份证号", "id_number_numeric", "141027199001011008"),
        (3, "身份证号", "id_number_numeric", "141027199001011008")]
    assert (body["valid_rows"], body["bad_rows"]) == (0, 2)


def test_unknown_category_two_residence_kinds_and_unit_without_building_are_errors(county, client_for):
    content = book({"幸福小区": [RESIDENTS,
                                 ["1", "1", "101", "甲", pid(41, dt.date(1991, 1, 1)), "", "外星人", ""],
                                 ["", "2", "102", "乙", pid(43, dt.date(1991, 1, 3)), "", "", ""],
                                 ["1", "1", "103", "丙", pid(45, dt.date(1991, 1, 5)), "", "常住人口、流动人口", ""]]})
    body = upload(client_for(county.hq), content, area=county.grid_a).json()
    assert [(e["row"], e["column"], e["code"], e["message_zh"]) for e in body["errors"]] == [
        (2, "人员类别", "invalid_choice", "人员类别“外星人”不是可选值（人口类别只能填一个）"),
        (3, "单元", "required", "填了单元就要填楼栋"),
        (4, "人员类别", "invalid_choice", "人员类别“常住人口/流动人口”不是可选值（人口类别只能填一个）"),
    ]
    assert body["errors"][2]["message_en"] == "category '常住人口/流动人口' is not allowed (one residence kind at most)"


def test_categories_are_read_the_same_whatever_the_page_language(county, client_for):
    """The sheets are in Chinese; a worker using the English interface imports the same file the same way."""
    content = book({"幸福小区": [RESIDENTS, ["1", "1", "101", "甲", pid(47, dt.date(1991, 1, 7)), "",
                                             "独居老人、快递/物流、流动人口", ""]]})
    client = client_for(county.hq)
    body = client.post("/api/v1/imports", {"kind": "residents", "area_id": county.grid_a.id,
                                           "file": SimpleUploadedFile("a.xlsx", content)},
                       HTTP_ACCEPT_LANGUAGE="en").json()
    assert (body["errors"], body["valid_rows"]) == ([], 1)
    client.post(f"/api/v1/imports/{body['import_id']}/apply", HTTP_ACCEPT_LANGUAGE="en")
    person = Person.objects.get(name="甲")
    assert (sorted(person.tags.values_list("tag", flat=True)), person.residence_kind) == (
        ["courier", "elderly_alone"], "temporary")


def test_a_building_sheet_may_list_units_without_repeating_the_building(county, client_for):
    """A sheet that is one building (楼栋 blank on every row) holds its units directly."""
    content = book({"5号楼": [RESIDENTS,
                              ["", "1", "101", "甲", pid(51, dt.date(1992, 1, 1)), "", "", ""],
                              ["", "2", "201", "乙", pid(53, dt.date(1992, 1, 3)), "", "", ""]]})
    client = client_for(county.hq)
    body = upload(client, content, area=county.grid_a).json()
    assert body["errors"] == []
    assert body["sheets"] == [{"name": "5号楼", "rows": 2, "level": "building"}]
    result = client.post(f"/api/v1/imports/{body['import_id']}/apply").json()["result"]
    assert (result["buildings"], result["units"], result["households"]) == (1, 2, 2)
    jia = Person.objects.select_related("area").get(name="甲")
    assert (jia.area.level, jia.area.name, jia.current_address) == ("unit", "1单元", "5号楼1单元101室")
    assert Area.objects.find_problems() == ([], [], [], [], [])


def test_default_sheet_name_must_be_renamed(county, client_for):
    content = book({"Sheet1": [RESIDENTS, ["1", "1", "101", "甲", pid(61, dt.date(1993, 1, 1)), "", "", ""]]})
    body = upload(client_for(county.hq), content, area=county.grid_a).json()
    assert [(e["sheet"], e["row"], e["code"], e["message_zh"]) for e in body["errors"]] == [
        ("Sheet1", None, "sheet_name", "工作表名“Sheet1”应改为小区或楼栋的名称")]
    assert (body["valid_rows"], body["can_apply"]) == (0, False)


# ---- update_existing -----------------------------------------------------------------------------------


def test_update_existing_moves_the_registered_person_instead_of_erroring(county, worker_a, client_for):
    known = county.person(name="王芳", area=county.grid_a, mobile="13800000009", current_address="旧住址",
                          notes="原备注")
    other = county.person(name="李雷", area=county.grid_b)
    content = book({"幸福小区": [RESIDENTS,
                                 ["1", "1", "101", "王芳", known.id_number, "13900000009", "独居老人", ""],
                                 ["1", "1", "102", "新来的", pid(71, dt.date(1994, 1, 1)), "", "", ""]]})
    client = client_for(worker_a)
    refused = upload(client, content, area=county.grid_a).json()
    assert [(e["row"], e["code"]) for e in refused["errors"]] == [(2, "person_exists")]

    dry = upload(client, content, area=county.grid_a, update_existing="true").json()
    assert (dry["update_existing"], dry["error_count"], dry["valid_rows"], dry["can_apply"]) == (True, 0, 2, True)
    result = client.post(f"/api/v1/imports/{dry['import_id']}/apply").json()["result"]
    assert (result["people"], result["updated"], result["households"], result["tags"]) == (1, 1, 2, 1)
    known.refresh_from_db()
    assert (known.mobile, known.current_address, known.area.name, known.household.room, known.notes) == (
        "13900000009", "幸福小区1号楼1单元101室", "1单元", "101", "原备注")
    assert (known.name, known.id_number, known.residence_kind) == ("王芳", known.id_number, "registered")
    assert list(known.tags.values_list("tag", flat=True)) == ["elderly_alone"]
    assert known.history.latest().history_change_reason == "导入常住人口信息汇总表《常住人口信息汇总表.xlsx》"
    assert Person.objects.filter(id_number=known.id_number).count() == 1
    event = AuditEvent.objects.get(action="import")
    assert event.summary.endswith("新增1人，更新1人")

    # Not someone registered outside the jurisdiction, nor under another name.
    again = book({"幸福小区": [RESIDENTS,
                               ["1", "1", "101", "李雷", other.id_number, "", "", ""],
                               ["1", "1", "101", "王小芳", known.id_number, "", "", ""]]})
    body = upload(client, again, area=county.grid_a, update_existing="true").json()
    assert [(e["row"], e["column"], e["code"], e["message_zh"]) for e in body["errors"]] == [
        (2, "身份证号", "person_exists_elsewhere", "该身份证号已在您辖区以外登记，不能通过导入更新"),
        (3, "姓名", "name_mismatch", "该身份证号已登记为“王芳”，姓名不一致"),
    ]
    assert Person.objects.get(id=other.id).area_id == county.grid_b.id


# ---- jurisdiction and roles ----------------------------------------------------------------------------


def test_a_grid_worker_cannot_import_into_another_grid(county, worker_a, client_for, imports_dir):
    client = client_for(worker_a)
    response = upload(client, residents_book(), area=county.grid_b)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["field"] == "area_id"
    assert response.json()["messages"] == {"zh-hans": "区域不存在或不在您的辖区内",
                                           "en": "area not found or outside your jurisdiction"}
    assert not imports_dir.exists() or list(imports_dir.iterdir()) == []
    page = client.post("/imports/", {"kind": "residents", "area_id": str(county.grid_b.id),
                                     "file": SimpleUploadedFile("a.xlsx", residents_book(), content_type=XLSX)})
    assert page.status_code == 404
    assert "区域不存在或不在您的辖区内" in page.content.decode()
    # Not a grid at all: the village above the worker's own grid is outside too; a building inside is not a grid.
    assert upload(client, residents_book(), area=county.village_a).json()["code"] == "not_found"
    inside = upload(client, residents_book(), area=county.building_a)
    assert (inside.status_code, inside.json()["code"], inside.json()["field"]) == (422, "area_level", "area_id")
    assert Person.objects.count() == 0


def test_another_user_cannot_read_or_apply_someone_elses_import(county, worker_a, client_for):
    import_id = upload(client_for(worker_a), residents_book(), area=county.grid_a).json()["import_id"]
    colleague = county.user("grid_worker", county.grid_a, username="同网格另一位网格员")
    hq = county.hq
    for user in (colleague, hq):
        client = client_for(user)
        for response in (client.get(f"/api/v1/imports/{import_id}"),
                         client.post(f"/api/v1/imports/{import_id}/apply")):
            assert response.status_code == 404
            assert response.json()["code"] == "not_found"
            assert response.json()["messages"]["zh-hans"] == "导入记录不存在或不在您的辖区内"
        assert client.get(f"/imports/{import_id}/").status_code == 404
        assert client.post(f"/imports/{import_id}/apply/").status_code == 404
        assert client.get(f"/imports/{import_id}/errors.xlsx").status_code == 404
    assert Person.objects.count() == 0
    assert not AuditEvent.objects.filter(action="import").exists()
    # An id that is not one, or a path, answers the same.
    for bad in ("../../secret_key", "0" * 32, "ABC"):
        assert client_for(worker_a).get(f"/api/v1/imports/{quote(bad, safe='')}").status_code == 404


def test_a_role_without_import_gets_403(county, client_for, imports_dir):
    sampler = county.user("sampler", county.grid_a)
    supervisor = county.user("supervisor", county.county)
    for user in (sampler, supervisor):
        client = client_for(user)
        response = upload(client, residents_book(), area=county.grid_a)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert response.json()["messages"] == {"zh-hans": "您的角色无权导入人员名单", "en": "your role may not import people"}
        assert client.get("/imports/").status_code == 403
        assert client.post("/imports/", {"kind": "residents", "area_id": str(county.grid_a.id)}).status_code == 403
        assert client.get("/imports/template/residents.xlsx").status_code == 403
    assert not imports_dir.exists() or list(imports_dir.iterdir()) == []
    assert Person.objects.count() == 0


def test_not_logged_in_is_401_and_login_redirect(county, client_for):
    from django.test import Client

    anonymous = Client()
    assert anonymous.post("/api/v1/imports", {"kind": "residents", "area_id": county.grid_a.id}).status_code == 401
    assert anonymous.get("/imports/")["Location"].startswith("/login/")


# ---- files that are not what they seem -----------------------------------------------------------------


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_a_workbook_saved_by_libreoffice_imports(county, client_for, tmp_path):
    rows = [RESIDENTS,
            ["1", "1", "101", "欧阳娜娜", pid(81, dt.date(1988, 8, 8)), "13800000081", "教师", "从CSV转换"],
            ["1", "1", "102", "司马光", pid(83, dt.date(1970, 2, 28)), "", "独居老人，卧床不起", ""],
            ["2", "", "201", "诸葛亮", pid(85, dt.date(1965, 12, 31)), "", "", ""]]

    def convert(name: str, filter_options: str) -> bytes:
        source = tmp_path / f"{name}.csv"
        with source.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
        out = tmp_path / "out"
        subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless",
                        f"--infilter={filter_options}", "--convert-to", "xlsx", "--outdir", str(out), str(source)],
                       check=True, timeout=120, capture_output=True)
        return (out / f"{name}.xlsx").read_bytes()

    client = client_for(county.hq)
    # Columns opened as text (what the template asks for): imports as written.
    as_text = convert("幸福小区", "CSV:44,34,76,1,1/2/2/2/3/2/4/2/5/2/6/2/7/2/8/2")
    body = upload(client, as_text, area=county.grid_a, name="幸福小区.xlsx").json()
    assert (body["total_rows"], body["valid_rows"], body["error_count"]) == (3, 3, 0), body["errors"]
    assert body["sheets"] == [{"name": "幸福小区", "rows": 3, "level": "compound"}]
    result = client.post(f"/api/v1/imports/{body['import_id']}/apply").json()["result"]
    assert (result["people"], result["tags"], result["households"]) == (3, 3, 3)
    ouyang = Person.objects.get(name="欧阳娜娜")
    assert (ouyang.id_number, ouyang.mobile, ouyang.notes, ouyang.current_address) == (
        pid(81, dt.date(1988, 8, 8)), "13800000081", "从CSV转换", "幸福小区1号楼1单元101室")
    assert sorted(Person.objects.get(name="司马光").tags.values_list("tag", flat=True)) == [
        "bedridden", "elderly_alone"]

    # Columns left to guess: the 18-digit IDs became numbers and lost digits, which the report says.
    guessed = convert("和平小区", "CSV:44,34,76,1")
    body = upload(client, guessed, area=county.grid_a, name="和平小区.xlsx").json()
    assert pid(83, dt.date(1970, 2, 28)).endswith("X")  # stays text: already imported above
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "身份证号", "id_number_numeric"), (3, "身份证号", "person_exists"), (4, "身份证号", "id_number_numeric")]
    assert body["errors"][0]["message_zh"] == "身份证号被Excel存成了数字，后几位已丢失；请把该列设为文本格式后重新填写"


@pytest.mark.parametrize(("name", "content"), [
    ("名单.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2048),  # the old binary Excel format
    ("名单.csv", "姓名,身份证号\n张三,141027198001010016\n".encode()),
    ("名单.xlsx", b"PK\x03\x04 not really a zip"),
])
def test_a_file_that_is_not_an_xlsx_is_refused_naming_the_file_field(county, client_for, imports_dir, name, content):
    client = client_for(county.hq)
    response = upload(client, content, area=county.grid_a, name=name)
    assert response.status_code == 422
    assert {k: response.json()[k] for k in ("code", "field", "messages")} == {
        "code": "file_format", "field": "file",
        "messages": {"zh-hans": "文件不是有效的Excel工作簿（.xlsx）", "en": "the file is not a valid Excel workbook (.xlsx)"}}
    assert list(imports_dir.iterdir()) == []  # the upload is not kept
    page = client.post("/imports/", {"kind": "residents", "area_id": str(county.grid_a.id),
                                     "file": SimpleUploadedFile(name, content)})
    assert page.status_code == 422
    html = page.content.decode()
    assert "文件不是有效的Excel工作簿（.xlsx）" in html
    assert 'name="file"' in html and 'data-testid="import-file" aria-invalid="true"' in html


def test_missing_file_names_the_field(county, client_for):
    client = client_for(county.hq)
    response = client.post("/api/v1/imports", {"kind": "residents", "area_id": county.grid_a.id})
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (422, "invalid", "file")
    no_grid = client.post("/api/v1/imports", {"kind": "residents",
                                              "file": SimpleUploadedFile("a.xlsx", residents_book())})
    assert (no_grid.status_code, no_grid.json()["field"]) == (422, "area_id")
    page = client.post("/imports/", {"kind": "residents", "area_id": str(county.grid_a.id)})
    assert page.status_code == 422
    assert "请选择要上传的Excel文件" in page.content.decode()


def test_unknown_kind_is_refused(county, client_for):
    response = upload(client_for(county.hq), residents_book(), area=county.grid_a, kind="census")
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (422, "invalid_choice", "kind")


# ---- templates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "label", "sheet"), [("residents", "常住人口信息汇总表", "幸福小区"),
                                                      ("roster", "户籍花名册", "花名册")])
def test_template_download_has_the_heading_row(county, worker_a, client_for, kind, label, sheet):
    response = client_for(worker_a).get(f"/imports/template/{kind}.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"template_{kind}.xlsx\"; filename*=UTF-8''{quote(label + '模板.xlsx', safe='')}")
    wb = read_xlsx(response)
    assert wb.sheetnames == [sheet, "填表说明"]
    ws = wb[sheet]
    header = [c.value for c in ws[2]]
    assert header == COLUMNS[kind] == (RESIDENTS if kind == "residents" else ROSTER)
    id_column = header.index("身份证号") + 1
    assert ws.cell(row=3, column=id_column).number_format == "@"


def test_a_filled_in_template_imports(county, worker_a, client_for):
    client = client_for(worker_a)
    wb = read_xlsx(client.get("/imports/template/residents.xlsx"))
    ws = wb["幸福小区"]
    for column, value in enumerate(["3", "2", "501", "填模板", pid(91, dt.date(1999, 9, 9)), "13800000091", "学生"], 1):
        ws.cell(row=3, column=column, value=value)  # the first row under the heading, in the text-formatted cells
    out = io.BytesIO()
    wb.save(out)
    body = upload(client, out.getvalue(), area=county.grid_a).json()
    assert (body["total_rows"], body["valid_rows"], body["error_count"]) == (1, 1, 0)
    client.post(f"/api/v1/imports/{body['import_id']}/apply")
    person = Person.objects.get(name="填模板")
    assert (person.current_address, list(person.tags.values_list("tag", flat=True))) == (
        "幸福小区3号楼2单元501室", ["student"])


def test_unknown_template_is_404(county, worker_a, client_for):
    assert client_for(worker_a).get("/imports/template/census.xlsx").status_code == 404


# ---- export --------------------------------------------------------------------------------------------


@pytest.fixture
def exportable(county):
    a1 = county.person(name="甲一", area=county.building_a, mobile="13812345678", household=county.household_a,
                       birth=dt.date(1960, 5, 6), seq=11, current_address="幸福小区1号楼1-101", tags=["elderly_alone"])
    a2 = county.person(name="甲二", area=county.grid_a, birth=dt.date(1990, 7, 8), seq=12)
    b1 = county.person(name="乙一", area=county.grid_b, mobile="13987654321", birth=dt.date(1970, 1, 2), seq=13)
    return a1, a2, b1


def export_rows(response) -> tuple[str, list, list]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    rows = list(read_xlsx(response)["人员名单"].iter_rows(values_only=True))
    return rows[0][0], list(rows[1]), rows[2:]


HEADER = ["姓名", "性别", "出生日期", "证件类型", "证件号码", "手机号", "所属网格", "户", "现住址", "工作单位", "人群标签"]


def test_export_page_masks_for_a_grid_worker_and_keeps_to_the_grid(county, worker_a, client_for, exportable):
    a1, a2, _ = exportable
    response = client_for(worker_a).get("/people/export.xlsx", {"full": "1"})  # asks full, may not have it
    title, header, rows = export_rows(response)
    assert header == HEADER
    assert "证件号码和手机号已打码" in title and "全部（本辖区）" in title
    assert rows == [
        ("甲一", "男", dt.datetime(1960, 5, 6), "居民身份证", a1.id_number[:4] + "**********" + a1.id_number[-4:],
         "138****5678", "第一网格", "1-101", "幸福小区1号楼1-101", None, "独居老人"),
        ("甲二", "女", dt.datetime(1990, 7, 8), "居民身份证", a2.id_number[:4] + "**********" + a2.id_number[-4:],
         None, "第一网格", None, None, None, None),
    ]
    assert response["Content-Disposition"].startswith('attachment; filename="people_')
    event = AuditEvent.objects.get(action="export")
    assert (event.actor_id, event.object_type, event.row_count, event.changes) == (
        worker_a.id, "people.person", 2, {"full": [None, False]})
    assert event.summary == "导出人员名单2人（全部（本辖区）；证件号码和手机号已打码）"


def test_export_full_only_for_hq_when_asked(county, client_for, exportable):
    a1, a2, b1 = exportable
    client = client_for(county.hq)
    _, _, masked = export_rows(client.get("/people/export.xlsx"))
    assert [(r[0], r[4], r[5]) for r in masked] == [
        ("乙一", masked_id(b1.id_number), "139****4321"), ("甲一", masked_id(a1.id_number), "138****5678"),
        ("甲二", masked_id(a2.id_number), None)]
    title, _, full = export_rows(client.get("/people/export.xlsx", {"full": "1"}))
    assert "完整证件号码和手机号" in title
    assert [(r[0], r[4], r[5]) for r in full] == [
        ("乙一", b1.id_number, "13987654321"), ("甲一", a1.id_number, "13812345678"), ("甲二", a2.id_number, None)]
    events = list(AuditEvent.objects.filter(action="export").order_by("id").values_list("row_count", "changes"))
    assert events == [(3, {"full": [None, False]}), (3, {"full": [None, True]})]


def test_api_export_with_filters(county, worker_a, client_for, exportable):
    a1, a2, b1 = exportable
    hq = client_for(county.hq)
    _, _, rows = export_rows(hq.get("/api/v1/people/export.xlsx", {"area_id": county.grid_b.id, "full": "true"}))
    assert rows == [("乙一", "男", dt.datetime(1970, 1, 2), "居民身份证", b1.id_number, "13987654321", "东村网格",
                     None, None, None, None)]
    _, _, rows = export_rows(hq.get("/api/v1/people/export.xlsx", {"tag": "elderly_alone"}))
    assert [(r[0], r[4]) for r in rows] == [("甲一", masked_id(a1.id_number))]
    worker = client_for(worker_a)
    _, _, rows = export_rows(worker.get("/api/v1/people/export.xlsx", {"full": "true"}))
    assert [(r[0], r[4], r[5]) for r in rows] == [("甲一", masked_id(a1.id_number), "138****5678"),
                                                  ("甲二", masked_id(a2.id_number), None)]
    refused = worker.get("/api/v1/people/export.xlsx", {"area_id": county.grid_b.id})
    assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
    events = list(AuditEvent.objects.filter(action="export").order_by("id").values_list(
        "actor_id", "row_count", "query", "changes"))
    assert events == [
        (county.hq.id, 1, {"area_id": county.grid_b.id}, {"full": [None, True]}),
        (county.hq.id, 1, {"tag": "elderly_alone"}, {"full": [None, False]}),
        (worker_a.id, 2, {}, {"full": [None, False]}),
    ]


def test_export_needs_the_export_capability(county, client_for, exportable):
    sampler = county.user("sampler", county.grid_a)
    client = client_for(sampler)
    assert client.get("/people/export.xlsx").status_code == 403
    response = client.get("/api/v1/people/export.xlsx")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_of_an_import_round_trips_names_and_masks(county, worker_a, client_for):
    client = client_for(worker_a)
    import_id = upload(client, residents_book(), area=county.grid_a).json()["import_id"]
    client.post(f"/api/v1/imports/{import_id}/apply")
    _, _, rows = export_rows(client.get("/people/export.xlsx", {"q": "幸福小区"}))
    assert sorted((r[0], r[4], r[5], r[8]) for r in rows) == sorted([
        ("张三", masked_id(P["张三"]), "138****0001", "幸福小区1号楼1单元101室"),
        ("李四", masked_id(P["李四"]), None, "幸福小区1号楼1单元101室"),
        ("王五", masked_id(P["王五"]), "139****0003", "幸福小区1号楼2单元201室"),
        ("赵六", masked_id(P["赵六"]), "159****0004", "幸福小区2号楼301室"),
    ])
    assert AuditEvent.objects.get(action="export").row_count == 4


def test_check_character_helper_agrees_with_ids_used_here():
    for number in [*P.values(), *R.values(), GOOD]:
        assert check_character(number[:17]) == number[17]
