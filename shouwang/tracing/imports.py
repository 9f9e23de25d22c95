"""Import a line list (病例名单): cases and infector → infectee links from a workbook or CSV files, for
historical data and the neighbouring counties' reports.

One workbook with a cases sheet (病例) and optionally a links sheet (传播关系), or a CSV of cases and
optionally a second CSV of links; each sheet or file is recognised by its heading row, not by its name or
position. The file is checked whole first (the dry run): every row's errors are listed with the sheet, the
line number, the column and a reason in Chinese and English. It is applied only when nothing is wrong, in one
transaction (all rows or none), and once: the sha256 of the upload is kept (`LineListImport`) and the same
file is refused the second time (code ``already_imported``).

Decisions:

* A case's person must be in the registry within the importer's jurisdiction, matched by the GB 11643 ID
  number; an unknown number is a row error (import the person to the registry first) rather than a person
  made up from a line list with a name and a number only. The name must match the registry's.
* A person who is already an active case, or who has a case with the same sampling date, is a row error.
* An imported case does not propose contacts (they were traced by whoever reported it, or long ago) and its
  investigation is created done, stamped at the import, with a summary naming the file (reopen it with
  `investigation_update(done=False)`). The optional column 转归 (state) lets historical cases come in
  discharged or excluded: such a case publishes no status fact and closes no contact of the person; an active
  one goes through `services.case_create` (status fact; a contact who turns out to be this case closes as
  became_case). Discharged or excluded cases are written here from the models with the services' own
  validation, case numbering and investigation clock (`_validate_case`, `_case_code`, `_rules`), the
  capability checked once per import.
* Links name their cases by the file's 病例编号 or 证件号码, or an existing case's code, its 病例编号 from an
  earlier import, or its person's ID number (the active case, else the latest), all within the jurisdiction.
  They are checked with `chains.check_link` over the existing links and the file's links before them, and
  for the order of onsets (`chains.onset_order_problem(basis="onset")` on the cases' onset or sampling
  dates, as `services.link_add` does), then written through `services.link_add`.
* Rows whose 病例编号 (or a link's 传染源) starts with 示例 are the template's examples and are skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.db import chunks
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.i18n import en, zh
from shouwang.core.masking import mask_id_number
from shouwang.core.models import AuditAction
from shouwang.people.enums import IdType
from shouwang.people.identifiers import make_resident_id, parse_resident_id
from shouwang.people.models import Person
from shouwang.tracing import chains
from shouwang.tracing.enums import (
    ACTIVE_CASE_STATES,
    CaseState,
    Classification,
    ClinicalType,
    Confidence,
    FoundBy,
    InvestigationState,
    Origin,
    Setting,
)
from shouwang.tracing.models import Case, Investigation, LineListImport, TransmissionLink
from shouwang.tracing.services import (
    CaseInput,
    _case_code,
    _param,
    _rules,
    _validate_case,
    case_create,
    itinerary_prefill,
    link_add,
)

OBJECT_TYPE = "tracing.linelistimport"
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 10_000
HEADER_SCAN_ROWS = 10
ID_CHUNK = 500
EXAMPLE_PREFIX = "示例"
SKIPPED_SHEETS = {"填表说明", "说明", "使用说明"}
CASES_SHEET, LINKS_SHEET = "病例", "传播关系"


@dataclass(frozen=True)
class Column:
    name: str  # the Chinese heading, as errors name the column
    key: str
    en: str
    aliases: tuple[str, ...] = ()


CASE_COLUMNS = (
    Column("病例编号", "external_id", "case number", ("外部编号", "原病例编号", "编号", "case_no", "case_id", "external_id")),
    Column("姓名", "name", "name", ("name",)),
    Column("证件号码", "id_number", "ID number", ("身份证号", "身份证号码", "公民身份号码", "证件号", "id_number",
                                              "idnumber")),
    Column("发现途径", "found_by", "how found", ("found_by", "howfound")),
    Column("诊断分类", "classification", "classification", ("分类", "病例分类", "classification")),
    Column("临床分型", "clinical_type", "clinical type", ("临床分类", "clinical_type", "clinicaltype")),
    Column("发病日期", "onset_date", "onset date", ("onset_date", "onsetdate", "onset")),
    Column("采样日期", "sampling_date", "sampling date", ("阳性采样日期", "sampling_date", "samplingdate")),
    Column("报告时间", "reported_at", "report time", ("报告日期", "reported_at", "reporttime", "reportdate")),
    Column("隔离管控中发现", "found_in_quarantine", "found in quarantine",
           ("是否隔离管控中发现", "found_in_quarantine", "foundinquarantine")),
    Column("本土/输入", "origin", "local or imported", ("本土或输入", "origin")),
    Column("毒株", "lineage", "lineage", ("毒株分型", "lineage")),
    Column("转归", "state", "state", ("状态", "病例状态", "state")),
)
LINK_COLUMNS = (
    Column("传染源", "infector", "infector", ("感染来源", "infector")),
    Column("被感染者", "infectee", "infectee", ("infectee",)),
    Column("传播场景", "setting", "setting", ("场景", "setting")),
    Column("可信度", "confidence", "confidence", ("confidence",)),
    Column("依据", "evidence", "evidence", ("判定依据", "evidence")),
)
CASE_REQUIRED = ("姓名", "证件号码", "诊断分类", "采样日期", "报告时间")
LINK_REQUIRED = ("传染源", "被感染者")
COLUMN_EN = {c.name: c.en for c in (*CASE_COLUMNS, *LINK_COLUMNS)}
_BY_KEY = {c.key: c for c in (*CASE_COLUMNS, *LINK_COLUMNS)}
_HEADER_NOISE = re.compile(r"[\s*＊:：]|[（(][^）)]*[）)]")


def _header(values, columns: tuple[Column, ...]) -> dict[str, int]:
    """The columns a heading row names (key -> index; the first of a repeated heading)."""
    found: dict[str, int] = {}
    for index, value in enumerate(values):
        key = _header_key(value, columns)
        if key and key not in found:
            found[key] = index
    return found


def _header_key(value, columns: tuple[Column, ...]) -> str | None:
    if not isinstance(value, str):
        return None
    text = _HEADER_NOISE.sub("", value).lower()
    for column in columns:
        if text == column.name or text in column.aliases:
            return column.key
    return None


# ---- cell values -------------------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    return str(value).strip()


_DATE_FORMATS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)
_TIME = re.compile(r"(?:\s*|T)(\d{1,2})(?::|时)(\d{2})(?:(?::|分)(\d{2})秒?|分)?")
DATE_HINT_ZH = "可写 2022-07-14、2022/7/14、2022年7月14日、20220714 或Excel日期"
DATE_HINT_EN = "write 2022-07-14, 2022/7/14, 2022年7月14日, 20220714 or an Excel date"


class _BadCell(Exception):
    def __init__(self, code: str, zh: str, en: str):
        super().__init__(code)
        self.code, self.zh, self.en = code, zh, en


def _bad_date(column: str, text: str, with_time: bool = False) -> _BadCell:
    more_zh, more_en = ("，可带时间如 2022-07-14 08:30", ", with a time if wanted: 2022-07-14 08:30") if with_time else (
        "", "")
    return _BadCell("date_format", f"{column}“{text}”的日期格式无法识别（{DATE_HINT_ZH}{more_zh}）",
                    f"{COLUMN_EN[column]} ({column}): unknown date format '{text}' ({DATE_HINT_EN}{more_en})")


def _date_of(text: str, column: str) -> tuple[dt.date, str] | None:
    """The date at the start of the text and what follows it, or None when no format matches."""
    for pattern in _DATE_FORMATS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3])), text[m.end():]
            except ValueError:
                raise _BadCell("date_invalid", f"{column}“{text}”不是真实的日期",
                               f"{COLUMN_EN[column]} ({column}): '{text}' is not a real date") from None
    return None


def parse_date(value, column: str) -> dt.date | None:
    """A date cell: YYYY-MM-DD, YYYY/MM/DD, YYYY年M月D日, YYYYMMDD or an Excel date; blank is None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        return None
    found = _date_of(text, column)
    if found is None or found[1]:
        raise _bad_date(column, text)
    return found[0]


def parse_datetime(value, column: str) -> dt.datetime | None:
    """A date with an optional time (2022-07-14 08:30, 2022年7月14日 8时30分), or an Excel date-time; local time."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return timezone.make_aware(value) if timezone.is_naive(value) else value
    if isinstance(value, dt.date):
        return timezone.make_aware(dt.datetime.combine(value, dt.time()))
    text = _text(value)
    if not text:
        return None
    found = _date_of(text, column)
    if found is None:
        raise _bad_date(column, text, with_time=True)
    day, rest = found
    moment = dt.time()
    if rest:
        m = _TIME.fullmatch(rest)
        if m is None:
            raise _bad_date(column, text, with_time=True)
        try:
            moment = dt.time(int(m[1]), int(m[2]), int(m[3] or 0))
        except ValueError:
            raise _BadCell("date_invalid", f"{column}“{text}”不是真实的时间",
                           f"{COLUMN_EN[column]} ({column}): '{text}' is not a real time") from None
    return timezone.make_aware(dt.datetime.combine(day, moment))


def _choice_table(choices, extra: dict[str, str] | None = None) -> dict[str, str]:
    table: dict[str, str] = {}
    for value, label in choices.choices:
        table[value.lower()] = value
        table[zh(label)] = value
        table[en(label).lower()] = value
    table.update(extra or {})
    return table


CHOICES: dict[str, tuple[dict[str, str], object]] = {
    "found_by": (_choice_table(FoundBy, {"隔离管控中": FoundBy.IN_QUARANTINE, "主动就诊": FoundBy.SELF_REPORT}), FoundBy),
    "classification": (_choice_table(Classification, {
        "确诊": Classification.CONFIRMED, "无症状": Classification.ASYMPTOMATIC,
        "初筛阳性": Classification.PENDING, "待诊断": Classification.PENDING}), Classification),
    "clinical_type": (_choice_table(ClinicalType), ClinicalType),
    "origin": (_choice_table(Origin, {"本地": Origin.LOCAL, "境外输入": Origin.IMPORTED, "外地输入": Origin.IMPORTED,
                                      "国内输入": Origin.IMPORTED}), Origin),
    "state": (_choice_table(CaseState, {"出院": CaseState.DISCHARGED, "治愈出院": CaseState.DISCHARGED,
                                        "排除": CaseState.EXCLUDED, "在管": CaseState.REPORTED}), CaseState),
    "setting": (_choice_table(Setting), Setting),
    "confidence": (_choice_table(Confidence, {"确定": Confidence.CONFIRMED}), Confidence),
}
YES_NO = {"是": True, "否": False, "y": True, "n": False, "yes": True, "no": False, "true": True, "false": False,
          "1": True, "0": False, "√": True, "×": False}


def _choice(key: str, text: str) -> str:
    table, choices = CHOICES[key]
    value = table.get(text) or table.get(text.lower())
    if value is None:
        column = _BY_KEY[key].name
        allowed = "、".join(zh(label) for label in choices.labels)
        raise _BadCell("invalid_choice", f"{column}“{text}”不是可选值（可选：{allowed}）",
                       f"{COLUMN_EN[column]} ({column}): '{text}' is not one of the choices ({allowed})")
    return value


# ---- reading the upload ------------------------------------------------------------------------------------


@dataclass
class Upload:
    name: str
    data: bytes


def _unreadable(zh_: str, en_: str) -> ValidationFailed:
    return ValidationFailed(field="file", code="unreadable_file", message_zh=zh_, message_en=en_)


def _is_xlsx(upload: Upload) -> bool:
    return upload.data[:4] == b"PK\x03\x04" or upload.name.lower().endswith(".xlsx")


def _tables(upload: Upload) -> Iterator[tuple[str, Iterator[tuple[int, tuple]]]]:
    """(sheet name, rows numbered from 1) of each sheet of an .xlsx, or the one table of a CSV (UTF-8 or
    GB18030, comma or tab separated), named by the file."""
    if _is_xlsx(upload):
        try:
            wb = load_workbook(io.BytesIO(upload.data), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a broken or foreign file
            raise _unreadable("无法读取该Excel文件（应为.xlsx）", "the file is not a readable .xlsx workbook") from None
        try:
            for ws in wb.worksheets:
                if ws.title.strip() in SKIPPED_SHEETS:
                    continue
                ws.reset_dimensions()  # some programs write a wrong size; read every row there is
                yield ws.title.strip(), enumerate(ws.iter_rows(values_only=True), start=1)
        finally:
            wb.close()
        return
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = upload.data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly anything
        raise _unreadable("无法识别文件编码（应为UTF-8或GBK）", "unknown text encoding (UTF-8 or GBK expected)")
    if "\x00" in text:
        raise _unreadable("该文件不是CSV或.xlsx", "the file is neither a CSV nor an .xlsx workbook")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    yield upload.name, enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1)


def _read_upload(upload, name: str) -> Upload:
    data = upload.read() if hasattr(upload, "read") else upload
    if isinstance(data, str):
        data = data.encode()
    if not data:
        raise ValidationFailed(field="file", code="empty_file", message_zh="文件是空的", message_en="the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(field="file", code="file_too_large", message_zh="文件不能超过20MB",
                               message_en="the file must be at most 20 MB")
    return Upload(name=(name or getattr(upload, "name", "") or "linelist")[:200], data=bytes(data))


def digest_of(uploads: list[Upload]) -> str:
    """The sha256 of the file; of two files (cases and links CSVs), the sha256 of their two digests."""
    if len(uploads) == 1:
        return hashlib.sha256(uploads[0].data).hexdigest()
    parts = ":".join(hashlib.sha256(u.data).hexdigest() for u in uploads)
    return hashlib.sha256(parts.encode()).hexdigest()


# ---- parsing and checking ----------------------------------------------------------------------------------


@dataclass
class CaseRow:
    sheet: str
    row: int
    external_id: str
    name: str
    id_number: str
    found_by: str = FoundBy.OTHER
    classification: str = ""
    clinical_type: str = ""
    onset_date: dt.date | None = None
    sampling_date: dt.date | None = None
    reported_at: dt.datetime | None = None
    found_in_quarantine: bool = False
    origin: str = Origin.LOCAL
    lineage: str = ""
    state: str = CaseState.REPORTED
    person_id: int | None = None
    label: str = ""  # the case's name in the chain check and its messages
    cells: dict = field(default_factory=dict)  # the cells as written, for the errors of the services' checks

    @property
    def anchor_date(self) -> dt.date | None:
        return self.onset_date or self.sampling_date


@dataclass
class LinkRow:
    sheet: str
    row: int
    infector_ref: str
    infectee_ref: str
    setting: str = Setting.OTHER
    confidence: str = Confidence.PROBABLE
    evidence: str = ""
    infector: object = None  # a CaseRow of the file, or an existing Case
    infectee: object = None


@dataclass
class Checked:
    uploads: list[Upload]
    sha256: str
    cases: list[CaseRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    bad_rows: set[tuple[str, int]] = field(default_factory=set)
    sheet_order: dict[str, int] = field(default_factory=dict)
    examples_skipped: int = 0
    already_imported: bool = False

    def fail(self, sheet: str, row: int | None, column: str, value, code: str, zh_: str, en_: str) -> None:
        self.errors.append({"sheet": sheet, "row": row, "column": column,
                            "value": "" if value is None else str(value)[:100], "code": code,
                            "message_zh": zh_, "message_en": en_})
        if row is not None:
            self.bad_rows.add((sheet, row))

    def fail_cell(self, sheet: str, row: int, column: str, value, exc: _BadCell) -> None:
        self.fail(sheet, row, column, _text(value), exc.code, exc.zh, exc.en)


class _Parser:
    def __init__(self, checked: Checked):
        self.checked = checked
        self.ids: dict[str, int] = {}  # ID number -> first row
        self.external: dict[str, int] = {}

    def read(self) -> None:
        checked = self.checked
        for upload in checked.uploads:
            for sheet, rows in _tables(upload):
                checked.sheet_order.setdefault(sheet, len(checked.sheet_order))
                self._table(sheet, rows)

    def _table(self, sheet: str, rows) -> None:
        checked = self.checked
        header: dict[str, int] | None = None
        kind = ""
        seen = False
        for number, values in rows:
            if number > HEADER_SCAN_ROWS:
                break
            if any(v not in (None, "") for v in values):
                seen = True
            case_keys = _header(values, CASE_COLUMNS)
            link_keys = _header(values, LINK_COLUMNS)
            if "id_number" in case_keys and len(case_keys) >= 3:
                header, kind = case_keys, "cases"
                break
            if "infector" in link_keys and "infectee" in link_keys:
                header, kind = link_keys, "links"
                break
        if header is None:
            if seen:
                checked.fail(sheet, None, "", "", "header_not_found",
                             f"“{sheet}”前{HEADER_SCAN_ROWS}行中没有找到病例表头（姓名、证件号码、诊断分类……）"
                             "或传播关系表头（传染源、被感染者……）",
                             f"'{sheet}': no heading row of cases (姓名, 证件号码, 诊断分类 …) or of links (传染源, "
                             f"被感染者 …) in the first {HEADER_SCAN_ROWS} rows")
            return
        columns = CASE_COLUMNS if kind == "cases" else LINK_COLUMNS
        required = CASE_REQUIRED if kind == "cases" else LINK_REQUIRED
        missing = [c.name for c in columns if c.name in required and c.key not in header]
        for name in missing:
            checked.fail(sheet, None, name, "", "missing_column", f"“{sheet}”缺少“{name}”列",
                         f"'{sheet}' has no column {name} ({COLUMN_EN[name]})")
        width = max(header.values()) + 1
        count = 0
        for number, values in rows:
            if not any(v is not None and str(v).strip() != "" for v in values):
                continue
            count += 1
            if len(checked.cases) + len(checked.links) + count > MAX_ROWS:
                raise ValidationFailed(field="file", code="too_many_rows",
                                       message_zh=f"一次最多导入{MAX_ROWS}行，请拆分后导入",
                                       message_en=f"at most {MAX_ROWS} rows per import; split the file")
            if missing:
                continue
            if len(values) < width:
                values = (*values, *([None] * (width - len(values))))
            cells = {key: values[i] for key, i in header.items()}
            if kind == "cases":
                self._case(sheet, number, cells)
            else:
                self._link(sheet, number, cells)

    def _case(self, sheet: str, row: int, cells: dict) -> None:
        checked = self.checked
        external_id = _text(cells.get("external_id"))
        if external_id.startswith(EXAMPLE_PREFIX):
            checked.examples_skipped += 1
            return
        raw_id = cells.get("id_number")
        case = CaseRow(sheet=sheet, row=row, external_id=external_id, name=_text(cells.get("name")),
                       id_number=_text(raw_id).upper(), cells={k: _text(v) for k, v in cells.items()})
        if len(external_id) > 60:
            checked.fail(sheet, row, "病例编号", external_id, "too_long", "病例编号不能超过60个字",
                         "the case number must be at most 60 characters")
        elif external_id:
            first = self.external.get(external_id)
            if first is not None:
                checked.fail(sheet, row, "病例编号", external_id, "duplicate_in_file", f"病例编号与第{first}行重复",
                             f"the case number repeats row {first}")
            else:
                self.external[external_id] = row
        if not case.name:
            checked.fail(sheet, row, "姓名", "", "required", "姓名不能为空", "name is required")
        if isinstance(raw_id, int | float):
            checked.fail(sheet, row, "证件号码", _text(raw_id), "id_number_numeric",
                         "证件号码被Excel存成了数字，后几位已丢失；请把该列设为文本格式后重新填写",
                         "the ID number was stored as a number and lost its last digits; format the column "
                         "as text")
            case.id_number = ""
        elif not case.id_number:
            checked.fail(sheet, row, "证件号码", "", "required", "证件号码不能为空", "ID number is required")
        else:
            try:
                case.id_number = parse_resident_id(case.id_number, today=clock.today()).number
            except ValidationFailed as exc:
                checked.fail(sheet, row, "证件号码", case.id_number, exc.code, exc.message_zh, exc.message_en)
                case.id_number = ""
            else:
                first = self.ids.get(case.id_number)
                if first is not None:
                    checked.fail(sheet, row, "证件号码", case.id_number, "duplicate_in_file",
                                 f"证件号码与第{first}行重复", f"the ID number repeats row {first}")
                else:
                    self.ids[case.id_number] = row
        for key in ("found_by", "classification", "clinical_type", "origin", "state"):
            text = _text(cells.get(key))
            column = _BY_KEY[key].name
            if not text:
                if key == "classification" and "classification" in cells:
                    checked.fail(sheet, row, column, "", "required", f"{column}不能为空",
                                 f"{COLUMN_EN[column]} ({column}) is required")
                continue
            try:
                setattr(case, key, _choice(key, text))
            except _BadCell as exc:
                checked.fail_cell(sheet, row, column, text, exc)
        for key, parse in (("onset_date", parse_date), ("sampling_date", parse_date),
                           ("reported_at", parse_datetime)):
            column = _BY_KEY[key].name
            try:
                setattr(case, key, parse(cells.get(key), column))
            except _BadCell as exc:
                checked.fail_cell(sheet, row, column, cells.get(key), exc)
                continue
            if getattr(case, key) is None and column in CASE_REQUIRED:
                checked.fail(sheet, row, column, "", "required", f"{column}不能为空",
                             f"{COLUMN_EN[column]} ({column}) is required")
        quarantine = _text(cells.get("found_in_quarantine"))
        if quarantine:
            if quarantine.lower() in YES_NO:
                case.found_in_quarantine = YES_NO[quarantine.lower()]
            else:
                checked.fail(sheet, row, "隔离管控中发现", quarantine, "invalid_choice",
                             f"隔离管控中发现“{quarantine}”应填“是”或“否”",
                             f"found in quarantine (隔离管控中发现): '{quarantine}' must be 是 (yes) or 否 (no)")
        case.lineage = _text(cells.get("lineage"))
        if len(case.lineage) > 40:
            checked.fail(sheet, row, "毒株", case.lineage, "too_long", "毒株不能超过40个字",
                         "the lineage must be at most 40 characters")
        checked.cases.append(case)

    def _link(self, sheet: str, row: int, cells: dict) -> None:
        checked = self.checked
        link = LinkRow(sheet=sheet, row=row, infector_ref=_text(cells.get("infector")),
                       infectee_ref=_text(cells.get("infectee")))
        if link.infector_ref.startswith(EXAMPLE_PREFIX):
            checked.examples_skipped += 1
            return
        for column, ref in (("传染源", link.infector_ref), ("被感染者", link.infectee_ref)):
            if not ref:
                checked.fail(sheet, row, column, "", "required", f"{column}不能为空",
                             f"{COLUMN_EN[column]} ({column}) is required")
        for key in ("setting", "confidence"):
            text = _text(cells.get(key))
            if text:
                try:
                    setattr(link, key, _choice(key, text))
                except _BadCell as exc:
                    checked.fail_cell(sheet, row, _BY_KEY[key].name, text, exc)
        link.evidence = _text(cells.get("evidence"))
        if len(link.evidence) > 500:
            checked.fail(sheet, row, "依据", link.evidence, "too_long", "依据不能超过500个字",
                         "the evidence must be at most 500 characters")
        checked.links.append(link)


_VALIDATE_COLUMN = {"found_by": "发现途径", "classification": "诊断分类", "origin": "本土/输入",
                    "clinical_type": "临床分型", "sampling_date": "采样日期", "onset_date": "发病日期",
                    "reported_at": "报告时间"}


def _case_input(case: CaseRow) -> CaseInput:
    return CaseInput(person_id=case.person_id or 0, found_by=case.found_by, sampling_date=case.sampling_date,
                     classification=case.classification, clinical_type=case.clinical_type,
                     onset_date=case.onset_date, reported_at=case.reported_at,
                     found_in_quarantine=case.found_in_quarantine, origin=case.origin, lineage=case.lineage,
                     source_ref=case.external_id, propose_contacts=False)


def _check_cases(checked: Checked, path: str, today: dt.date) -> None:
    """The registry and the cases on file: the person within the jurisdiction, the same name, no active case
    and no case of the same sampling date; then the services' own checks of a case."""
    numbers = sorted({c.id_number for c in checked.cases if c.id_number})
    people: dict[str, tuple[int, str]] = {}
    for chunk in chunks(numbers, ID_CHUNK):
        for pid, number, name in (Person.objects.active()
                                  .filter(id_type=IdType.RESIDENT_ID, id_number__in=chunk,
                                          area__path__startswith=path)
                                  .values_list("id", "id_number", "name")):
            people[number] = (pid, name)
    active: dict[int, str] = {}
    sampled: dict[tuple[int, dt.date], str] = {}
    for chunk in chunks([p for p, _ in people.values()], ID_CHUNK):
        for pid, code, state, sampling in Case.objects.filter(person_id__in=chunk).values_list(
                "person_id", "code", "state", "sampling_date"):
            if state in ACTIVE_CASE_STATES:
                active[pid] = code
            sampled[(pid, sampling)] = code
    for case in checked.cases:
        s, r = case.sheet, case.row
        if case.id_number:
            found = people.get(case.id_number)
            if found is None:
                checked.fail(s, r, "证件号码", case.id_number, "unknown_person",
                             "人员档案中（您的辖区内）没有此证件号码的人员；请先在“导入人员名单”中把此人导入人员档案，"
                             "再导入病例",
                             "no person with this ID number in the registry within your jurisdiction; import "
                             "the person to the registry first (导入人员名单), then the case")
            else:
                case.person_id, registered = found
                if case.name and case.name != registered:
                    checked.fail(s, r, "姓名", case.name, "name_mismatch",
                                 f"姓名与人员档案中此证件号码的姓名“{registered}”不一致，请核对姓名和证件号码",
                                 f"the name differs from the registry's for this ID number ({registered}); "
                                 "check the name and the ID number")
                if case.person_id in active:
                    checked.fail(s, r, "证件号码", case.id_number, "already_case",
                                 f"此人已是在管病例（{active[case.person_id]}），不能再导入",
                                 f"this person is already an active case ({active[case.person_id]})")
                elif case.sampling_date and (case.person_id, case.sampling_date) in sampled:
                    code = sampled[(case.person_id, case.sampling_date)]
                    checked.fail(s, r, "采样日期", case.sampling_date.isoformat(), "duplicate_case",
                                 f"此人已有采样日期为{case.sampling_date.isoformat()}的病例（{code}），不能重复导入",
                                 "this person already has a case sampled on "
                                 f"{case.sampling_date.isoformat()} ({code})")
        if (s, r) in checked.bad_rows or not case.sampling_date or not case.classification:
            continue
        try:
            _validate_case(_case_input(case), today)
        except ValidationFailed as exc:
            checked.fail(s, r, _VALIDATE_COLUMN.get(exc.field or "", ""), case.cells.get(exc.field or "", ""),
                         exc.code, exc.message_zh, exc.message_en)
            continue
        if case.reported_at and timezone.localdate(case.reported_at) > today:
            checked.fail(s, r, "报告时间", case.cells.get("reported_at", ""), "in_future", "报告时间不能晚于今天",
                         "the report time cannot be after today")


def _existing_cases(refs: set[str], path: str) -> dict[str, Case | str]:
    """Each reference to an existing case within the jurisdiction: by code, by the 病例编号 of an earlier import,
    or by its person's ID number (the active case, else the latest). Ambiguous 病例编号 map to an error text."""
    found: dict[str, Case | str] = {}
    visible = Case.objects.filter(area__path__startswith=path)
    refs = sorted(refs)
    for chunk in chunks(refs, ID_CHUNK):
        for case in visible.filter(code__in=chunk):
            found[case.code] = case
        left = [r for r in chunk if r not in found]
        by_ref: dict[str, list[Case]] = {}
        for case in visible.filter(source_ref__in=left):
            by_ref.setdefault(case.source_ref, []).append(case)
        for ref, cases in by_ref.items():
            found[ref] = cases[0] if len(cases) == 1 else "ambiguous"
        left = [r.upper() for r in left if r not in found]
        latest: dict[str, Case] = {}
        for case in (visible.filter(person__id_type=IdType.RESIDENT_ID, person__id_number__in=left)
                     .select_related("person").order_by("reported_at", "id")):
            number = case.person.id_number
            if number not in latest or latest[number].state not in ACTIVE_CASE_STATES:
                latest[number] = case
        for ref in chunk:
            if ref not in found and ref.upper() in latest:
                found[ref] = latest[ref.upper()]
    return found


def _check_links(checked: Checked, path: str) -> None:
    """Resolve each link's cases and check it over the existing links and the file's links before it."""
    by_external = {c.external_id: c for c in checked.cases if c.external_id}
    by_number = {c.id_number: c for c in checked.cases if c.id_number}

    def in_file(ref: str) -> CaseRow | None:
        return by_external.get(ref) or by_number.get(ref.upper())

    refs = {ref for link in checked.links for ref in (link.infector_ref, link.infectee_ref)
            if ref and in_file(ref) is None}
    existing = _existing_cases(refs, path) if refs else {}
    if not checked.links:
        return
    pairs = list(TransmissionLink.objects.values_list("infector__code", "infectee__code"))
    used = {code for pair in pairs for code in pair}
    for ref in existing.values():
        if isinstance(ref, Case):
            used.add(ref.code)
    for case in checked.cases:  # labels: 病例编号, else the ID number, kept apart from existing case codes
        label = case.external_id or case.id_number or f"{case.sheet}:{case.row}"
        if label in used:
            label = f"{label}（第{case.row}行）"
        used.add(label)
        case.label = label

    def node(obj) -> tuple[str, dt.date | None]:
        if isinstance(obj, Case):
            return obj.code, obj.anchor_date
        return obj.label, obj.anchor_date

    for link in checked.links:
        s, r = link.sheet, link.row
        for column, ref, attr in (("传染源", link.infector_ref, "infector"), ("被感染者", link.infectee_ref, "infectee")):
            if not ref:
                continue
            target = in_file(ref) or existing.get(ref)
            if target == "ambiguous":
                checked.fail(s, r, column, ref, "ambiguous_case", f"有多个病例的编号为“{ref}”，请改用病例编号（BL开头）",
                             f"more than one case has the number '{ref}'; use the case code (BL…)")
            elif target is None:
                checked.fail(s, r, column, ref, "unknown_case",
                             f"找不到病例“{ref}”：应为本文件的病例编号或证件号码，或您辖区内已有病例的编号",
                             f"unknown case '{ref}': use a case number or ID number of this file, or the "
                             "code of an existing case in your jurisdiction")
            else:
                setattr(link, attr, target)
        if link.infector is None or link.infectee is None:
            continue
        (infector, infector_date), (infectee, infectee_date) = node(link.infector), node(link.infectee)
        try:
            chains.check_link(pairs, infector, infectee)
        except chains.ChainError as exc:
            column = "传染源" if exc.field == "infector" else "被感染者"
            checked.fail(s, r, column, link.infector_ref if column == "传染源" else link.infectee_ref, exc.code,
                         exc.message_zh, exc.message_en)
            continue
        problem = chains.onset_order_problem(infector_date, infectee_date, basis="onset")
        if problem is not None:
            checked.fail(s, r, "被感染者", link.infectee_ref, problem.code, problem.message_zh, problem.message_en)
            continue
        pairs.append((infector, infectee))


def _check(*, actor, uploads: list[Upload]) -> Checked:
    checked = Checked(uploads=uploads, sha256=digest_of(uploads))
    _Parser(checked).read()
    path = jurisdiction_path(actor)
    _check_cases(checked, path, clock.today())
    _check_links(checked, path)
    if LineListImport.objects.filter(sha256=checked.sha256, applied_at__isnull=False).exists():
        checked.already_imported = True
        checked.fail(uploads[0].name, None, "", "", "already_imported", "这个文件已经导入过，不能重复导入",
                     "this file was imported already")
    return checked


def _report(checked: Checked, row: LineListImport | None = None) -> dict:
    order = checked.sheet_order
    checked.errors.sort(key=lambda e: (e["row"] is not None, order.get(e["sheet"], 0), e["row"] or 0))
    cases = [{"sheet": c.sheet, "row": c.row, "external_id": c.external_id, "name": c.name,
              "id_number": mask_id_number(c.id_number), "classification": str(c.classification),
              "clinical_type": str(c.clinical_type), "onset_date": c.onset_date,
              "sampling_date": c.sampling_date, "reported_at": c.reported_at, "origin": str(c.origin),
              "state": str(c.state)} for c in checked.cases]
    links = [{"sheet": x.sheet, "row": x.row, "infector": x.infector_ref, "infectee": x.infectee_ref,
              "setting": str(x.setting), "confidence": str(x.confidence), "evidence": x.evidence}
             for x in checked.links]
    nothing = not cases and not links
    return {
        "import_id": row.id if row is not None else None, "sha256": checked.sha256,
        "file_name": checked.uploads[0].name,
        "links_file_name": checked.uploads[1].name if len(checked.uploads) > 1 else "",
        "case_count": len(cases), "link_count": len(links), "cases": cases, "links": links,
        "error_count": len(checked.errors), "bad_rows": len(checked.bad_rows), "errors": checked.errors,
        "examples_skipped": checked.examples_skipped, "already_imported": checked.already_imported,
        "can_apply": not checked.errors and not nothing, "applied": False, "result": None,
    }


def _uploads(upload, file_name: str, links_upload=None, links_file_name: str = "") -> list[Upload]:
    if upload is None:
        raise ValidationFailed(field="file", code="required", message_zh="请选择要上传的病例名单文件",
                               message_en="choose the line list file to upload")
    uploads = [_read_upload(upload, file_name)]
    if links_upload is not None:
        uploads.append(_read_upload(links_upload, links_file_name))
    return uploads


def _require(actor) -> None:
    require(actor, Capability.CASE_MANAGE, "导入病例名单", "import line lists")


def line_list_dry_run(*, actor, upload, file_name: str = "", links_upload=None, links_file_name: str = "",
                      keep: bool = False) -> dict:
    """Check a line list and report the cases and links it would create and every error; nothing is imported.
    With keep, the upload is kept (one pending row per file and user) for `line_list_apply(sha256=...)`."""
    _require(actor)
    uploads = _uploads(upload, file_name, links_upload, links_file_name)
    checked = _check(actor=actor, uploads=uploads)
    row = _pending(actor, checked) if keep else None
    return _report(checked, row)


def _pending(actor, checked: Checked) -> LineListImport:
    uploads = checked.uploads
    values = {"file_name": uploads[0].name, "content": uploads[0].data,
              "links_file_name": uploads[1].name if len(uploads) > 1 else "",
              "links_content": uploads[1].data if len(uploads) > 1 else None}
    with transaction.atomic():
        row, _ = LineListImport.objects.update_or_create(sha256=checked.sha256, created_by=actor,
                                                         applied_at__isnull=True, defaults=values)
    return row


def _stored(actor, sha256: str) -> LineListImport:
    rows = LineListImport.objects.filter(sha256=sha256 or "", created_by=actor)
    row = rows.filter(applied_at__isnull=True).first() or rows.first()
    if row is None:
        raise NotFound("导入文件", "uploaded file", field="sha256")
    return row


def _stored_uploads(row: LineListImport) -> list[Upload]:
    uploads = [Upload(row.file_name, bytes(row.content))]
    if row.links_content is not None:
        uploads.append(Upload(row.links_file_name, bytes(row.links_content)))
    return uploads


def line_list_get(*, actor, sha256: str) -> dict:
    """A kept upload of this user checked again (the database may have changed), or its result once
    applied."""
    _require(actor)
    row = _stored(actor, sha256)
    if row.applied_at is not None:
        return {**row.result, "applied": True, "import_id": row.id, "sha256": row.sha256,
                "file_name": row.file_name, "links_file_name": row.links_file_name}
    return _report(_check(actor=actor, uploads=_stored_uploads(row)), row)


def _already_imported() -> DomainError:
    return DomainError(code="already_imported", status=409, field="file", message_zh="这个文件已经导入过，不能重复导入",
                       message_en="this file was imported already")


def line_list_apply(*, actor, sha256: str = "", upload=None, file_name: str = "", links_upload=None,
                    links_file_name: str = "", ip_address: str = "") -> dict:
    """Import a line list, all rows or none: a kept upload (by its sha256) or one sent now. Checked again
    first; any error refuses the whole file (code ``import_has_errors``, the row errors in ``details``), and a
    file imported before is refused (``already_imported``)."""
    _require(actor)
    if upload is not None:
        uploads = _uploads(upload, file_name, links_upload, links_file_name)
    else:
        uploads = _stored_uploads(_stored(actor, sha256))
    with transaction.atomic():
        checked = _check(actor=actor, uploads=uploads)
        if checked.already_imported:
            raise _already_imported()
        if checked.errors:
            n = len(checked.errors)
            raise DomainError(code="import_has_errors", status=422, field="file",
                              message_zh=f"有{n}处错误，未导入任何数据；请改正后重新上传",
                              message_en=f"{n} errors: nothing was imported; correct the file and upload it "
                                         "again",
                              details=checked.errors[:200])
        if not checked.cases and not checked.links:
            raise DomainError(code="import_empty", status=422, field="file", message_zh="文件中没有可导入的病例或传播关系",
                              message_en="the file holds no cases or links to import")
        row = _pending(actor, checked)
        row = LineListImport.objects.select_for_update().get(id=row.id)
        row.applied_at = clock.now()
        try:
            with transaction.atomic():
                row.save(update_fields=["applied_at", "updated_at"])
        except IntegrityError:  # the same file applied at the same moment by someone else
            raise _already_imported() from None
        result = _write(checked, actor=actor, row=row)
        audit_record(actor=actor, action=AuditAction.IMPORT, object_type=OBJECT_TYPE, object_id=row.id,
                     summary=f"导入病例名单《{row.file_name}》：新增病例{result['cases']}例"
                             f"（其中已出院或已排除{result['closed_cases']}例），传播关系{result['links']}条",
                     changes={"result": [None, result]},
                     query={"sha256": row.sha256, "file_name": row.file_name,
                            "links_file_name": row.links_file_name},
                     row_count=result["cases"] + result["links"], ip_address=ip_address)
        row.result = result
        row.save(update_fields=["result", "updated_at"])
    return {**result, "applied": True, "import_id": row.id, "sha256": row.sha256, "file_name": row.file_name,
            "links_file_name": row.links_file_name}


def _row_error(where, exc: DomainError) -> DomainError:
    """A refusal at apply (the database changed since the check): the whole import is rolled back."""
    error = {"sheet": where.sheet, "row": where.row, "column": "", "value": "", "code": exc.code,
             "message_zh": exc.message_zh, "message_en": exc.message_en}
    return DomainError(code="import_has_errors", status=422, field="file",
                       message_zh=f"{where.sheet}第{where.row}行：{exc.message_zh}；未导入任何数据",
                       message_en=f"{where.sheet} row {where.row}: {exc.message_en}; nothing was imported",
                       details=[error])


def _write(checked: Checked, *, actor, row: LineListImport) -> dict:
    summary = f"由病例名单《{row.file_name}》导入（历史数据或外地报告），不在本平台开展流调"
    now = clock.now()
    made: dict[int, Case] = {}
    closed = 0
    for case in sorted(checked.cases, key=lambda c: (c.reported_at, c.sheet, c.row)):
        try:
            if case.state in ACTIVE_CASE_STATES:
                made[id(case)] = _active_case(case, actor=actor)
            else:
                made[id(case)] = _closed_case(case, actor=actor)
                closed += 1
        except DomainError as exc:
            raise _row_error(case, exc) from None
        Investigation.objects.filter(case=made[id(case)]).update(state=InvestigationState.DONE, closed_at=now,
                                                                 summary=summary, updated_at=now)
    links = 0
    for link in checked.links:
        infector = link.infector if isinstance(link.infector, Case) else made[id(link.infector)]
        infectee = link.infectee if isinstance(link.infectee, Case) else made[id(link.infectee)]
        try:
            link_add(actor=actor, infector_id=infector.id, infectee_id=infectee.id, setting=link.setting,
                     confidence=link.confidence, evidence=link.evidence)
        except DomainError as exc:
            raise _row_error(link, exc) from None
        links += 1
    codes = sorted(c.code for c in made.values())
    return {"applied_at": now.isoformat(), "cases": len(made), "closed_cases": closed, "links": links,
            "case_codes": codes}


def _active_case(case: CaseRow, *, actor) -> Case:
    """Through the service, as a reported case is (status fact, a contact who is this case closes), without
    proposing contacts; then its state when the file says it moved on (transferred, in hospital, 方舱)."""
    made = case_create(actor=actor, data=_case_input(case)).case
    if case.state != made.state:
        made.state, made.state_note = case.state, "病例名单导入"
        made.save(update_fields=["state", "state_note", "updated_at"])
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=made,
                     summary=f"名单导入病例 {made.code} 的状态：{CaseState(made.state).label}")
    return made


def _closed_case(case: CaseRow, *, actor) -> Case:
    """A discharged or excluded case of the past: the services' checks, number and investigation clock, no
    status fact (it is not active), no contact of the person touched."""
    data = _case_input(case)
    _validate_case(data, clock.today())
    person = Person.objects.active().filter(id=case.person_id).select_related("area").get()
    made = Case.objects.create(
        code=_case_code(timezone.localdate(case.reported_at)), person=person, area=person.area,
        found_by=data.found_by, classification=data.classification, clinical_type=data.clinical_type,
        onset_date=data.onset_date, sampling_date=data.sampling_date, reported_at=case.reported_at,
        found_in_quarantine=data.found_in_quarantine, origin=data.origin, lineage=data.lineage[:40],
        state=case.state, source_ref=data.source_ref[:60], state_note="病例名单导入", created_by=actor)
    hours = int(_param(_rules(person.area), "investigation_hours", 24))
    investigation = Investigation.objects.create(case=made, opened_at=made.reported_at,
                                                 due_at=made.reported_at + dt.timedelta(hours=hours))
    itinerary_prefill(investigation)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=made,
                 summary=f"导入历史病例 {made.code}（{Classification(made.classification).label}，"
                         f"{CaseState(made.state).label}）")
    return made


# ---- the template ------------------------------------------------------------------------------------------

TITLE_FONT = Font(bold=True, size=13)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="F2DCDB")
TEXT_FORMAT = "@"


def _example_ids() -> list[str]:
    births = ((dt.date(1949, 12, 31), 2), (dt.date(1980, 5, 1), 11), (dt.date(2012, 9, 9), 24))
    return [make_resident_id("110105", birth, seq) for birth, seq in births]


def template_workbook() -> bytes:
    """A workbook to fill: the cases sheet, the links sheet (with example rows, skipped on import) and a
    guide."""
    a, b, c = _example_ids()
    sheets = {
        CASES_SHEET: ([col.name for col in CASE_COLUMNS], [
            ["示例1", "张三", a, "发热门诊", "确诊病例", "轻型", "2022-07-10", "2022-07-11", "2022-07-12 08:30", "否",
             "本土", "BA.5.2", "已出院"],
            ["示例2", "李四", b, "密接排查", "无症状感染者", "", "", "2022/7/13", "2022年7月14日", "是", "本土", "BA.5.2",
             "方舱医院"],
            ["示例3", "王五", c, "区域核酸单管阳性", "确诊病例", "普通型", "20220712", "20220714", "2022-07-14", "否",
             "输入", "", "已报告"],
        ]),
        LINKS_SHEET: ([col.name for col in LINK_COLUMNS], [
            ["示例1", "示例2", "家庭", "明确", "同住，示例1发病前2天起共同生活"],
            ["示例1", "示例3", "聚餐", "很可能", "07-09 同桌聚餐"],
        ]),
    }
    wb = Workbook()
    wb.remove(wb.active)
    for name, (columns, rows) in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(columns)
        for values in rows:
            ws.append(values)
        for index, column in enumerate(columns, start=1):
            cell = ws.cell(row=1, column=index)
            cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, Alignment(horizontal="center")
            letter = get_column_letter(index)
            ws.column_dimensions[letter].width = {"证件号码": 22, "报告时间": 18, "依据": 40, "发现途径": 18,
                                                  "诊断分类": 14, "隔离管控中发现": 14}.get(column, 12)
            if column in ("病例编号", "证件号码", "传染源", "被感染者"):
                for r in range(2, 1002):
                    ws.cell(row=r, column=index).number_format = TEXT_FORMAT
        ws.freeze_panes = "A2"
    guide = wb.create_sheet("填表说明")
    guide.column_dimensions["A"].width = 110
    guide.append(["填表说明（本工作表不会被导入）"])
    guide["A1"].font = TITLE_FONT
    for line in (
        "“病例”表每个病例一行；“传播关系”表每条传染源 → 被感染者一行（可不填）。也可以分别上传两个CSV文件。",
        "病例编号以“示例”开头的行是示例，不会被导入；请删除或覆盖示例行后填写。",
        "必填列：" + "、".join(CASE_REQUIRED) + "；传播关系表必填：" + "、".join(LINK_REQUIRED) + "。",
        "证件号码为18位居民身份证号码，此人须已在人员档案中（您的辖区内），且姓名一致；未登记的人员请先导入人员名单。",
        "日期可写 2022-07-14、2022/7/14、2022年7月14日、20220714 或Excel日期；报告时间可带时间，如 2022-07-14 08:30。",
        "发现途径可填：" + "、".join(zh(x) for x in FoundBy.labels) + "（空着为“其他”）。",
        "诊断分类可填：" + "、".join(zh(x) for x in Classification.labels) + "；临床分型（仅确诊病例）可填："
        + "、".join(zh(x) for x in ClinicalType.labels) + "。",
        "隔离管控中发现填“是”或“否”；本土/输入填“本土”或“输入”（空着为本土）。",
        "转归可填：" + "、".join(zh(x) for x in CaseState.labels) + "（空着为“已报告”）。已出院、已排除的历史病例不改变此人的健康码状态。",
        "传染源、被感染者填本文件的病例编号或证件号码，也可填系统中已有病例的编号（BL开头）。一个病例只能有一个传染源，不能形成循环。",
        "传播场景可填：" + "、".join(zh(x) for x in Setting.labels) + "；可信度可填：" + "、".join(zh(x) for x in Confidence.labels)
        + "。",
        "导入的病例不会自动推送密接，流调记为已完成。导入前系统先检查全部数据（试导入），有错误时一行也不会导入；同一文件只能导入一次。",
    ):
        guide.append([line])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
