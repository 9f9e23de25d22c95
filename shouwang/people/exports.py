"""Export a person list to Excel: the same filters and jurisdiction as the search, masked unless allowed."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO

from django.db.models import Prefetch
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.areas.selectors import grid_names
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.i18n import zh
from shouwang.core.models import AuditAction
from shouwang.people.enums import IdType, PersonTag, Sex
from shouwang.people.excel import HEADER_FILL, HEADER_FONT, TITLE_FONT, styled, text_cell
from shouwang.people.models import PersonTagging
from shouwang.people.selectors import PersonFilter, person_row, person_search

EXPORT_COLUMNS = [
    ("姓名", 10), ("性别", 6), ("出生日期", 12), ("证件类型", 12), ("证件号码", 21), ("手机号", 14),
    ("所属网格", 16), ("户", 24), ("现住址", 30), ("工作单位", 20), ("人群标签", 20),
]
CHUNK = 2000
_GRID_LEVELS = {AreaLevel.GRID, AreaLevel.MICRO_GRID}


@dataclass
class ExportFile:
    file: IO[bytes]
    filename: str
    row_count: int
    full: bool


class _GridNames:
    """Grid (and micro-grid) names above each area, looked up once per batch of new areas."""

    def __init__(self):
        self.by_area: dict[int, str] = {}

    def load(self, areas: list[Area]) -> None:
        todo = {a.id: a for a in areas if a.id not in self.by_area}
        if not todo:
            return
        self.by_area.update(grid_names(list(todo.values()), separator="/"))

    def __getitem__(self, area_id: int) -> str:
        return self.by_area.get(area_id, "")


def _describe(filters: PersonFilter, area_name: str, tag_labels: dict[str, str]) -> str:
    parts = []
    if filters.q.strip():
        parts.append(f"关键词“{filters.q.strip()}”")
    if filters.area_id:
        parts.append(f"区域“{area_name}”")
    if filters.tag:
        parts.append(f"人群“{tag_labels.get(filters.tag, filters.tag)}”")
    if filters.address.strip():
        parts.append(f"地址含“{filters.address.strip()}”")
    return "，".join(parts) or "全部（本辖区）"


def people_export(*, user, filters: PersonFilter, full: bool = False, ip_address: str = "") -> ExportFile:
    """Write the people the search finds to an .xlsx (write-only, streamed to a temporary file) and audit it."""
    require(user, Capability.PERSON_EXPORT, "导出人员名单", "export people")
    show_full = bool(full) and user.can(Capability.PERSON_EXPORT_FULL)
    qs = person_search(user=user, filters=filters).select_related("household").prefetch_related(
        Prefetch("tags", queryset=PersonTagging.objects.only("person_id", "tag")))
    # Officials' lists are in Chinese whatever the page language.
    tag_labels = {k: zh(v) for k, v in PersonTag.choices}
    sex_labels = {k: zh(v) for k, v in Sex.choices}
    id_labels = {k: zh(v) for k, v in IdType.choices}
    area_name = ""
    if filters.area_id:
        area_name = Area.objects.filter(id=filters.area_id).values_list("name", flat=True).first() or ""
    exported_at = timezone.localtime(clock.now())
    description = _describe(filters, area_name, tag_labels)

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人员名单")
    for index, (_, width) in enumerate(EXPORT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A3"
    masked_note = "完整证件号码和手机号" if show_full else "证件号码和手机号已打码"
    ws.append([styled(ws, f"人员名单　筛选：{description}　导出时间：{exported_at:%Y-%m-%d %H:%M}（北京时间）"
                          f"　导出人：{user}　{masked_note}", font=TITLE_FONT)])
    ws.append([styled(ws, name, font=HEADER_FONT, fill=HEADER_FILL) for name, _ in EXPORT_COLUMNS])
    grids = _GridNames()
    count = 0
    batch = []

    def flush():
        grids.load([p.area for p in batch])
        for person in batch:
            row = person_row(person, full=show_full)
            household = person.household
            ws.append([
                text_cell(ws, row["name"]),
                sex_labels.get(row["sex"], ""),
                styled(ws, row["birth_date"], number_format="yyyy-mm-dd") if row["birth_date"] else None,
                id_labels.get(row["id_type"], row["id_type"]),
                row["id_number"],
                row["mobile"],
                text_cell(ws, grids[person.area_id] or row["area_name"]),
                text_cell(ws, (household.address or household.room) if household else ""),
                text_cell(ws, row["current_address"]),
                text_cell(ws, person.workplace),
                "、".join(tag_labels.get(t.tag, t.tag) for t in person.tags.all()),
            ])
        batch.clear()

    for person in qs.iterator(chunk_size=CHUNK):
        batch.append(person)
        count += 1
        if len(batch) >= CHUNK:
            flush()
    flush()
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    wb.save(out)
    out.seek(0)
    audit_record(actor=user, action=AuditAction.EXPORT, object_type="people.person",
                 summary=f"导出人员名单{count}人（{description}；{masked_note}）", query=filters.as_dict(),
                 changes={"full": [None, show_full]}, row_count=count, ip_address=ip_address)
    return ExportFile(file=out, filename=f"人员名单_{exported_at:%Y%m%d}.xlsx", row_count=count, full=show_full)
