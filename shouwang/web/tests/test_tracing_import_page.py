"""The line-list import page through the test client: upload → the dry run's report (kept by sha256, nothing
written) → 确认导入 → the result; a bad file lists its errors by line and column in both languages and cannot be
confirmed; the same file is refused the second time; the template workbook; a grid worker gets 403."""

import datetime as dt
import io
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from shouwang.accounts.enums import Role
from shouwang.tracing.models import Case, LineListImport, TransmissionLink

URL = "/tracing/import/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
CASE_HEAD = ["病例编号", "姓名", "证件号码", "发现途径", "诊断分类", "临床分型", "发病日期", "采样日期", "报告时间",
             "隔离管控中发现", "本土/输入", "毒株", "转归"]
LINK_HEAD = ["传染源", "被感染者", "传播场景", "可信度", "依据"]


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = "2022-07-15"


@pytest.fixture
def people(county):
    return [county.person(name=name, area=county.building_a, seq=i + 1) for i, name in enumerate(("病例甲", "家属乙"))] \
        + [county.person(name="同事丙", area=county.grid_b, seq=3)]


def workbook(people, onset="2022-07-10") -> bytes:
    a, b, c = (p.id_number for p in people)
    wb = Workbook()
    ws = wb.active
    ws.title = "病例"
    ws.append(CASE_HEAD)
    ws.append(["LY-001", "病例甲", a, "发热门诊", "确诊病例", "轻型", onset, dt.date(2022, 7, 11), "2022-07-12 08:00",
               "否", "本土", "BA.5.2", ""])
    ws.append(["LY-002", "家属乙", b, "密接排查", "无症状感染者", "", "", "2022/7/13", "2022年7月13日", "是", "本土", "", ""])
    ws.append(["LY-003", "同事丙", c, "其他", "确诊病例", "普通型", "2022-07-12", "20220713", "2022-07-14", "", "输入", "",
               "已出院"])
    links = wb.create_sheet("传播关系")
    links.append(LINK_HEAD)
    links.append(["LY-001", "LY-002", "家庭", "明确", "同住"])
    links.append(["LY-001", "LY-003", "聚餐", "", ""])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def upload(client, data, name="名单.xlsx", **extra):
    return client.post(URL, {"file": SimpleUploadedFile(name, data)}, **extra)


def test_upload_report_confirm_and_result(county, people, client_for):
    client = client_for(county.hq)
    form = client.get(URL)
    assert form.status_code == 200
    assert 'data-testid="import-form"' in form.content.decode()
    assert 'href="/tracing/import/template.xlsx"' in form.content.decode()
    data = workbook(people)  # built once: a workbook's bytes carry the time it was saved
    sent = upload(client, data)
    assert sent.status_code == 302
    sha256 = LineListImport.objects.get().sha256
    assert sent["Location"] == f"{URL}?file={sha256}"
    report = client.get(sent["Location"])
    page = text(report)
    assert report.status_code == 200
    counts = re.findall(r'data-testid="(case-count|link-count|error-count)" ?>(\d+)<', page)
    assert counts == [("case-count", "3"), ("link-count", "2"), ("error-count", "0")]
    assert "全部无误，可以导入。" in page and 'data-testid="import-apply"' in page
    assert "1410**********0012" in page and people[0].id_number not in page  # ID numbers masked
    assert "确诊病例（轻型）" in page and "已出院" in page
    assert Case.objects.count() == 0  # the dry run writes nothing
    done = client.post(URL, {"sha256": sha256})
    assert (done.status_code, done["Location"]) == (302, f"{URL}?file={sha256}")
    result = text(client.get(done["Location"]))
    assert re.findall(r'data-testid="(cases-created|links-created)">(\d+)<', result) == [
        ("cases-created", "3"), ("links-created", "2")]
    assert re.findall(r'<span class="mono">(BL[\d-]+)</span>', result) == [
        "BL20220712-001", "BL20220713-001", "BL20220714-001"]
    assert (Case.objects.count(), TransmissionLink.objects.count()) == (3, 2)
    again = upload(client, data, name="again.xlsx")
    page = text(client.get(again["Location"]))
    assert "这个文件已经导入过，不能重复导入" in page and 'data-testid="import-apply"' not in page
    refused = client.post(URL, {"sha256": sha256})
    assert refused.status_code == 409
    assert "这个文件已经导入过，不能重复导入" in text(refused)
    assert Case.objects.count() == 3


def test_a_bad_file_lists_its_errors_by_line_and_column_and_cannot_be_confirmed(county, people, client_for):
    client = client_for(county.hq)
    sent = upload(client, workbook(people, onset="10.7.2022"))
    page = text(client.get(sent["Location"]))
    rows = re.findall(r'<tr class="bad-row" data-testid="import-error-row">(.*?)</tr>', page)
    assert [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows] == [[
        "病例", "2", "发病日期", "10.7.2022",
        "发病日期“10.7.2022”的日期格式无法识别（可写 2022-07-14、2022/7/14、2022年7月14日、20220714 或Excel日期）"]]
    assert 'data-testid="import-apply"' not in page and "有错误时不会导入任何一行。请改正后重新上传。" in page
    english = text(client.get(sent["Location"], **EN))
    assert "onset date (发病日期): unknown date format '10.7.2022'" in english
    assert "(onset date)" in english  # the column's English name beside it
    sha256 = LineListImport.objects.get().sha256
    confirm = client.post(URL, {"sha256": sha256})
    assert confirm.status_code == 422
    assert "处错误，未导入任何数据" in text(confirm)
    assert Case.objects.count() == 0


def test_a_missing_file_and_an_unreadable_one(county, client_for):
    client = client_for(county.hq)
    missing = client.post(URL, {})
    assert missing.status_code == 422 and "请选择要上传的病例名单文件" in text(missing)
    broken = upload(client, b"PK\x03\x04 not really a workbook", name="x.xlsx")
    assert broken.status_code == 422 and "无法读取该Excel文件（应为.xlsx）" in text(broken)


def test_the_template_workbook(county, client_for):
    response = client_for(county.hq).get("/tracing/import/template.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "line_list_template.xlsx" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["病例", "传播关系", "填表说明"]
    assert [c.value for c in wb["传播关系"][1]] == LINK_HEAD
    assert wb["病例"]["A2"].value == "示例1"


def test_a_grid_worker_gets_403(county, people, client_for):
    worker = client_for(county.user(Role.GRID_WORKER, county.grid_a))
    assert worker.get(URL).status_code == 403
    assert upload(worker, workbook(people)).status_code == 403
    assert worker.get("/tracing/import/template.xlsx").status_code == 403
    assert not LineListImport.objects.exists()
