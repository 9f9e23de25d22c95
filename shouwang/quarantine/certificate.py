"""The release certificate (解除集中隔离医学观察证明, 解除居家隔离医学观察证明, 解除居家健康监测证明): a one-page A4 PDF
in Chinese for a released stay, issued in the name of the county's epidemic-control headquarters, with the
verification code that stay_release issued and a QR code of the public verification page; and that page's read,
which answers only what a checkpoint needs (masked name and ID number, the measure, its dates, the release time and
whether the certificate is still valid).

Chinese text is set in WenQuanYi Micro Hei, embedded as a subset (the file reads the same on any phone or printer);
on a machine without that font the certificate falls back to the built-in, not embedded, Adobe-GB1 font
STSong-Light (see docs/pdf.md)."""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import segno
from django.db.models import Q
from django.utils import translation
from reportlab.lib import colors
from reportlab.lib import textsplit as rl_textsplit
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepInFrame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus import paragraph as rl_paragraph

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path
from shouwang.areas.enums import AreaLevel
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, PermissionDenied
from shouwang.core.models import AuditAction
from shouwang.policy.rules.model import CASE_STATUSES, MEASURES
from shouwang.quarantine.enums import CENTRAL_MEASURES, OPEN_STAY_STATES, StayState
from shouwang.quarantine.models import Stay
from shouwang.status.services import has_active_fact

log = logging.getLogger(__name__)

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
VERIFY_PATH = "/verify/{code}/"  # the public page (shouwang.web: verify_certificate)
CODE_PATTERN = re.compile(r"[0-9A-Z]{6,20}")  # stay_release's codes: base 32 (older ones hexadecimal)

# The certificate's title and what the person did, per measure (other measures: 解除<measure>证明).
TITLES = {
    "central_quarantine": ("解除集中隔离医学观察证明", "Release from central quarantine"),
    "home_quarantine": ("解除居家隔离医学观察证明", "Release from home quarantine"),
    "home_health_monitoring": ("解除居家健康监测证明", "Release from home health monitoring"),
}
TEST_KINDS = {"pcr": "核酸检测", "antigen": "抗原检测"}
HQ_SUFFIX = "新冠肺炎疫情防控指挥部"

# TrueType CJK fonts embedded when present (Debian/Ubuntu fonts-wqy-microhei, installed by scripts/system-deps;
# the same on Fedora/RHEL); reportlab cannot embed CFF-based OpenType fonts such as Noto Sans CJK.
FONT_FILES = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)
CID_FONT = "STSong-Light"  # reportlab's built-in Adobe-GB1 font: nothing on disk, not embedded

# reportlab's CJK line breaking (one list in textsplit for single-style paragraphs, its copy in paragraph for the
# rest) keeps Japanese punctuation off the start of a line but not the full-width Chinese marks: without these a
# line can begin with "，" or "；".
_NO_LINE_START = "，；：！？、。）》」』】〕”’"
for _module in (rl_textsplit, rl_paragraph):
    _module.ALL_CANNOT_START += "".join(c for c in _NO_LINE_START if c not in _module.ALL_CANNOT_START)


@functools.cache
def cjk_font(files: tuple[tuple[str, int], ...] = FONT_FILES) -> str:
    """The registered name of the font Chinese text is set in: the first TrueType file of `files` that exists,
    embedded as a subset ("CJK-Embedded"), else STSong-Light (the viewer supplies the glyphs). Registered once per
    process (parsing the 5 MB collection takes about 0.1 s)."""
    for path, index in files:
        if Path(path).is_file():
            name = "CJK-" + Path(path).stem
            try:
                pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
            except Exception:  # a damaged or unsupported file: try the next one
                log.warning("cannot use the font %s", path, exc_info=True)
                continue
            return name
    log.warning("no CJK TrueType font found (%s): PDFs use %s, not embedded; run scripts/system-deps fonts",
                ", ".join(p for p, _ in files), CID_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


# ---- what the certificate says --------------------------------------------------------------------------------------


def mask_certificate_id(value: str) -> str:
    """An ID number as certificates print it: the first six (the issuing county) and the last four characters,
    141027********0012; a shorter document number keeps its first and last two."""
    value = value or ""
    if len(value) >= 15:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    if len(value) > 4:
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return "*" * len(value)


def mask_certificate_name(value: str) -> str:
    """The name a public check shows: its first character, the rest starred (王*, 欧阳娜娜 -> 欧***)."""
    value = (value or "").strip()
    return value[:1] + "*" * max(len(value) - 1, 1) if value else ""


def title_of(measure: str) -> tuple[str, str]:
    if measure in TITLES:
        return TITLES[measure]
    zh, en = MEASURES.get(measure, (measure, measure))
    return f"解除{zh}证明", f"Release from {en}"


def days_of(stay: Stay) -> int:
    return (stay.ends_on - stay.starts_on).days + 1 if stay.ends_on else 0


def issuer_of(stay: Stay) -> str:
    """The county's headquarters, from the stay's area chain (the topmost area when none is a county)."""
    chain = [*stay.area.get_ancestors(), stay.area]
    county = next((a for a in chain if a.level == AreaLevel.COUNTY), chain[0])
    return f"{county.name}{HQ_SUFFIX}"


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _cn_time(moment: dt.datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{_cn_date(local.date())} {local:%H:%M}"


def _place(stay: Stay) -> tuple[str, str]:
    """(label, text): the site (central quarantine) or the home address."""
    if stay.measure in CENTRAL_MEASURES:
        site = stay.site
        text = f"{site.name}（{site.address}）" if site and site.address else (site.name if site else "—")
        return "隔离地点", text
    return "居家地址", stay.home_address or stay.person.current_address or "—"


def _following(stay: Stay) -> Stay | None:
    """The plan's next phase, started on release (home health monitoring after central quarantine ...)."""
    return Stay.objects.filter(previous=stay, state__in=[*OPEN_STAY_STATES, StayState.RELEASED]).first()


# ---- the PDF --------------------------------------------------------------------------------------------------------


class _QR(Flowable):
    """A QR code drawn as vector squares (sharp at any print size), one rectangle per run of dark modules."""

    def __init__(self, text: str, size: float):
        super().__init__()
        self.matrix = segno.make(text, error="m", micro=False).matrix
        self.size = size

    def wrap(self, available_width, available_height):
        return self.size, self.size

    def draw(self):
        border = 2
        count = len(self.matrix) + 2 * border
        unit = self.size / count
        c = self.canv
        c.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            top = self.size - (y + border + 1) * unit
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    c.rect((start + border) * unit, top, (x - start) * unit, unit, stroke=0, fill=1)
                else:
                    x += 1


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=11, leading=17, wordWrap="CJK")
    return {
        "base": base,
        "no": ParagraphStyle("no", parent=base, fontSize=9, alignment=TA_RIGHT, textColor=colors.HexColor("#555555")),
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=30, alignment=TA_CENTER, spaceAfter=4),
        "body": ParagraphStyle("body", parent=base, fontSize=12, leading=22, firstLineIndent=24),
        "h": ParagraphStyle("h", parent=base, fontSize=12, leading=18, spaceBefore=4, spaceAfter=4),
        "cell": ParagraphStyle("cell", parent=base, fontSize=10.5, leading=15),
        "right": ParagraphStyle("right", parent=base, fontSize=12, leading=20, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=13.5, textColor=colors.HexColor("#333333")),
        "code": ParagraphStyle("code", parent=base, fontSize=15, leading=20, textColor=colors.HexColor("#b71c1c")),
    }


def _esc(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _grid(rows, widths, font: str, header: bool = False) -> Table:
    table = Table(rows, colWidths=widths)
    style = [("FONT", (0, 0), (-1, -1), font, 10.5), ("GRID", (0, 0), (-1, -1), 0.6, colors.HexColor("#444444")),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 4),
             ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]
    if header:
        style += [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")), ("ALIGN", (0, 0), (-1, -1), "CENTER")]
    table.setStyle(TableStyle(style))
    return table


def certificate_pdf(stay: Stay, *, base_url: str = "", font: str | None = None) -> bytes:
    """The certificate of a released stay, one A4 page. `base_url` (https://host) makes the QR code and the printed
    address absolute; without it they hold the path /verify/<code>/."""
    if stay.state != StayState.RELEASED or not stay.release_code or stay.released_at is None:
        raise _not_released(stay)
    with translation.override("zh-hans"):  # a document in Chinese, whatever the staff member's language
        return _build(stay, base_url.rstrip("/"), font or cjk_font())


def _build(stay: Stay, base_url: str, font: str) -> bytes:
    person = stay.person
    s = _styles(font)
    title, _ = title_of(stay.measure)
    measure_zh = MEASURES.get(stay.measure, (stay.measure,))[0]
    place_label, place = _place(stay)
    masked = mask_certificate_id(person.id_number)
    sex = person.get_sex_display() if person.sex in ("male", "female") else "—"
    period = f"{_cn_date(stay.starts_on)}至{_cn_date(stay.ends_on)}"
    tests = stay.test_days
    issuer = issuer_of(stay)
    url = f"{base_url}{VERIFY_PATH.format(code=stay.release_code)}"
    width = A4[0] - 2 * 22 * mm

    body = (f"兹证明 <u>{_esc(person.name)}</u>（{sex}，{_esc(person.get_id_type_display())}号码 {masked}）"
            f"于{period}在{_esc(place)}接受{measure_zh}，共{days_of(stay)}天。")
    if tests:
        body += f"期间按要求完成{len(tests)}次检测，结果均为阴性，"
    body += f"经评估符合解除条件，于{_cn_time(stay.released_at)}予以解除。特此证明。"

    story: list = [
        Paragraph(f"编号：{stay.release_code}", s["no"]),
        Spacer(1, 3 * mm),
        Paragraph(title, s["title"]),
        Spacer(1, 4 * mm),
        Paragraph(body, s["body"]),
        Spacer(1, 4 * mm),
    ]
    cell = s["cell"]
    info = [
        ["姓名", Paragraph(_esc(person.name), cell), "性别", sex],
        ["证件号码", masked, "", ""],
        ["管控措施", Paragraph(measure_zh, cell), "", ""],
        ["管控期限", Paragraph(f"{period}（共{days_of(stay)}天）", cell), "", ""],
        [place_label, Paragraph(_esc(place), cell), "", ""],
        ["解除时间", _cn_time(stay.released_at), "", ""],
    ]
    label_w = 26 * mm
    table = _grid(info, [label_w, width - 2 * label_w - 30 * mm, label_w, 30 * mm], font)
    table.setStyle(TableStyle([("SPAN", (1, r), (3, r)) for r in range(1, len(info))]
                              + [("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f4f4f4")),
                                 ("BACKGROUND", (2, 0), (2, 0), colors.HexColor("#f4f4f4"))]))
    story += [table, Spacer(1, 3 * mm)]

    if tests:
        rows = [["序号", "检测日期", "管控第几天", "检测方式", "结果"]]
        rows += [[str(i), _cn_date(dt.date.fromisoformat(t["date"])), f"第{t['day']}天",
                  TEST_KINDS.get(t.get("kind", "pcr"), t.get("kind", "")), "阴性"] for i, t in enumerate(tests, 1)]
        story += [Paragraph("检测情况", s["h"]),
                  _grid(rows, [16 * mm, 42 * mm, 30 * mm, 34 * mm, width - 122 * mm], font, header=True),
                  Spacer(1, 3 * mm)]

    following = _following(stay)
    if following is not None and following.ends_on:
        follow_zh = MEASURES.get(following.measure, (following.measure,))[0]
        dates = "、".join(_cn_date(dt.date.fromisoformat(t["date"])) for t in following.test_days)
        note = f"解除后请于{_cn_date(following.starts_on)}至{_cn_date(following.ends_on)}继续{follow_zh}"
        note += f"，{dates}进行核酸检测" if dates else ""
        note += "。如出现发热、干咳、乏力、咽痛、嗅（味）觉减退、腹泻等症状，请及时报告。"
        story += [Paragraph(note, s["base"])]

    story += [
        Spacer(1, 6 * mm),
        Paragraph(_esc(issuer), s["right"]),
        Paragraph(_cn_date(stay.released_at.astimezone(SHANGHAI).date()), s["right"]),
        Spacer(1, 6 * mm),
    ]
    qr_size = 32 * mm
    how = [
        Paragraph("核验码", s["small"]),
        Paragraph(stay.release_code, s["code"]),
        Spacer(1, 2 * mm),
        Paragraph(f"核验方式：用手机扫描左侧二维码，或在浏览器中打开 {_esc(url)} ，"
                  "核对页面显示的姓名、证件号码、管控措施和日期与本证明一致，且显示“有效”。", s["small"]),
        Paragraph("本证明仅证明上述管控措施已依规解除，涂改无效；如本人此后转为病例或再次被管控，本证明即失效。", s["small"]),
    ]
    box = Table([[_QR(url, qr_size), how]], colWidths=[qr_size + 6 * mm, width - qr_size - 6 * mm])
    box.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                             ("BOX", (0, 0), (-1, -1), 0.6, colors.HexColor("#888888")),
                             ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm), ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm)]))
    story.append(box)

    def frame(canvas, doc):
        canvas.saveState()
        canvas.setStrokeColor(colors.HexColor("#8b1a1a"))
        canvas.setLineWidth(1.6)
        canvas.rect(12 * mm, 12 * mm, A4[0] - 24 * mm, A4[1] - 24 * mm)
        canvas.setLineWidth(0.5)
        canvas.rect(14 * mm, 14 * mm, A4[0] - 28 * mm, A4[1] - 28 * mm)
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=22 * mm, rightMargin=22 * mm, topMargin=20 * mm,
                            bottomMargin=18 * mm, title=title, author=issuer, subject=f"{title} {stay.release_code}",
                            creator="守望 Shouwang")
    # One page whatever the plan: a long address or test list shrinks the whole certificate rather than spill over.
    doc.build([KeepInFrame(doc.width, doc.height - 1, story, mode="shrink")], onFirstPage=frame)
    return out.getvalue()


# ---- reads ----------------------------------------------------------------------------------------------------------


def _not_released(stay: Stay) -> DomainError:
    return DomainError(code="not_released", status=409, field="stay_id",
                       message_zh=f"该人员的{MEASURES.get(stay.measure, (stay.measure,))[0]}尚未解除"
                                  f"（{StayState(stay.state).label}），不能出具解除证明",
                       message_en=f"the stay is not released ({stay.state}): no certificate")


@dataclass
class Certificate:
    filename: str
    content: bytes
    stay: Stay


def certificate_export(*, actor, stay_id: int, base_url: str = "", ip_address: str = "") -> Certificate:
    """The certificate of a released stay of the jurisdiction (the person's home area or the site's), for those who
    view or manage stays; logged as an export of the person's document. Not found and not yours answer the same; a
    stay not released answers 409."""
    if actor is None or not actor.is_authenticated or not (
            actor.can(Capability.QUARANTINE_VIEW) or actor.can(Capability.STAY_MANAGE)):
        raise PermissionDenied("出具解除证明", "issue release certificates")
    path = jurisdiction_path(actor)
    stay = (Stay.objects.filter(id=stay_id).filter(_visible(path))
            .select_related("person", "area", "site").first())
    if stay is None:
        raise NotFound("隔离管控记录", "stay", field="stay_id")
    content = certificate_pdf(stay, base_url=base_url)
    title, _ = title_of(stay.measure)
    audit_record(actor=actor, action=AuditAction.EXPORT, obj=stay, ip_address=ip_address,
                 summary=f"导出{title} {stay.person.name}（核验码 {stay.release_code}）",
                 query={"person_id": stay.person_id})
    return Certificate(f"{title}-{stay.release_code}.pdf", content, stay)


def _visible(path: str) -> Q:
    return Q(area__path__startswith=path) | Q(site__area__path__startswith=path)


def normalise_code(code: str) -> str:
    """A code as typed or scanned: upper case, spaces and dashes dropped ("" when it cannot be one)."""
    value = re.sub(r"[\s\-]", "", code or "").upper()
    return value if CODE_PATTERN.fullmatch(value) else ""


def certificate_valid(stay: Stay) -> bool:
    """Still released, and the person has not become a case since (a stay of theirs ended as a case, or a case
    is now said about them)."""
    if stay.state != StayState.RELEASED or stay.released_at is None:
        return False
    later_case = (Stay.objects.filter(person_id=stay.person_id, state=StayState.BECAME_CASE,
                                      starts_on__gte=stay.starts_on).exclude(id=stay.id).exists())
    return not later_case and not has_active_fact(person_id=stay.person_id, kind="case", values=CASE_STATUSES)


def certificate_verify(code: str, *, ip_address: str = "") -> dict | None:
    """The public check of a certificate by its code: masked name and ID number, the measure, its dates, the
    release time and whether it is still valid; None for a code that is not one (or, should two stays ever share
    it, for either). Looks nothing up but the code; a successful check is logged without an actor."""
    value = normalise_code(code)
    if not value:
        return None
    found = list(Stay.objects.filter(release_code=value).select_related("person")[:2])
    if len(found) != 1:
        return None
    stay = found[0]
    zh, en = MEASURES.get(stay.measure, (stay.measure, stay.measure))
    title_zh, title_en = title_of(stay.measure)
    answer = {
        "code": value,
        "name": mask_certificate_name(stay.person.name),
        "id_number": mask_certificate_id(stay.person.id_number),
        "measure": stay.measure,
        "measure_zh": zh,
        "measure_en": en,
        "title_zh": title_zh,
        "title_en": title_en,
        "starts_on": stay.starts_on,
        "ends_on": stay.ends_on,
        "days": days_of(stay),
        "released_at": stay.released_at.astimezone(SHANGHAI) if stay.released_at else None,
        "valid": certificate_valid(stay),
    }
    audit_record(actor=None, action=AuditAction.VIEW, obj=stay, ip_address=ip_address,
                 summary=f"公开核验{title_zh}（核验码 {value}，{'有效' if answer['valid'] else '已失效'}）")
    return answer
