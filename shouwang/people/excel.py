"""What the import and the export share: the two workbook layouts, header matching, cell values, templates."""

from __future__ import annotations

import datetime as dt
import io
import re

from django.db import models
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from shouwang.core.i18n import zh
from shouwang.people.enums import PersonTag, ResidenceKind


class ImportKind(models.TextChoices):
    RESIDENTS = "residents", "常住人口信息汇总表"
    ROSTER = "roster", "户籍花名册"


# Columns of each layout, in the order of the blank template; the file may order them any way.
COLUMNS: dict[str, list[str]] = {
    ImportKind.RESIDENTS: ["楼栋", "单元", "房号", "姓名", "身份证号", "联系电话", "人员类别", "备注"],
    ImportKind.ROSTER: ["户号", "户主姓名", "与户主关系", "姓名", "身份证号", "联系电话", "现住址", "备注"],
}
# Columns that must be present (their cells may still be blank where the row allows it).
REQUIRED: dict[str, list[str]] = {
    ImportKind.RESIDENTS: ["楼栋", "房号", "姓名", "身份证号"],
    ImportKind.ROSTER: ["户号", "姓名", "身份证号"],
}
COLUMN_EN = {
    "楼栋": "building", "单元": "unit", "房号": "room", "姓名": "name", "身份证号": "ID number",
    "联系电话": "mobile", "人员类别": "category", "备注": "notes", "户号": "household number",
    "户主姓名": "head of household", "与户主关系": "relation to head", "现住址": "current address",
}
# Other headings the communities' own sheets use for the same column.
HEADER_ALIASES = {
    "楼号": "楼栋", "楼栋号": "楼栋", "楼幢": "楼栋", "幢号": "楼栋", "单元号": "单元", "房间号": "房号", "门牌号": "房号",
    "室号": "房号", "身份证号码": "身份证号", "公民身份号码": "身份证号", "证件号码": "身份证号", "身份证": "身份证号",
    "手机号": "联系电话", "手机号码": "联系电话", "电话": "联系电话", "联系方式": "联系电话", "人员类型": "人员类别",
    "人群类别": "人员类别", "类别": "人员类别", "户主": "户主姓名", "与户主的关系": "与户主关系", "关系": "与户主关系",
    "住址": "现住址", "现居住地址": "现住址", "居住地址": "现住址", "家庭住址": "现住址", "户编号": "户号",
}
# Sheets a template or a community adds for people to read, not to import.
SKIPPED_SHEETS = {"填表说明", "说明", "使用说明"}
HEADER_SCAN_ROWS = 10

_HEADER_NOISE = re.compile(r"[\s*＊:：]|[（(][^）)]*[）)]")
_CATEGORY_SPLIT = re.compile(r"[,，、;；\s]+")


def header_name(value) -> str:
    """The canonical column a heading cell names ("身份证号码（必填）" -> "身份证号"), or ""."""
    if not isinstance(value, str):
        return ""
    text = _HEADER_NOISE.sub("", value)
    return HEADER_ALIASES.get(text, text)


def cell_text(value) -> str:
    """A cell's value as the text a person typed: 3.0 -> "3", a date -> "2022-04-15", None -> ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    return str(value).strip()


def _category_table() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    # Plain Chinese strings: the labels are lazy translations, which as keys would match only in Chinese.
    for tag in PersonTag:
        label = zh(tag.label)
        table[label] = ("tag", tag.value)
        table[tag.value] = ("tag", tag.value)
        for part in label.split("/"):
            table.setdefault(part, ("tag", tag.value))
    for kind in ResidenceKind:
        label = zh(kind.label)
        table[label] = ("kind", kind.value)
        table[label.removesuffix("人口")] = ("kind", kind.value)
    table.update({"外来人口": ("kind", ResidenceKind.TEMPORARY), "暂住人口": ("kind", ResidenceKind.TEMPORARY)})
    return table


CATEGORIES = _category_table()


def split_categories(text: str) -> list[str]:
    return [part for part in _CATEGORY_SPLIT.split(text) if part]


# ---- writing -------------------------------------------------------------------------------------------

TITLE_FONT = Font(bold=True, size=13)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="F2DCDB")
TEXT_FORMAT = "@"


def text_cell(ws, value: str) -> WriteOnlyCell | str:
    """A text cell that spreadsheet programs never read as a formula or a number."""
    if value and value[0] in "=+-@":
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def styled(ws, value, *, font: Font | None = None, fill: PatternFill | None = None, number_format: str = ""):
    cell = WriteOnlyCell(ws, value=value)
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if number_format:
        cell.number_format = number_format
    return cell


def _template_rows(kind: str) -> tuple[str, str, list[str]]:
    """Sheet name, title and the notes of a blank template."""
    if kind == ImportKind.RESIDENTS:
        return "幸福小区", "常住人口信息汇总表（每个小区或楼栋一张工作表，工作表名写小区或楼栋名称）", [
            "一个工作表填一个小区（或一栋楼）：把工作表名改成小区名称，例如“幸福小区”；平房院落也可作为小区。",
            "楼栋写“3号楼”或“3”，单元写“2单元”或“2”（没有单元可空着），房号写“501”。",
            "身份证号、联系电话两列已设为文本格式，请勿改成数字，否则身份证号后几位会丢失。",
            "人员类别可填多个，用顿号或逗号分开，例如“独居老人、流动人口”。可填的类别见下表。",
            "导入前系统会先检查全部数据（试导入），有错误时一行也不会导入，请按错误清单改好后重新上传。",
        ]
    return "花名册", "户籍花名册（家庭成员）", [
        "每位家庭成员一行；同一户的成员填相同的户号和户主姓名，户主本人的“与户主关系”填“户主”。",
        "户号可填门牌号或户口簿户号，例如“东村12号”；同一网格内户号不能重复使用于不同家庭。",
        "身份证号、联系电话两列已设为文本格式，请勿改成数字，否则身份证号后几位会丢失。",
        "导入前系统会先检查全部数据（试导入），有错误时一行也不会导入，请按错误清单改好后重新上传。",
    ]


def template_workbook(kind: str) -> bytes:
    """A blank workbook of the layout: a title row, the heading row, text-formatted ID and mobile columns."""
    columns = COLUMNS[kind]
    sheet_name, title, notes = _template_rows(kind)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_name
    ws.append([title])
    ws["A1"].font = TITLE_FONT
    ws.append(columns)
    for index, name in enumerate(columns, start=1):
        cell = ws.cell(row=2, column=index)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = {"身份证号": 22, "联系电话": 15, "人员类别": 20, "现住址": 30,
                                              "备注": 20}.get(name, 10)
        if name in ("身份证号", "联系电话", "房号", "户号"):
            for row in range(3, 1003):
                ws.cell(row=row, column=index).number_format = TEXT_FORMAT
    ws.freeze_panes = "A3"
    guide = wb.create_sheet("填表说明")
    guide.column_dimensions["A"].width = 100
    guide.append(["填表说明（本工作表不会被导入）"])
    guide["A1"].font = TITLE_FONT
    for line in notes:
        guide.append([line])
    guide.append([])
    guide.append(["必填列：" + "、".join(REQUIRED[kind])])
    if kind == ImportKind.RESIDENTS:
        labels = [zh(label) for label in [*PersonTag.labels, *ResidenceKind.labels]]
        guide.append(["可填的人员类别：" + "、".join(labels)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
