"""The line-list import (shouwang/tracing/imports.py): a good file of 3 cases and 2 links checked then
applied, as a workbook and as two CSV files; each bad input refuses the whole file with its row errors and
writes nothing; the same file is refused the second time; the template's example rows are skipped; the API's
dry run and apply."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from shouwang.accounts.enums import Role
from shouwang.core.errors import DomainError
from shouwang.core.models import AuditEvent
from shouwang.people.identifiers import make_resident_id
from shouwang.status.services import status_get
from shouwang.tracing.imports import (
    line_list_apply,
    line_list_dry_run,
    line_list_get,
    parse_date,
    parse_datetime,
    template_workbook,
)
from shouwang.tracing.models import Case, Contact, LineListImport, TransmissionLink
from shouwang.tracing.services import CaseInput, case_create

CASE_HEAD = ["病例编号", "姓名", "证件号码", "发现途径", "诊断分类", "临床分型", "发病日期", "采样日期", "报告时间",
             "隔离管控中发现", "本土/输入", "毒株", "转归"]
LINK_HEAD = ["传染源", "被感染者", "传播场景", "可信度", "依据"]
REPORTED_0711 = timezone.make_aware(dt.datetime(2022, 7, 11, 9))


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


@pytest.fixture
def town(county):
    """甲 and 乙 share 1-101 in building A, 丙 lives in 东村 (the other township); the county's HQ imports."""
    return {
        "甲": county.person(name="病例甲", area=county.building_a, household=county.household_a, seq=1),
        "乙": county.person(name="家属乙", area=county.building_a, household=county.household_a, seq=2),
        "丙": county.person(name="同事丙", area=county.grid_b, seq=3),
        "hq": county.hq, "county": county,
    }


def good(town):
    cases = [
        ["LY-001", "病例甲", town["甲"].id_number, "发热门诊", "确诊病例", "轻型", "2022-07-10", dt.date(2022, 7, 11),
         "2022年7月12日", "否", "本土", "BA.5.2", ""],
        ["LY-002", "家属乙", town["乙"].id_number, "密接排查", "无症状感染者", "", "", "20220713", "2022-07-13 09:30",
         "是", "本土", "BA.5.2", ""],
        ["LY-003", "同事丙", town["丙"].id_number, "区域核酸单管阳性", "确诊病例", "普通型", "2022-07-12", "2022/7/13",
         "2022-07-14 08:00", "否", "输入", "", "已出院"],
    ]
    links = [["LY-001", "LY-002", "家庭", "明确", "同住"],
             ["LY-001", town["丙"].id_number, "聚餐", "很可能", "07-09 同桌聚餐"]]
    return cases, links


def workbook(cases, links=None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "病例"
    ws.append(CASE_HEAD)
    for row in cases:
        ws.append(row)
    if links is not None:
        ls = wb.create_sheet("传播关系")
        ls.append(LINK_HEAD)
        for row in links:
            ls.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def table(head, rows, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    for row in rows:
        writer.writerow(["" if v is None else str(v) for v in row])
    return out.getvalue().encode(encoding)


def dry(town, cases, links=None, **kw):
    return line_list_dry_run(actor=town["hq"], upload=workbook(cases, links), file_name="名单.xlsx", **kw)


def apply(town, cases, links=None):
    return line_list_apply(actor=town["hq"], upload=workbook(cases, links), file_name="名单.xlsx")


def errors_of(report):
    return [(e["sheet"], e["row"], e["column"], e["value"], e["code"]) for e in report["errors"]]


def refused(town, cases, links=None):
    """The dry run's errors; applying the same file refuses it whole and writes nothing."""
    report = dry(town, cases, links)
    assert not report["can_apply"]
    before = (Case.objects.count(), TransmissionLink.objects.count())
    with pytest.raises(DomainError) as exc:
        apply(town, cases, links)
    assert exc.value.code == "import_has_errors"
    assert [(e["row"], e["code"]) for e in exc.value.details] == [
        (e["row"], e["code"]) for e in report["errors"]]
    assert (Case.objects.count(), TransmissionLink.objects.count()) == before
    assert not LineListImport.objects.filter(applied_at__isnull=False).exists()
    return report


def test_a_good_workbook_is_checked_then_applied_whole(town):
    cases, links = good(town)
    report = dry(town, cases, links)
    assert (report["case_count"], report["link_count"], report["error_count"], report["can_apply"]) == (
        3, 2, 0, True)
    assert [(c["row"], c["external_id"], c["id_number"], c["classification"], c["sampling_date"], c["state"])
            for c in report["cases"]] == [
        (2, "LY-001", "1410**********0012", "confirmed", dt.date(2022, 7, 11), "reported"),
        (3, "LY-002", "1410**********0020", "asymptomatic", dt.date(2022, 7, 13), "reported"),
        (4, "LY-003", "1410**********0039", "confirmed", dt.date(2022, 7, 13), "discharged")]
    assert report["cases"][2]["reported_at"] == timezone.make_aware(dt.datetime(2022, 7, 14, 8))
    assert [(x["row"], x["infector"], x["infectee"], x["setting"], x["confidence"])
            for x in report["links"]] == [
        (2, "LY-001", "LY-002", "household", "confirmed"), (3, "LY-001", town["丙"].id_number, "meal", "probable")]
    assert Case.objects.count() == 0  # a dry run writes nothing

    result = apply(town, cases, links)
    assert (result["cases"], result["closed_cases"], result["links"], result["case_codes"]) == (
        3, 1, 2, ["BL20220712-001", "BL20220713-001", "BL20220714-001"])
    got = {c.source_ref: c for c in Case.objects.select_related("person", "investigation")}
    assert sorted((ref, c.code, c.person.name, c.state, c.found_by, c.classification, c.clinical_type,
                   c.origin, c.found_in_quarantine, c.lineage) for ref, c in got.items()) == [
        ("LY-001", "BL20220712-001", "病例甲", "reported", "fever_clinic", "confirmed", "mild", "local", False,
         "BA.5.2"),
        ("LY-002", "BL20220713-001", "家属乙", "reported", "contact_screening", "asymptomatic", "", "local", True,
         "BA.5.2"),
        ("LY-003", "BL20220714-001", "同事丙", "discharged", "round_screening", "confirmed", "moderate", "imported",
         False, "")]
    a, b, c = got["LY-001"], got["LY-002"], got["LY-003"]
    assert (a.onset_date, a.sampling_date, a.reported_at) == (
        dt.date(2022, 7, 10), dt.date(2022, 7, 11), timezone.make_aware(dt.datetime(2022, 7, 12)))
    assert b.reported_at == timezone.make_aware(dt.datetime(2022, 7, 13, 9, 30))
    # No contacts proposed (甲 and 乙 share a household); every investigation closed at the import.
    assert Contact.objects.count() == 0
    assert [(x.investigation.state, timezone.localdate(x.investigation.closed_at)) for x in (a, b, c)] == [
        ("done", dt.date(2022, 7, 15))] * 3
    assert a.investigation.summary == "由病例名单《名单.xlsx》导入（历史数据或外地报告），不在本平台开展流调"
    assert c.investigation.due_at == timezone.make_aware(dt.datetime(2022, 7, 15, 8))  # 24 h from the report
    assert sorted((x.infector.source_ref, x.infectee.source_ref, x.setting, x.confidence, x.evidence)
                  for x in TransmissionLink.objects.select_related("infector", "infectee")) == [
        ("LY-001", "LY-002", "household", "confirmed", "同住"), ("LY-001", "LY-003", "meal", "probable", "07-09 同桌聚餐")]
    # Active cases turn the code red; the discharged historical case does not.
    assert [status_get(p.id).colour for p in (town["甲"], town["乙"], town["丙"])] == ["red", "red", "green"]
    event = AuditEvent.objects.get(action="import", object_type="tracing.linelistimport")
    assert (event.summary, event.row_count) == (
        "导入病例名单《名单.xlsx》：新增病例3例（其中已出院或已排除1例），传播关系2条", 5)
    assert event.query["sha256"] == result["sha256"]
    assert AuditEvent.objects.filter(action="create", object_type="tracing.case").count() == 3
    assert AuditEvent.objects.filter(action="create", object_type="tracing.transmissionlink").count() == 2


def test_the_same_file_twice_is_refused(town):
    data = workbook(*good(town))  # built once: a workbook's bytes carry the time it was saved
    first = line_list_apply(actor=town["hq"], upload=data, file_name="名单.xlsx")
    with pytest.raises(DomainError) as again:
        line_list_apply(actor=town["hq"], upload=data, file_name="名单.xlsx")
    assert (again.value.code, again.value.status) == ("already_imported", 409)
    report = line_list_dry_run(actor=town["hq"], upload=data, file_name="名单.xlsx")
    assert report["already_imported"] and not report["can_apply"]
    assert ("名单.xlsx", None, "", "", "already_imported") in errors_of(report)
    assert Case.objects.count() == 3
    assert LineListImport.objects.get(applied_at__isnull=False).sha256 == first["sha256"]


def test_two_csv_files_in_gb18030_and_a_kept_upload_applied_by_its_sha256(town):
    cases, links = good(town)
    upload = SimpleUploadedFile("cases.csv", table(CASE_HEAD, cases, "gb18030"))
    links_upload = SimpleUploadedFile("links.csv", table(LINK_HEAD, links))
    report = line_list_dry_run(actor=town["hq"], upload=upload, links_upload=links_upload, keep=True)
    assert (report["file_name"], report["links_file_name"], report["case_count"], report["link_count"],
            report["errors"]) == ("cases.csv", "links.csv", 3, 2, [])
    assert line_list_get(actor=town["hq"], sha256=report["sha256"])["can_apply"]
    result = line_list_apply(actor=town["hq"], sha256=report["sha256"])
    assert (result["cases"], result["links"]) == (3, 2)
    assert line_list_get(actor=town["hq"], sha256=report["sha256"])["applied"]
    assert TransmissionLink.objects.count() == 2
    with pytest.raises(DomainError) as again:  # the same two files again
        line_list_apply(actor=town["hq"], upload=table(CASE_HEAD, cases, "gb18030"), file_name="cases.csv",
                        links_upload=table(LINK_HEAD, links), links_file_name="links.csv")
    assert again.value.code == "already_imported"


def test_an_unknown_date_format_names_the_column(town):
    cases, links = good(town)
    cases[2][6] = "07/12/2022"
    cases[1][8] = "2022.07.13"
    report = refused(town, cases, links)
    assert errors_of(report) == [("病例", 3, "报告时间", "2022.07.13", "date_format"),
                                 ("病例", 4, "发病日期", "07/12/2022", "date_format")]
    assert report["errors"][1]["message_en"] == (
        "onset date (发病日期): unknown date format '07/12/2022' (write 2022-07-14, 2022/7/14, 2022年7月14日, "
        "20220714 or an Excel date)")
    assert report["errors"][1]["message_zh"] == (
        "发病日期“07/12/2022”的日期格式无法识别（可写 2022-07-14、2022/7/14、2022年7月14日、20220714 或Excel日期）")


def test_an_unknown_id_number_asks_to_import_the_person_first(town):
    cases, links = good(town)
    stranger = make_resident_id("141027", dt.date(1990, 1, 1), 99)
    cases[1][2] = stranger
    report = refused(town, cases, links)
    assert errors_of(report) == [("病例", 3, "证件号码", stranger, "unknown_person")]
    assert report["errors"][0]["message_en"] == (
        "no person with this ID number in the registry within your jurisdiction; import the person to the "
        "registry first (导入人员名单), then the case")


def test_a_person_outside_the_jurisdiction_is_unknown(town):
    county = town["county"]
    township_a = county.user(Role.TASK_FORCE, county.township_a, username="tf-a")
    cases, _ = good(town)
    report = line_list_dry_run(actor=township_a, upload=workbook(cases), file_name="x.xlsx")
    assert errors_of(report) == [("病例", 4, "证件号码", town["丙"].id_number, "unknown_person")]


def test_a_cycle_is_refused(town):
    cases, links = good(town)
    links.append(["LY-002", "LY-001", "家庭", "", ""])
    report = refused(town, cases, links)
    assert errors_of(report) == [("传播关系", 4, "传染源", "LY-002", "cycle")]
    assert report["errors"][0]["message_zh"] == (
        "病例 LY-002 已在病例 LY-001 的下游（LY-001 → LY-002），添加 LY-002 → LY-001 会形成循环")


def test_a_second_infector_is_refused(town):
    cases, links = good(town)
    links.append(["LY-002", "LY-003", "", "", ""])
    report = refused(town, cases, links)
    assert errors_of(report) == [("传播关系", 4, "被感染者", "LY-003", "two_infectors")]
    assert report["errors"][0]["message_en"] == (
        "case LY-003 already has an infector (LY-001); a case has one infector, remove the existing link "
        "first")


def test_an_impossible_onset_is_refused(town):
    cases, links = good(town)
    cases[1][4], cases[1][6] = "确诊病例", "2022-06-20"  # 乙 ill 20 days before 甲 (07-10): more than 14
    report = refused(town, cases, links)
    assert errors_of(report) == [("传播关系", 2, "被感染者", "LY-002", "onset_before_exposure")]


def test_an_active_case_is_refused_and_links_may_name_existing_cases(town):
    existing = case_create(actor=town["hq"], data=CaseInput(
        person_id=town["甲"].id, found_by="fever_clinic", classification="confirmed", onset_date=dt.date(2022, 7, 9),
        sampling_date=dt.date(2022, 7, 10), reported_at=REPORTED_0711)).case
    cases, links = good(town)
    report = refused(town, cases, links)
    assert errors_of(report) == [("病例", 2, "证件号码", town["甲"].id_number, "already_case")]
    assert report["errors"][0]["message_zh"] == "此人已是在管病例（BL20220711-001），不能再导入"
    # Without 甲's row, the links name 甲's case by its code and by the ID number.
    links = [[existing.code, "LY-002", "家庭", "明确", ""], [town["甲"].id_number, "LY-003", "", "", ""]]
    result = apply(town, cases[1:], links)
    assert (result["cases"], result["links"]) == (2, 2)
    assert sorted(TransmissionLink.objects.values_list("infector__code", "infectee__source_ref")) == [
        ("BL20220711-001", "LY-002"), ("BL20220711-001", "LY-003")]


def test_bad_cells_are_all_listed(town):
    cases, links = good(town)
    cases[0][3] = "路过"  # 发现途径
    cases[0][9] = "也许"  # 隔离管控中发现
    cases[1][5] = "轻型"  # a clinical type on an asymptomatic case
    cases[2][1] = "同事"  # not the registry's name
    links[1][1] = "LY-009"
    report = refused(town, cases, links)
    assert errors_of(report) == [
        ("病例", 2, "发现途径", "路过", "invalid_choice"),
        ("病例", 2, "隔离管控中发现", "也许", "invalid_choice"),
        ("病例", 3, "临床分型", "轻型", "not_confirmed"),
        ("病例", 4, "姓名", "同事", "name_mismatch"),
        ("传播关系", 3, "被感染者", "LY-009", "unknown_case")]


def test_the_template_parses_and_its_examples_are_skipped(town):
    data = template_workbook()
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["病例", "传播关系", "填表说明"]
    assert [c.value for c in wb["病例"][1]] == CASE_HEAD
    assert [sum(1 for r in wb[name].iter_rows(values_only=True) if any(r)) for name in ("病例", "传播关系")] == [4, 3]
    report = line_list_dry_run(actor=town["hq"], upload=data, file_name="template.xlsx")
    assert (report["case_count"], report["link_count"], report["examples_skipped"], report["errors"],
            report["can_apply"]) == (0, 0, 5, [], False)
    with pytest.raises(DomainError) as empty:
        line_list_apply(actor=town["hq"], upload=data, file_name="template.xlsx")
    assert empty.value.code == "import_empty"


def test_dates_in_every_accepted_form():
    forms = ("2022-07-04", "2022/7/4", "2022年7月4日", "20220704", 20220704, dt.datetime(2022, 7, 4),
             dt.date(2022, 7, 4))
    assert {parse_date(v, "发病日期") for v in forms} == {dt.date(2022, 7, 4)}
    assert parse_date("", "发病日期") is None
    for bad in ("07/04/2022", "2022.7.4", "4 July 2022", "2022-07-04 08:00", 44746):
        with pytest.raises(Exception) as exc:
            parse_date(bad, "发病日期")
        assert exc.value.code == "date_format"
    with pytest.raises(Exception) as exc:
        parse_date("2022-02-30", "发病日期")
    assert exc.value.code == "date_invalid"
    assert parse_datetime("2022年7月4日 8时30分", "报告时间") == timezone.make_aware(dt.datetime(2022, 7, 4, 8, 30))
    assert parse_datetime("2022/7/4 08:30:15", "报告时间") == timezone.make_aware(dt.datetime(2022, 7, 4, 8, 30, 15))


def test_only_case_managers_import(town):
    county = town["county"]
    worker = county.user(Role.GRID_WORKER, county.grid_a)
    cases, links = good(town)
    with pytest.raises(DomainError) as denied:
        line_list_dry_run(actor=worker, upload=workbook(cases, links), file_name="x.xlsx")
    assert denied.value.status == 403


def test_the_api_checks_then_applies(town, client_for):
    cases, links = good(town)
    client = client_for(town["hq"])
    data = workbook(cases, links)
    checked = client.post("/api/v1/tracing/import?dry_run=true",
                          {"file": SimpleUploadedFile("名单.xlsx", data)})
    assert checked.status_code == 200, checked.content
    body = checked.json()
    assert (body["case_count"], body["link_count"], body["can_apply"], body["cases"][0]["sampling_date"]) == (
        3, 2, True, "2022-07-11")
    assert Case.objects.count() == 0
    bad_cases = [list(r) for r in cases]
    bad_cases[0][6] = "7/10"
    bad = client.post("/api/v1/tracing/import?dry_run=false",
                      {"file": SimpleUploadedFile("b.xlsx", workbook(bad_cases))}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert [(d["row"], d["column"], d["code"]) for d in bad.json()["details"]] == [(2, "发病日期", "date_format")]
    done = client.post("/api/v1/tracing/import?dry_run=false", {"file": SimpleUploadedFile("名单.xlsx", data)})
    assert done.status_code == 201, done.content
    assert (done.json()["cases"], done.json()["links"]) == (3, 2)
    again = client.post("/api/v1/tracing/import?dry_run=false", {"file": SimpleUploadedFile("名单.xlsx", data)})
    assert (again.status_code, again.json()["code"]) == (409, "already_imported")
    two = client.post("/api/v1/tracing/import", {
        "file": SimpleUploadedFile("c.csv", table(CASE_HEAD, cases)),
        "links_file": SimpleUploadedFile("l.csv", table(LINK_HEAD, links))})
    assert (two.status_code, two.json()["links_file_name"], two.json()["link_count"]) == (200, "l.csv", 2)
    worker = town["county"].user(Role.GRID_WORKER, town["county"].grid_a)
    denied = client_for(worker).post("/api/v1/tracing/import?dry_run=true",
                                     {"file": SimpleUploadedFile("名单.xlsx", data)})
    assert denied.status_code == 403


def test_an_active_case_closes_its_contact_row_and_a_historical_one_leaves_it(town):
    """A neighbouring county's case in a 方舱 goes through case_create (乙, proposed as 甲's household contact,
    became this case); 丙's discharged case of May does not touch 丙's current close contact."""
    from shouwang.tracing.services import contact_add

    first = case_create(actor=town["hq"], data=CaseInput(
        person_id=town["甲"].id, found_by="fever_clinic", classification="confirmed", onset_date=dt.date(2022, 7, 9),
        sampling_date=dt.date(2022, 7, 10), reported_at=REPORTED_0711)).case
    contact_add(actor=town["hq"], case_id=first.id, person_id=town["丙"].id, setting="work", criterion="5",
                last_exposure=dt.date(2022, 7, 10))
    assert Contact.objects.get(person=town["乙"]).state == "proposed"
    cases = [["WX-7", "家属乙", town["乙"].id_number, "密接排查", "确诊病例", "轻型", "2022-07-12", "2022-07-13",
              "2022-07-13 20:00", "是", "本土", "", "方舱医院"],
             ["WX-1", "同事丙", town["丙"].id_number, "发热门诊", "确诊病例", "轻型", "2022-05-01", "2022-05-02",
              "2022-05-03", "否", "本土", "BA.2", "已出院"]]
    result = apply(town, cases, [[first.code, "WX-7", "家庭", "明确", ""]])
    assert (result["cases"], result["closed_cases"], result["links"], result["case_codes"]) == (
        2, 1, 1, ["BL20220503-001", "BL20220713-001"])
    yi = Case.objects.get(source_ref="WX-7")
    assert (yi.state, yi.state_note, yi.investigation.state) == ("fangcang", "病例名单导入", "done")
    assert Contact.objects.get(person=town["乙"]).state == "became_case"
    assert Contact.objects.get(person=town["丙"]).state == "identified"
    assert (status_get(town["乙"].id).rule, status_get(town["丙"].id).rule) == ("K1", "K2")  # 丙's stay
    bing = Case.objects.get(source_ref="WX-1")
    assert (bing.code, bing.state, bing.investigation.due_at) == (
        "BL20220503-001", "discharged", timezone.make_aware(dt.datetime(2022, 5, 4)))
