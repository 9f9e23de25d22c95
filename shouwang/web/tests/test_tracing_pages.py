"""The tracing pages through the test client: the case list (the investigation clock, contacts per state, filters)
and the report form with its errors in both languages; a case's file (window, itinerary, proposals with their
evidence) accepting proposals over htmx and rejecting one with a reason, advancing a contact, a manual contact, a
transmission link refused as a cycle, the case's course; the chains with their closed and open badges and a
chain's graph; the tracer's work list; who may open and change what."""

import datetime as dt
import json
import re
from html import unescape

import pytest

from shouwang.accounts.enums import Role
from shouwang.core import clock
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.core.models import AuditEvent
from shouwang.people.identifiers import make_resident_id
from shouwang.tracing.models import Case, Contact, TransmissionLink
from shouwang.tracing.services import CaseInput, case_create, contact_advance, contacts_decide, link_add
from shouwang.tracing.tests.town import at, build_town

HX = {"HTTP_HX_REQUEST": "true"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


NOW = at(15, 10)


@pytest.fixture(autouse=True)
def business_day(settings, monkeypatch):
    """07-15 10:00 on the business clock (the investigation clock and the work list count from it)."""
    settings.SHOUWANG_TODAY = "2022-07-15"
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def town(county):
    """build_town (shouwang/tracing/tests/town.py) with township users of both townships, a grid worker of B and a
    sampler."""
    return {**build_town(county),
            "town_a": county.user(Role.TOWNSHIP, county.township_a, username="town-a"),
            "town_b": county.user(Role.TOWNSHIP, county.township_b, username="town-b"),
            "grid_b": county.user(Role.GRID_WORKER, county.grid_b, username="grid-b"),
            "sampler": county.user(Role.SAMPLER, county.township_a, username="sampler-1")}


def report(town, name="病例甲", **kw):
    data = dict(person_id=town["p"][name].id, found_by="fever_clinic", classification="confirmed",
                clinical_type="mild", onset_date=dt.date(2022, 7, 12), sampling_date=dt.date(2022, 7, 13),
                reported_at=at(14, 8), isolated_on=dt.date(2022, 7, 14))
    data.update(kw)
    return case_create(actor=town["hq"], data=CaseInput(**data)).case


def east_case(town, name="病例壬", seq=20, onset=dt.date(2022, 7, 14)):
    """An asymptomatic case in 东村 (township B), reported 07-15 07:00: its clock runs to 07-16 07:00."""
    county = town["county"]
    person = county.person(name=name, area=county.grid_b, seq=seq)
    return case_create(actor=town["hq"], data=CaseInput(
        person_id=person.id, found_by="key_group", classification="asymptomatic", onset_date=onset,
        sampling_date=dt.date(2022, 7, 15), reported_at=at(15, 7))).case


def text(response) -> str:
    return unescape(response.content.decode())


def contact_of(town, name) -> Contact:
    return Contact.objects.get(person=town["p"][name])


# ---- the case list and the report form -----------------------------------------------------------------------


def test_the_case_list_shows_the_clock_and_the_contacts_per_state_and_filters(town, client_for):
    a = report(town)
    b = east_case(town)
    contacts_decide(actor=town["hq"], contact_ids=[contact_of(town, "家属乙").id], accept=True)
    hq = client_for(town["hq"])
    listed = hq.get("/tracing/")
    assert listed.status_code == 200
    rows = listed.context["rows"]
    assert [(r["case"].code, r["name"], r["where"], r["found_by"], r["classification"], r["clinical_type"],
             r["state"]) for r in rows] == [
        (b.code, "病*壬", "东村网格", "重点人群筛查", "无症状感染者", "", "已报告"),
        (a.code, "病*甲", "第一网格", "发热门诊", "确诊病例", "轻型", "已报告")]
    assert (a.code, b.code) == ("BL20220714-001", "BL20220715-001")
    assert [(r["clock"]["state"], r["clock"]["hours"]) for r in rows] == [("open", 21), ("overdue", 2)]
    assert [[(s["label"], s["n"]) for s in r["contacts"]] for r in rows] == [[], [("待确认", 2), ("已判定", 1)]]
    html = text(listed)
    assert re.search(r'data-testid="clock" data-state="overdue">超时 2 小时<', html)
    assert re.search(r'data-testid="clock" data-state="open">剩余 21 小时<', html)
    assert "病例甲" not in html and "病*甲" in html
    assert 'data-testid="report-form"' in html and "共 2 例" in html
    english = text(hq.get("/tracing/", **EN))
    assert re.search(r'data-state="overdue">2 h overdue<', english) and re.search(r'data-state="open">21 h left<', english)
    assert "Report a case" in english and "2 cases" in english and ">Tracing<" in english

    assert [r["case"].code for r in hq.get("/tracing/", {"q": "壬"}).context["rows"]] == [b.code]
    assert [r["case"].code for r in hq.get("/tracing/", {"q": "BL20220714"}).context["rows"]] == [a.code]
    assert hq.get("/tracing/", {"state": "excluded"}).context["rows"] == []
    assert "没有符合条件的病例。" in text(hq.get("/tracing/", {"state": "excluded"}))

    east = client_for(town["town_b"]).get("/tracing/")  # township B: its own case; may trace, not report
    assert [r["case"].code for r in east.context["rows"]] == [b.code]
    assert 'data-testid="report-form"' not in east.content.decode()
    assert client_for(town["sampler"]).get("/tracing/").status_code == 403
    assert client_for(town["town_a"]).post("/tracing/", {}).status_code == 403  # no tracing.case


def test_the_report_form_reports_a_case_and_gives_each_error_under_its_field_in_both_languages(town, client_for):
    p = town["p"]
    hq = client_for(town["hq"])

    def post(number, client=hq, lang=None, **kw):
        data = {"id_number": number, "found_by": "fever_clinic", "classification": "confirmed",
                "clinical_type": "moderate", "onset_date": "2022-07-13", "sampling_date": "2022-07-14",
                "isolated_on": "2022-07-14"}
        data.update(kw)
        return client.post("/tracing/", data, **(EN if lang == "en" else {}))

    made = post(p["病例甲"].id_number.lower())  # a lower-case x is read as X
    case = Case.objects.get(person=p["病例甲"])
    assert made.status_code == 302 and made.url == f"/tracing/cases/{case.id}/"
    assert (case.code, case.found_by, case.classification, case.clinical_type, case.onset_date, case.sampling_date,
            case.isolated_on, case.created_by) == ("BL20220715-001", "fever_clinic", "confirmed", "moderate",
                                                   dt.date(2022, 7, 13), dt.date(2022, 7, 14),
                                                   dt.date(2022, 7, 14), town["hq"])
    assert case.reported_at == NOW and case.investigation.due_at == at(16, 10)
    page = hq.get(made.url)
    assert "已报告病例 BL20220715-001：行程 1 条，待确认密接 3 人" in text(page)

    again = post(p["病例甲"].id_number)
    assert again.status_code == 409
    e = again.context["errors"]["id_number"]
    assert (e["code"], e["msg"], e["other"]) == ("already_case", "此人已是在管病例", "this person is already an active case")
    garbled = post("12345")
    assert garbled.status_code == 422 and garbled.context["errors"]["id_number"]["code"] == "id_number_format"
    assert 'value="12345"' in text(garbled)
    unknown = post(make_resident_id("141027", dt.date(1985, 3, 14), 999))
    assert (unknown.status_code, unknown.context["errors"]["id_number"]["msg"]) == (404, "人员不存在或不在您的辖区内")
    east = post(p["东村辛"].id_number, client=client_for(town["county"].user(Role.TASK_FORCE, town["county"]
                                                                                .township_a)))
    assert east.context["errors"]["id_number"]["code"] == "not_found"  # township B's person: not in A

    future = post(p["家属乙"].id_number, sampling_date="2022-07-16")
    assert future.status_code == 422
    e = future.context["errors"]["sampling_date"]
    assert (e["code"], e["msg"], e["other"]) == ("in_future", "日期不能晚于今天", "the date cannot be after today")
    typed = post(p["家属乙"].id_number, classification="asymptomatic", clinical_type="severe")
    assert typed.context["errors"]["clinical_type"]["msg"] == "只有确诊病例有临床分型"
    several = post(p["家属乙"].id_number, found_by="", sampling_date="7/14", onset_date="")
    assert several.status_code == 422 and sorted(several.context["errors"]) == ["found_by", "sampling_date"]
    assert several.context["errors"]["found_by"]["msg"] == "请选择发现途径"
    assert several.context["errors"]["sampling_date"]["msg"] == "请填写日期，如 2022-07-15"

    english = post(p["家属乙"].id_number, lang="en", sampling_date="2022-07-16")
    e = english.context["errors"]["sampling_date"]
    assert (e["msg"], e["other"]) == ("the date cannot be after today", "日期不能晚于今天")
    html = text(english)
    assert "The date cannot be after today" in html and "日期不能晚于今天" in html
    english = post(p["家属乙"].id_number, lang="en", found_by="")
    assert english.context["errors"]["found_by"]["msg"] == "choose how the case was found"
    assert Case.objects.count() == 1


# ---- a case's file ---------------------------------------------------------------------------------------------


def test_the_case_file_shows_the_window_the_itinerary_and_the_proposals_with_their_evidence(town, client_for):
    a = report(town)
    page = client_for(town["hq"]).get(f"/tracing/cases/{a.id}/")
    assert page.status_code == 200
    ctx = page.context
    assert (ctx["lookback"].start, ctx["lookback"].end) == (dt.date(2022, 7, 10), dt.date(2022, 7, 14))
    assert ctx["because"] == [{"rule": "C1", "text": "发病（或采样）前2天起：2022-07-10 至 2022-07-14"
                                                     "（部分省份放宽到4天（地方做法，可作本地覆盖））"}]
    assert [(e.place, e.source) for e in ctx["events"]] == [("城关农贸市场", "scan")]
    assert [(r["name"], r["id_number"], r["kind"], [(e["found_via"], e["evidence"], e["last_exposure"])
                                                    for e in r["exposures"]]) for r in ctx["proposed"]] == [
        ("家*乙", mask_id_number(town["p"]["家属乙"].id_number), "密切接触者",
         [("同户登记", "同户共同居住", dt.date(2022, 7, 14))]),
        ("家*丙", mask_id_number(town["p"]["家属丙"].id_number), "密切接触者",
         [("同户登记", "同户共同居住", dt.date(2022, 7, 14))]),
        ("同*丁", mask_id_number(town["p"]["同场丁"].id_number), "密切接触者",
         [("场所码时空伴随", "场所码时空伴随：城关农贸市场，前后30分钟内同场1次，末次 07-12 10:30", dt.date(2022, 7, 12))])]
    html = text(page)
    assert re.search(r'data-testid="clock" data-state="overdue">超时 2 小时<', html)
    assert 'data-testid="window-range">2022-07-10 — 2022-07-14<' in html
    assert html.count('data-testid="proposal"') == 3 and html.count('data-testid="event-row"') == 1
    assert "家属乙" not in html and town["p"]["家属乙"].id_number not in html
    assert all(f in html for f in ('data-testid="decide-form"', 'data-testid="contact-form"',
                                   'data-testid="link-form"', 'data-testid="update-form"'))
    opened = AuditEvent.objects.filter(action="view", object_type="tracing.case", object_id=str(a.id))
    assert [(e.summary, e.row_count) for e in opened] == [(f"查看病例 {a.code}（密接3人）", 3)]

    grid_a = client_for(town["county"].user(Role.GRID_WORKER, town["county"].grid_a)).get(f"/tracing/cases/{a.id}/")
    html = text(grid_a)  # reads, decides nothing
    assert grid_a.status_code == 200 and 'data-testid="proposal-check"' not in html
    assert 'data-testid="accept"' not in html and 'data-testid="contact-form"' not in html
    assert client_for(town["grid_b"]).get(f"/tracing/cases/{a.id}/").status_code == 404  # township B's worker
    assert client_for(town["sampler"]).get(f"/tracing/cases/{a.id}/").status_code == 403
    assert client_for(town["town_b"]).post(f"/tracing/cases/{a.id}/contacts/decide/",
                                           {"contact_ids": [contact_of(town, "家属乙").id]}).status_code == 404


def test_proposals_are_accepted_over_htmx_and_one_is_rejected_with_a_reason(town, client_for):
    a = report(town)
    town_a = client_for(town["town_a"])  # a township tracer: tracing.trace
    url = f"/tracing/cases/{a.id}/contacts/decide/"
    yi, bing, ding = (contact_of(town, n).id for n in ("家属乙", "家属丙", "同场丁"))

    accepted = town_a.post(url, {"contact_ids": [yi, bing], "decision": "accept"}, **HX)
    assert accepted.status_code == 200 and accepted.templates[0].name == "web/tracing/_contacts.html"
    assert accepted.context["done"] == "已确认密接 2 人"
    assert [r["name"] for r in accepted.context["proposed"]] == ["同*丁"]
    assert [(r["name"], r["state"], r["c"].release_on, r["c"].plan_note) for r in accepted.context["decided"]] == [
        ("家*乙", "已判定", dt.date(2022, 7, 24), "集中隔离医学观察7天；居家健康监测3天"),
        ("家*丙", "已判定", dt.date(2022, 7, 24), "集中隔离医学观察7天；居家健康监测3天")]
    html = text(accepted)
    assert html.startswith('<section id="contacts"') and 'data-testid="contacts-done">已确认密接 2 人<' in html
    assert html.count('data-testid="advance"') == 6  # 已通知, 已转运, 管控中 for each

    no_reason = town_a.post(url, {"contact_ids": [ding], "decision": "reject", "note": " "}, **HX)
    e = no_reason.context["decide_error"]
    assert (no_reason.status_code, e["field"], e["msg"], e["other"]) == (
        200, "note", "排除时请填写理由", "give a reason for rejecting")
    assert 'data-testid="decide-error" data-code="required"' in text(no_reason)
    assert contact_of(town, "同场丁").state == "proposed"
    rejected = town_a.post(url, {"contact_ids": [ding], "decision": "reject", "note": "戴口罩，距离较远"}, **HX)
    assert rejected.context["done"] == "已排除 1 人：戴口罩，距离较远"
    assert (contact_of(town, "同场丁").state, contact_of(town, "同场丁").note) == ("rejected", "戴口罩，距离较远")
    assert rejected.context["proposed"] == [] and "没有待确认的密接。" in text(rejected)

    stale = town_a.post(url, {"contact_ids": [yi], "decision": "accept"}, **HX)
    assert stale.context["decide_error"]["code"] == "not_proposed"
    nothing = town_a.post(url, {"decision": "accept"})  # a plain form: the page again, with the error
    assert nothing.status_code == 422 and nothing.templates[0].name == "web/tracing/case.html"
    assert nothing.context["decide_error"]["msg"] == "请选择密接"
    assert client_for(town["county"].user(Role.GRID_WORKER, town["county"].grid_a)).post(
        url, {"contact_ids": [yi], "decision": "accept"}).status_code == 403


def test_a_contact_is_advanced_step_by_step(town, client_for):
    a = report(town)
    yi = contact_of(town, "家属乙")
    contacts_decide(actor=town["hq"], contact_ids=[yi.id], accept=True)
    hq = client_for(town["hq"])
    url = f"/tracing/cases/{a.id}/contacts/{yi.id}/advance/"
    notified = hq.post(url, {"state": "notified"}, **HX)
    assert notified.context["done"] == "家*乙：已通知"
    row = next(r for r in notified.context["decided"] if r["c"].id == yi.id)
    assert ([s["label"] for s in row["next"]], row["c"].notified_at) == (["已转运", "管控中"], NOW)
    plain = hq.post(url, {"state": "transferred"})
    assert plain.status_code == 302 and plain.url == f"/tracing/cases/{a.id}/#contacts"
    back = hq.post(url, {"state": "notified"}, **HX)
    e = back.context["advance_error"]
    assert (e["code"], e["msg"], e["other"]) == ("bad_transition", "不能从“已转运”变为“已通知”",
                                                 "cannot go from transferred to notified")
    hq.post(url, {"state": "under_measure"}, **HX)
    released = hq.post(url, {"state": "released"}, **HX)
    assert released.context["done"] == "家*乙：已解除"
    yi.refresh_from_db()
    assert (yi.state, yi.transferred_at, yi.measure_at, yi.closed_at) == ("released", NOW, NOW, NOW)
    assert 'data-state="released"' in text(released)
    other = report(town, name="东村辛", onset_date=None, classification="asymptomatic", clinical_type="",
                   sampling_date=dt.date(2022, 7, 15), reported_at=at(15, 9), isolated_on=None)
    stranger = hq.post(f"/tracing/cases/{other.id}/contacts/{yi.id}/advance/", {"state": "released"}, **HX)
    assert stranger.context["advance_error"]["code"] == "not_found"  # not a contact of that case


def test_a_manual_contact_is_identified_with_its_plan_and_errors_stay_by_the_field(town, client_for):
    a = report(town)
    p = town["p"]
    hq = client_for(town["hq"])
    url = f"/tracing/cases/{a.id}/contacts/add/"

    def post(number, **kw):
        data = {"id_number": number, "kind": "close", "setting": "work", "criterion": "5",
                "last_exposure": "2022-07-12", "evidence": "同一办公室"}
        data.update(kw)
        return hq.post(url, data)

    added = post(p["东村辛"].id_number)  # lives in township B: a contact may live anywhere
    xin = contact_of(town, "东村辛")
    assert added.status_code == 302 and added.url == f"/tracing/cases/{a.id}/#contact-{xin.id}"
    assert (xin.kind, xin.state, xin.case_id, xin.last_exposure, xin.release_on) == (
        "close", "identified", a.id, dt.date(2022, 7, 12), dt.date(2022, 7, 22))
    assert "已判定密切接触者：东*辛，预计 2022-07-22 解除" in text(hq.get(f"/tracing/cases/{a.id}/"))

    early = post(p["晚到己"].id_number, last_exposure="2022-07-09")
    assert early.status_code == 422
    e = early.context["contact_errors"]["last_exposure"]
    assert (e["code"], e["msg"]) == ("before_window", "末次暴露早于追踪时段（2022-07-10 起），不判定为密接")
    assert "The last exposure is before the look-back window (from 2022-07-10)" in text(early)
    assert 'id="contact-form" open data-testid="contact-form-box"' in text(early)  # the form stays open
    unknown = post(make_resident_id("141027", dt.date(1985, 3, 14), 999))
    assert (unknown.status_code, unknown.context["contact_errors"]["id_number"]["code"]) == (404, "not_found")
    no_setting = post(p["晚到己"].id_number, setting="")
    assert no_setting.context["contact_errors"]["setting"]["msg"] == "暴露场景不存在"
    no_via = post(p["晚到己"].id_number, kind="secondary")
    assert no_via.context["contact_errors"]["via_contact_id"]["msg"] == "请选择关联的密接"
    secondary = post(p["晚到己"].id_number, kind="secondary", setting="household", criterion="1",
                     via_contact_id=str(xin.id), last_exposure="2022-07-15")
    assert secondary.status_code == 302
    ji = contact_of(town, "晚到己")
    # at home from the decision (home quarantine, shouwang/response): under measure at once
    assert (ji.kind, ji.via_id, ji.state, ji.release_on) == ("secondary", xin.id, "under_measure",
                                                            dt.date(2022, 7, 22))
    is_case = post(p["病例甲"].id_number)
    assert (is_case.status_code, is_case.context["contact_errors"]["id_number"]["code"]) == (409, "is_case")
    assert client_for(town["county"].user(Role.GRID_WORKER, town["county"].grid_a)).post(
        url, {"id_number": p["窗外庚"].id_number}).status_code == 403


def test_a_link_is_added_by_the_infectors_code_and_a_cycle_is_refused(town, client_for):
    a = report(town)
    b = east_case(town)
    hq = client_for(town["hq"])
    added = hq.post(f"/tracing/cases/{b.id}/links/add/", {"infector_code": a.code.lower(), "setting": "household",
                                                           "confidence": "confirmed", "evidence": "同住"})
    assert added.status_code == 302 and added.url == f"/tracing/cases/{b.id}/#links"
    link = TransmissionLink.objects.get()
    assert (link.infector_id, link.infectee_id, link.setting, link.confidence) == (a.id, b.id, "household",
                                                                                  "confirmed")
    page = hq.get(f"/tracing/cases/{b.id}/")
    assert page.context["infected_by"]["case"] == a and 'data-testid="link-form"' not in page.content.decode()
    assert "已添加传播关系 BL20220714-001 → BL20220715-001" in text(page)
    assert [r["case"] for r in hq.get(f"/tracing/cases/{a.id}/").context["infected"]] == [b]

    cycle = hq.post(f"/tracing/cases/{a.id}/links/add/", {"infector_code": b.code})
    assert cycle.status_code == 409
    e = cycle.context["link_errors"]["infector_code"]
    assert (e["code"], e["msg"]) == ("cycle", f"病例 {b.code} 已在病例 {a.code} 的下游（{a.code} → {b.code}），"
                                              f"添加 {b.code} → {a.code} 会形成循环")
    assert e["other"] == (f"case {b.code} is already downstream of case {a.code} ({a.code} → {b.code}); "
                          f"the link {b.code} → {a.code} would make a cycle")
    assert 'data-testid="link-error" data-code="cycle"' not in text(cycle)  # under the field, not above
    assert "会形成循环" in text(cycle) and 'data-testid="field-error"' in text(cycle)
    unknown = hq.post(f"/tracing/cases/{a.id}/links/add/", {"infector_code": "BL20220701-009"})
    assert (unknown.status_code, unknown.context["link_errors"]["infector_code"]["msg"]) == (
        404, "病例不存在或不在您的辖区内")
    assert TransmissionLink.objects.count() == 1
    assert client_for(town["town_a"]).post(f"/tracing/cases/{a.id}/links/add/",
                                           {"infector_code": b.code}).status_code == 403


def test_the_case_moves_through_its_course_and_excluding_it_needs_a_reason(town, client_for):
    a = report(town)
    hq = client_for(town["hq"])
    url = f"/tracing/cases/{a.id}/update/"
    no_reason = hq.post(url, {"state": "excluded", "classification": "confirmed", "clinical_type": "mild"})
    e = no_reason.context["update_errors"]["note"]
    assert (no_reason.status_code, e["msg"], e["other"]) == (422, "排除病例请填写理由",
                                                             "give the reason for excluding the case")
    moved = hq.post(url, {"state": "fangcang", "classification": "confirmed", "clinical_type": "moderate",
                          "lineage": "BA.5.2", "onset_date": "2022-07-12", "isolated_on": "2022-07-14"})
    assert moved.status_code == 302 and moved.url == f"/tracing/cases/{a.id}/"
    a.refresh_from_db()
    assert (a.state, a.clinical_type, a.lineage) == ("fangcang", "moderate", "BA.5.2")
    page = hq.get(f"/tracing/cases/{a.id}/")
    assert page.context["state"] == "方舱医院"
    assert [v for v, _label in page.context["next_states"]] == ["hospital", "discharged"]
    done = hq.post(f"/tracing/cases/{a.id}/investigation/", {"done": "1"})
    assert done.status_code == 302
    page = hq.get(f"/tracing/cases/{a.id}/")
    assert page.context["clock"]["state"] == "done" and 'data-state="done">流调已完成<' in text(page)


# ---- chains and the work list ---------------------------------------------------------------------------------


def test_the_chains_show_closed_and_open_badges_and_a_chain_graph(town, client_for):
    hq_user = town["hq"]
    a = report(town)
    b = east_case(town)
    c = east_case(town, name="病例癸", seq=21)
    link_add(actor=hq_user, infector_id=a.id, infectee_id=b.id, setting="household")
    hq = client_for(hq_user)
    listed = hq.get("/tracing/chains/")
    rows = listed.context["rows"]
    assert [(r["v"].root.code, r["v"].size, r["v"].max_generation, r["v"].contacts, r["v"].open_contacts,
             r["v"].closed, r["target"]) for r in rows] == [
        (a.code, 2, 2, 3, 3, False, a), (c.code, 1, 1, 0, 0, True, c)]
    html = text(listed)
    assert re.findall(r'data-testid="chain-badge" data-closed="(\d)">([^<]+)<', html) == [
        ("0", "未闭环"), ("1", "已闭环")]
    assert (listed.context["linked"], listed.context["single"], listed.context["open"]) == (1, 1, 1)

    ids = [contact_of(town, n).id for n in ("家属乙", "家属丙")]
    contacts_decide(actor=hq_user, contact_ids=ids, accept=True)
    for cid in ids:
        contact_advance(actor=hq_user, contact_id=cid, state="transferred")
    contacts_decide(actor=hq_user, contact_ids=[contact_of(town, "同场丁").id], accept=False, note="距离较远")
    contact_advance(actor=hq_user, contact_id=ids[0], state="under_measure")
    html = text(hq.get("/tracing/chains/"))
    assert re.findall(r'data-testid="chain-badge" data-closed="(\d)">([^<]+)<', html) == [
        ("1", "已闭环"), ("1", "已闭环")]

    graph = hq.get(f"/tracing/cases/{b.id}/chain/")  # any case of the chain opens it
    assert graph.status_code == 200
    assert [(n["generation"], n["kindLabel"], n["name"], n["state"], n["controlled"], n["from"])
            for n in graph.context["table"]] == [
        (1, "病例", a.code, "已报告", False, ""),
        (2, "病例", b.code, "已报告", False, a.code),
        (2, "密切接触者", "家*乙", "管控中", True, a.code),
        (2, "密切接触者", "家*丙", "已转运", True, a.code)]
    data = json.loads(re.search(r'<script id="chain-data" type="application/json">(.*?)</script>',
                                graph.content.decode(), re.S).group(1))
    assert [(n["id"], n["itemStyle"]["color"], n.get("url")) for n in data["nodes"]] == [
        (f"case-{a.id}", "#c62828", f"/tracing/cases/{a.id}/"), (f"case-{b.id}", "#c62828", f"/tracing/cases/{b.id}/"),
        (f"contact-{ids[0]}", "#9e9e9e", None), (f"contact-{ids[1]}", "#9e9e9e", None)]
    assert sorted((e["source"], e["target"], e["kind"]) for e in data["edges"]) == sorted([
        (f"case-{a.id}", f"case-{b.id}", "link"), (f"case-{a.id}", f"contact-{ids[0]}", "exposure"),
        (f"case-{a.id}", f"contact-{ids[1]}", "exposure")])
    html = text(graph)
    assert 'id="chain-graph"' in html and "vendor/echarts.min.js" in html
    assert html.count('data-testid="node-row"') == 4 and "家属乙" not in html

    east = client_for(town["town_b"])  # the chain reaches into 东村: township B sees it, opens it from its case
    rows = east.get("/tracing/chains/").context["rows"]
    assert [(r["v"].root.code, r["root_visible"], r["target"]) for r in rows] == [(a.code, False, b), (c.code, True, c)]
    assert east.get(f"/tracing/cases/{b.id}/chain/").status_code == 200
    assert east.get(f"/tracing/cases/{a.id}/chain/").status_code == 404
    assert client_for(town["sampler"]).get("/tracing/chains/").status_code == 403


def test_a_cluster_is_marked_by_case_codes_and_listed_under_the_chains(town, client_for):
    a = report(town)
    b = east_case(town)
    hq = client_for(town["hq"])
    bad = hq.post("/tracing/clusters/add/", {"name": "农贸市场聚集", "setting": "venue", "codes": f"{a.code} BL00000000-009"})
    assert bad.status_code == 422
    assert bad.context["cluster_errors"]["case_ids"]["msg"] == "辖区内没有病例 BL00000000-009"
    few = hq.post("/tracing/clusters/add/", {"name": "农贸市场聚集", "setting": "venue", "codes": a.code})
    assert (few.status_code, few.context["cluster_errors"]["case_ids"]["other"]) == (
        422, "a cluster has at least 2 cases")
    done = hq.post("/tracing/clusters/add/", {"name": "城关农贸市场聚集性疫情", "setting": "venue",
                                              "codes": f"{a.code.lower()}，{b.code}", "note": "同一摊位"})
    assert done.status_code == 302
    page = hq.get("/tracing/chains/")
    assert [(c["v"].cluster.name, c["setting"], [x["case"].code for x in c["cases"]]) for c in page.context["clusters"]] == [
        ("城关农贸市场聚集性疫情", "公共场所", [a.code, b.code])]
    assert 'data-testid="cluster-form"' in text(page)
    assert 'href="/tracing/import/"' in text(page)  # the import is offered to those who may report cases
    grid = client_for(town["county"].user(Role.GRID_WORKER, town["county"].grid_a, username="grid-a1"))
    assert 'data-testid="cluster-form"' not in text(grid.get("/tracing/chains/"))
    assert 'href="/tracing/import/"' not in text(grid.get("/tracing/chains/"))
    assert grid.post("/tracing/clusters/add/", {"name": "x", "setting": "venue", "codes": ""}).status_code == 403


def test_the_work_list_counts_what_is_late_and_links_to_it(town, client_for):
    a = report(town)
    east_case(town)
    hq_user = town["hq"]
    hq = client_for(hq_user)
    work = hq.get("/tracing/work/")
    assert work.status_code == 200
    ctx = work.context
    assert [(r["case"].code, r["clock"]["hours"]) for r in ctx["overdue"]] == [(a.code, 2)]
    assert [r["case"].code for r in ctx["open"]] == ["BL20220715-001"]
    assert [(r["case"].code, r["n"], r["link"]) for r in ctx["to_decide"]] == [(a.code, 3, True)]
    assert (ctx["proposed_total"], ctx["uncontacted"], ctx["transfer_overdue"]) == (3, [], [])

    ids = [contact_of(town, n).id for n in ("家属乙", "家属丙")]
    contacts_decide(actor=hq_user, contact_ids=ids, accept=True)  # identified at 07-15 10:00
    Contact.objects.filter(id=ids[0]).update(identified_at=at(14, 20))  # 14 hours ago: 2 past the 12-hour limit
    contact_advance(actor=hq_user, contact_id=ids[1], state="notified")
    work = hq.get("/tracing/work/")
    ctx = work.context
    assert [(r["name"], r["hours"]) for r in ctx["uncontacted"]] == [("家*乙", 14.0)]
    assert [(r["name"], r["state"], r["overdue"]) for r in ctx["transfer_overdue"]] == [("家*乙", "已判定", 2.0)]
    assert [(r["case"].code, r["n"]) for r in ctx["to_decide"]] == [(a.code, 1)]
    html = text(work)
    counts = dict(re.findall(r'data-testid="work-(\w+)">(\d+)<', html))
    assert counts == {"overdue": "1", "proposed": "1", "uncontacted": "1", "transfer": "1"}
    assert f'href="/tracing/cases/{a.id}/#contact-{ids[0]}"' in html
    assert f'href="/tracing/cases/{a.id}/#proposed"' in html and "超 12 小时未转运" in html
    assert mask_name("家属乙") in html and "家属乙" not in html

    east = client_for(town["town_b"]).get("/tracing/work/").context  # township B: its own case, in time
    assert (east["overdue"], [r["case"].code for r in east["open"]], east["to_decide"]) == ([], ["BL20220715-001"],
                                                                                             [])
    assert client_for(town["sampler"]).get("/tracing/work/").status_code == 403


def test_the_nav_shows_tracing_to_those_who_may_view_it(town, client_for):
    assert 'data-testid="nav-tracing"' in client_for(town["grid_b"]).get("/").content.decode()
    assert 'data-testid="nav-tracing"' not in client_for(town["sampler"]).get("/").content.decode()


def test_a_tracer_takes_a_stop_out_of_the_itinerary_with_a_reason(town, client_for):
    case = report(town)
    stop = case.investigation.events.get()
    hq = client_for(town["hq"])
    url = f"/tracing/cases/{case.id}/events/{stop.id}/remove/"
    assert hq.post(url, {"reason": ""}).status_code == 422
    assert hq.post(url, {"reason": "非本人扫码"}).status_code == 302
    page = hq.get(f"/tracing/cases/{case.id}/")
    assert (page.context["events"], 'data-testid="no-events"' in text(page)) == ([], True)
    grid = client_for(town["county"].user(Role.GRID_WORKER, town["county"].grid_a, username="grid-a2"))
    assert grid.post(url, {"reason": "x"}).status_code == 403
