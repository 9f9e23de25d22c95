"""The release certificate: a one-page A4 PDF in Chinese with the title of the measure, the masked ID number, the
dates and tests, the county's headquarters and the verification code (text read back with pdftotext, or pypdf
where poppler is not installed); the public check answers exactly the masked fields, nothing for an unknown code,
and "not valid" once the person has become a case."""

import datetime as dt
import re
import shutil
import subprocess
import zoneinfo

import pytest
from django.utils import timezone

from shouwang.core.errors import DomainError
from shouwang.core.models import AuditEvent
from shouwang.quarantine.certificate import (
    CID_FONT,
    FONT_FILES,
    certificate_export,
    certificate_pdf,
    certificate_verify,
    cjk_font,
    mask_certificate_id,
    mask_certificate_name,
    normalise_code,
)
from shouwang.quarantine.enums import CHECKLIST
from shouwang.quarantine.models import Room, Stay
from shouwang.quarantine.services import (
    StayInput,
    rooms_add,
    site_check,
    site_create,
    site_set_state,
    stay_admit,
    stay_release,
    stay_start,
    stays_close_for_case,
)
from shouwang.status.services import fact_publish
from shouwang.testing.models import Tube, TubeMember
from shouwang.testing.services import RoundInput, lab_create, round_create

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BIRTH = dt.date(1985, 3, 14)


def pdf_text(data: bytes) -> str:
    """The text of a PDF: poppler's pdftotext where installed (what a reader's viewer sees), else pypdf."""
    if shutil.which("pdftotext"):
        done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
        return done.stdout.decode()
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def tube(county, person, day: dt.date, barcode: str) -> None:
    """A single tube for the person sampled that day at 08:00, resulted negative."""
    when = timezone.make_aware(dt.datetime.combine(day, dt.time(8)))
    rnd = round_create(actor=county.hq, data=RoundInput(name=f"隔离点检测{barcode}", area_ids=[county.grid_a.id],
                                                        starts_at=when, deadline=when + dt.timedelta(hours=12)))
    lab = lab_create(actor=county.hq, name=f"实验室{barcode}", area_id=county.county.id)
    t = Tube.objects.create(barcode=barcode, round=rnd, pool_mode="single", pool_size=1, state="resulted",
                            opened_at=when, lab=lab, result="negative", resulted_at=when)
    TubeMember.objects.create(tube=t, round=rnd, person=person, position=1, added_at=when)


def released_central(county, settings, *, name: str = "张晓明", seq: int = 13, area=None):
    """A V9 close contact of grid A: central quarantine 07-11 to 07-17 at 城关宾馆隔离点 room 301, tested on days
    1, 2, 3, 5 and 7, released on 07-17 at 15:00 (home health monitoring 07-18 to 07-20 follows)."""
    settings.SHOUWANG_TODAY = "2022-07-11"
    hq = county.hq
    site = site_create(actor=hq, name="城关宾馆隔离点", kind="hotel", area_id=county.grid_a.id,
                       address="天坛镇府前街8号")
    rooms_add(actor=hq, site_id=site.id, floors={3: ["301"]})
    site_set_state(actor=hq, site_id=site.id, state="activating")
    site_check(actor=hq, site_id=site.id, items=dict.fromkeys(CHECKLIST, True))
    site_set_state(actor=hq, site_id=site.id, state="active")
    person = county.person(name=name, seq=seq, birth=BIRTH, area=area)
    stay = stay_start(actor=hq, data=StayInput(person_id=person.id, category="close_contact",
                                               anchor_date=dt.date(2022, 7, 10)))
    stay_admit(actor=hq, stay_id=stay.id, room_id=Room.objects.get(site=site, number="301").id)
    settings.SHOUWANG_TODAY = "2022-07-17"
    for day in (11, 12, 13, 15, 17):
        tube(county, person, dt.date(2022, 7, day), f"C{seq}-{day}")
    return stay_release(actor=hq, stay_id=stay.id)


def test_the_certificate_is_a_chinese_pdf_with_the_title_masked_id_dates_tests_issuer_and_code(county, settings):
    done = released_central(county, settings)
    stay = done.stay
    data = certificate_pdf(stay, base_url="https://shouwang.example.gov.cn/")
    assert data.startswith(b"%PDF-")
    assert b"/FontFile2" in data  # the CJK font is embedded (fonts-wqy-microhei is installed here)
    text = pdf_text(data)
    flat = "".join(text.split())
    number = stay.person.id_number
    assert mask_certificate_id(number) == f"{number[:6]}********{number[-4:]}" == "141027********0135"
    for expected in ("解除集中隔离医学观察证明", "张晓明", "141027********0135", "2022年7月11日至2022年7月17日",
                     "共7天", "城关宾馆隔离点（天坛镇府前街8号）", "2022年7月17日15:00", "浮山县新冠肺炎疫情防控指挥部",
                     f"编号：{stay.release_code}", f"https://shouwang.example.gov.cn/verify/{stay.release_code}/",
                     "2022年7月20日继续居家健康监测"):
        assert expected in flat, expected
    assert number not in flat  # never the whole ID number
    # the five tests of the plan, each with its date, day and 阴性
    for date, day in (("7月11日", 1), ("7月12日", 2), ("7月13日", 3), ("7月15日", 5), ("7月17日", 7)):
        assert f"2022年{date}第{day}天核酸检测阴性" in flat, date
    assert flat.count("阴性") == 6  # five rows and "结果均为阴性"
    assert stay.person.get_sex_display() == "男"
    assert "（男，居民身份证号码141027********0135）" in flat


def test_the_certificate_of_a_home_measure_names_the_home_address_and_its_own_title(county, settings):
    done = released_central(county, settings)
    monitoring = done.next_stay
    long_address = "天坛镇城关社区幸福小区1号楼2单元301室（东侧楼梯上三楼右手边）" * 5  # 165 characters
    Stay.objects.filter(id=monitoring.id).update(home_address=long_address)
    settings.SHOUWANG_TODAY = "2022-07-20"
    tube(county, monitoring.person, dt.date(2022, 7, 20), "H20")
    released = stay_release(actor=county.hq, stay_id=monitoring.id).stay
    data = certificate_pdf(released)
    flat = "".join(pdf_text(data).split())
    assert "解除居家健康监测证明" in flat and "解除集中隔离" not in flat
    assert "2022年7月18日至2022年7月20日" in flat and "共3天" in flat
    assert long_address in flat and "居家地址" in flat
    assert len(re.findall(rb"/Type /Page(?!s)", data)) == 1  # still one page: the long address shrinks it
    assert f"/verify/{released.release_code}/" in flat  # a path when no host is known


def test_without_a_truetype_font_the_certificate_uses_the_built_in_cid_font(county, settings):
    done = released_central(county, settings)
    font = cjk_font((("/nonexistent/font.ttc", 0),))
    assert font == CID_FONT
    data = certificate_pdf(done.stay, font=font)
    assert b"/STSong-Light" in data and b"/FontFile2" not in data
    assert "解除集中隔离医学观察证明" in "".join(pdf_text(data).split())
    assert cjk_font() != CID_FONT and FONT_FILES[0][0].endswith("wqy-microhei.ttc")


def test_no_certificate_before_release(county, settings):
    settings.SHOUWANG_TODAY = "2022-07-11"
    person = county.person(name="李四", seq=31)
    stay = stay_start(actor=county.hq, data=StayInput(person_id=person.id, category="secondary_contact",
                                                      anchor_date=dt.date(2022, 7, 10)))
    with pytest.raises(DomainError) as early:
        certificate_pdf(stay)
    assert (early.value.code, early.value.status, early.value.message_zh) == (
        "not_released", 409, "该人员的居家隔离医学观察尚未解除（管控中），不能出具解除证明")


def test_the_export_is_scoped_audited_and_needs_a_quarantine_capability(county, settings):
    done = released_central(county, settings)
    stay = done.stay
    other = county.user("quarantine_manager", county.township_b)
    with pytest.raises(DomainError) as hidden:
        certificate_export(actor=other, stay_id=stay.id)
    assert (hidden.value.code, hidden.value.status) == ("not_found", 404)
    with pytest.raises(DomainError) as denied:
        certificate_export(actor=county.user("checkpoint", county.township_a), stay_id=stay.id)
    assert (denied.value.code, denied.value.status) == ("permission_denied", 403)
    viewer = county.user("supervisor", county.township_a)  # QUARANTINE_VIEW without STAY_MANAGE
    got = certificate_export(actor=viewer, stay_id=stay.id, ip_address="10.0.0.7")
    assert (got.filename, got.content[:5]) == (f"解除集中隔离医学观察证明-{stay.release_code}.pdf", b"%PDF-")
    event = AuditEvent.objects.filter(action="export", object_type="quarantine.stay").get()
    assert (event.actor_id, event.object_id, event.ip_address, event.summary) == (
        viewer.id, str(stay.id), "10.0.0.7", f"导出解除集中隔离医学观察证明 张晓明（核验码 {stay.release_code}）")


def test_verify_answers_exactly_the_masked_fields_for_a_real_code_and_nothing_for_another(county, settings):
    done = released_central(county, settings)
    stay = done.stay
    code = stay.release_code
    assert certificate_verify(f" {code[:4]}-{code[4:].lower()} ", ip_address="1.2.3.4") == {
        "code": code,
        "name": "张**",
        "id_number": "141027********0135",
        "measure": "central_quarantine",
        "measure_zh": "集中隔离医学观察",
        "measure_en": "central quarantine",
        "title_zh": "解除集中隔离医学观察证明",
        "title_en": "Release from central quarantine",
        "starts_on": dt.date(2022, 7, 11),
        "ends_on": dt.date(2022, 7, 17),
        "days": 7,
        "released_at": stay.released_at.astimezone(SHANGHAI),
        "valid": True,
    }
    assert stay.released_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H") == "2022-07-17 15"
    event = AuditEvent.objects.filter(action="view", object_id=str(stay.id)).get()
    assert (event.actor_id, event.ip_address) == (None, "1.2.3.4")
    assert certificate_verify("ABCDEFGHJKMNP") is None
    assert certificate_verify("<script>") is None and certificate_verify("") is None
    assert certificate_verify(done.next_stay.release_code or "X") is None  # the next phase has no code yet
    assert normalise_code("ab cd-ef23") == "ABCDEF23" and normalise_code("abc") == ""
    assert (mask_certificate_name("王芳"), mask_certificate_name("欧阳娜娜"), mask_certificate_name("Li")) == (
        "王*", "欧***", "L*")


def test_the_certificate_is_no_longer_valid_once_the_person_became_a_case(county, settings):
    done = released_central(county, settings)
    code = done.stay.release_code
    assert certificate_verify(code)["valid"] is True
    stays_close_for_case(actor=county.hq, person_id=done.stay.person_id, case_code="BL20220719-001")
    assert certificate_verify(code)["valid"] is False  # the home monitoring that followed became a case


def test_a_case_said_about_the_person_makes_the_certificate_invalid(county, settings):
    done = released_central(county, settings, name="王芳", seq=14)
    code = done.stay.release_code
    fact_publish(person_ids=[done.stay.person_id], kind="case", value="first_screen_positive",
                 since=dt.date(2022, 7, 19), until=None, source="tracing.case", source_id="99")
    answer = certificate_verify(code)
    assert (answer["name"], answer["valid"]) == ("王*", False)
