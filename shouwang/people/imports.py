"""Import the communities' workbooks: a dry run that lists every bad row, then an all-or-nothing apply.

An upload is kept as var/imports/<import_id>.xlsx beside <import_id>.json (who, where, sha256, the dry-run
report, the result once applied). Apply re-reads the stored file and re-checks it against the database, writes
everything in one transaction with bulk inserts, and records one audit event named after the import id: a
second apply of the same id finds that event and answers its result instead of importing again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from config.env import VAR_DIR
from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area, Household, subtree_range
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.i18n import zh
from shouwang.core.models import AuditAction, AuditEvent
from shouwang.people.enums import IdType, ResidenceKind
from shouwang.people.excel import (
    CATEGORIES,
    COLUMN_EN,
    COLUMNS,
    HEADER_SCAN_ROWS,
    REQUIRED,
    SKIPPED_SHEETS,
    ImportKind,
    cell_text,
    header_name,
    split_categories,
)
from shouwang.people.models import Person, PersonTagging
from shouwang.people.services import clean_identity

TARGET_LEVELS = (AreaLevel.GRID, AreaLevel.MICRO_GRID)
OBJECT_TYPE = "people.import"
MAX_FILE_BYTES = 100 * 1024 * 1024
BATCH = 2000
ID_CHUNK = 5000
# Write simple-history rows for imported people and households (measured by benchmarks/import_people.py).
WRITE_HISTORY = True
_IMPORT_ID = re.compile(r"^[0-9a-f]{32}$")
_DEFAULT_SHEET = re.compile(r"^(sheet|工作表)\s*\d*$", re.IGNORECASE)
_CODE_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CODE_SUFFIX = 4
_CODE_MAX = 20  # Area.code max_length
# Field of clean_identity -> (column, a value that passes, so the next field's error shows too).
_IDENTITY_FIELDS = {"name": ("姓名", "某"), "id_number": ("身份证号", "11010519491231002X"), "mobile": ("联系电话", "")}
HEAD_RELATIONS = {"户主", "本人"}


def imports_dir() -> Path:
    configured = getattr(settings, "SHOUWANG_IMPORTS_DIR", None)
    return Path(configured) if configured else VAR_DIR / "imports"


# ---- parsing and checking ------------------------------------------------------------------------------


def _error(sheet: str, row: int | None, column: str, value, code: str, zh: str, en: str) -> dict:
    return {"sheet": sheet, "row": row, "column": column, "value": "" if value is None else str(value)[:100],
            "code": code, "message_zh": zh, "message_en": en}


@dataclass
class Row:
    sheet: str
    row: int
    ident: dict
    notes: str
    room: str = ""
    building: str = ""
    unit: str = ""
    tags: tuple[str, ...] = ()
    residence_kind: str = ""  # "" = not given: new people get the layout's default, updates keep theirs
    head_name: str = ""
    relation: str = ""
    address: str = ""
    existing_id: int | None = None  # set when update_existing matches a registered person


@dataclass
class Parsed:
    kind: str
    total: int = 0
    rows: list[Row] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    bad_rows: set[tuple[str, int]] = field(default_factory=set)
    sheets: dict[str, dict] = field(default_factory=dict)  # name -> {"rows", "level"}
    sheet_order: dict[str, int] = field(default_factory=dict)

    def fail(self, sheet: str, row: int | None, column: str, value, code: str, zh: str, en: str) -> None:
        self.errors.append(_error(sheet, row, column, value, code, zh, en))
        if row is not None:
            self.bad_rows.add((sheet, row))

    @property
    def valid(self) -> int:
        return sum(1 for r in self.rows if (r.sheet, r.row) not in self.bad_rows)

    def report(self) -> dict:
        self.errors.sort(key=lambda e: (self.sheet_order.get(e["sheet"], 0), e["row"] or 0))
        return {"total_rows": self.total, "valid_rows": self.valid, "bad_rows": len(self.bad_rows),
                "error_count": len(self.errors), "errors": self.errors,
                "sheets": [{"name": k, **v} for k, v in self.sheets.items()]}


def _identity(name: str, id_number: str, mobile: str) -> tuple[dict | None, list[ValidationFailed]]:
    """clean_identity, run again with a passing stand-in for each failing field so every bad cell is named."""
    args = {"name": name, "id_number": id_number, "mobile": mobile}
    failures: list[ValidationFailed] = []
    for _ in _IDENTITY_FIELDS:
        try:
            ident = clean_identity(id_type=IdType.RESIDENT_ID, **args)
        except ValidationFailed as exc:
            failures.append(exc)
            if exc.field not in _IDENTITY_FIELDS:
                break
            args[exc.field] = _IDENTITY_FIELDS[exc.field][1]
        else:
            return (None if failures else ident), failures
    return None, failures


def _numbered(text: str, suffix: str) -> str:
    """"3" -> "3号楼", "2" -> "2单元"; anything else as written."""
    text = text.rstrip("#＃")
    return f"{int(text)}{suffix}" if text.isdigit() else text


class _Reader:
    """One pass over the workbook: header detection, cell checks, duplicate IDs within the file."""

    def __init__(self, kind: str, grid_children: dict[str, str]):
        self.kind = kind
        self.grid_children = grid_children  # name -> level of the grid's compounds and buildings
        self.parsed = Parsed(kind=kind)
        self.first_seen: dict[str, tuple[str, int]] = {}
        self.heads: dict[str, tuple[str, int]] = {}
        self._categories: dict[str, tuple[tuple[str, ...], str, list[str]]] = {}
        self._unit_only: list[tuple[int, str]] = []  # rows of the sheet with a unit and no building

    def read(self, path: Path) -> Parsed:
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
            raise ValidationFailed(field="file", code="file_format", message_zh="文件不是有效的Excel工作簿（.xlsx）",
                                   message_en="the file is not a valid Excel workbook (.xlsx)") from None
        try:
            for ws in wb.worksheets:
                if ws.title.strip() not in SKIPPED_SHEETS:
                    self._sheet(ws)
        finally:
            wb.close()
        return self.parsed

    def _sheet(self, ws) -> None:
        sheet = ws.title.strip()
        parsed = self.parsed
        parsed.sheet_order.setdefault(sheet, len(parsed.sheet_order))
        ws.reset_dimensions()  # some programs write a wrong size; read every row there is
        rows = ws.iter_rows(values_only=True)
        header: dict[str, int] | None = None
        header_row = 0
        seen_content = False
        for row_no, values in enumerate(rows, start=1):
            if row_no > HEADER_SCAN_ROWS:
                break
            if any(v not in (None, "") for v in values):
                seen_content = True
            found = self._header(values)
            if found:
                header, header_row = found, row_no
                break
        if header is None:
            if seen_content:
                parsed.fail(sheet, None, "", "", "header_not_found",
                            f"工作表“{sheet}”前{HEADER_SCAN_ROWS}行中没有找到表头（应包含“姓名”“身份证号”等列）",
                            f"sheet '{sheet}': no heading row (with 姓名, 身份证号 …) in the first {HEADER_SCAN_ROWS} rows")
            return
        missing = [c for c in REQUIRED[self.kind] if c not in header]
        for column in missing:
            parsed.fail(sheet, None, column, "", "missing_column", f"工作表“{sheet}”缺少“{column}”列",
                        f"sheet '{sheet}' has no column '{column}' ({COLUMN_EN[column]})")
        info = parsed.sheets.setdefault(sheet, {"rows": 0, "level": ""})
        if self.kind == ImportKind.RESIDENTS and _DEFAULT_SHEET.match(sheet):
            parsed.fail(sheet, None, "", sheet, "sheet_name",
                        f"工作表名“{sheet}”应改为小区或楼栋的名称",
                        f"rename sheet '{sheet}' to the name of the compound or building")
            missing.append("")
        if len(sheet) > 100:
            parsed.fail(sheet, None, "", sheet, "too_long", "工作表名（小区或楼栋名称）不能超过100个字",
                        "the sheet name (compound or building) must be at most 100 characters")
            missing.append("")
        width = max(header.values()) + 1
        handle = self._resident if self.kind == ImportKind.RESIDENTS else self._roster
        any_building = False
        self._unit_only = []
        for row_no, values in enumerate(rows, start=header_row + 1):
            if not any(v is not None and v != "" for v in values):
                continue
            if len(values) < width:
                values = (*values, *([None] * (width - len(values))))
            parsed.total += 1
            info["rows"] += 1
            if missing:
                continue
            any_building |= handle(sheet, row_no, values, header)
        if self.kind == ImportKind.RESIDENTS:
            existing = self.grid_children.get(sheet)
            info["level"] = existing or (AreaLevel.COMPOUND if any_building else AreaLevel.BUILDING)
            # A unit hangs under a building: the row's own, or the sheet when the sheet is a building.
            if info["level"] != AreaLevel.BUILDING:
                for row_no, unit in self._unit_only:
                    parsed.fail(sheet, row_no, "单元", unit, "required", "填了单元就要填楼栋",
                                "a unit needs a building")

    def _header(self, values) -> dict[str, int] | None:
        known = COLUMNS[self.kind]
        found: dict[str, int] = {}
        for index, value in enumerate(values):
            name = header_name(value)
            if name in known and name not in found:
                found[name] = index
        return found if "姓名" in found and len(found) >= 2 else None

    def _common(self, sheet: str, row_no: int, values, header: dict[str, int]) -> tuple[dict | None, str]:
        """Name, ID, mobile (through clean_identity), notes, and the ID duplicate check."""
        parsed = self.parsed
        raw_id = values[header["身份证号"]]
        raw_mobile = values[header["联系电话"]] if "联系电话" in header else None
        name = cell_text(values[header["姓名"]])
        mobile = cell_text(raw_mobile)
        notes = cell_text(values[header["备注"]]) if "备注" in header else ""
        numeric = isinstance(raw_id, float)
        if numeric:
            parsed.fail(sheet, row_no, "身份证号", cell_text(raw_id), "id_number_numeric",
                        "身份证号被Excel存成了数字，后几位已丢失；请把该列设为文本格式后重新填写",
                        "the ID number was stored as a number and lost its last digits; format the column as text")
            raw_id = _IDENTITY_FIELDS["id_number"][1]
        id_number = cell_text(raw_id)
        ident, failures = _identity(name, id_number, mobile)
        if numeric:
            ident = None
        for exc in failures:
            column = _IDENTITY_FIELDS.get(exc.field, (exc.field or "",))[0]
            value = {"姓名": name, "身份证号": id_number, "联系电话": mobile}.get(column, "")
            parsed.fail(sheet, row_no, column, value, exc.code, exc.message_zh, exc.message_en)
        if len(notes) > 300:
            parsed.fail(sheet, row_no, "备注", notes, "too_long", "备注不能超过300个字", "notes must be at most 300 characters")
        if ident is not None:
            number = ident["id_number"]
            first = self.first_seen.get(number)
            if first is not None:
                where = f"工作表“{first[0]}”第{first[1]}行"
                parsed.fail(sheet, row_no, "身份证号", number, "duplicate_in_file", f"身份证号与{where}重复",
                            f"ID number repeats row {first[1]} of sheet '{first[0]}'")
            else:
                self.first_seen[number] = (sheet, row_no)
        return ident, notes

    def _categories_of(self, text: str) -> tuple[tuple[str, ...], str, list[str]]:
        """(tags, residence kind, unknown labels) of a 人员类别 cell; memoised, the cells repeat."""
        found = self._categories.get(text)
        if found is None:
            tags: set[str] = set()
            kinds: list[str] = []
            unknown: list[str] = []
            for label in split_categories(text):
                hit = CATEGORIES.get(label)
                if hit is None:
                    unknown.append(label)
                elif hit[0] == "tag":
                    tags.add(hit[1])
                elif hit[1] not in kinds:
                    kinds.append(hit[1])
            if len(kinds) > 1:
                unknown.append("/".join(zh(ResidenceKind(k).label) for k in kinds))
            found = (tuple(sorted(tags)), kinds[0] if kinds else "", unknown)
            self._categories[text] = found
        return found

    def _resident(self, sheet: str, row_no: int, values, header: dict[str, int]) -> bool:
        parsed = self.parsed
        ident, notes = self._common(sheet, row_no, values, header)
        building = _numbered(cell_text(values[header["楼栋"]]), "号楼")
        unit = _numbered(cell_text(values[header["单元"]]), "单元") if "单元" in header else ""
        room = cell_text(values[header["房号"]])
        category = cell_text(values[header["人员类别"]]) if "人员类别" in header else ""
        tags, kind, unknown = self._categories_of(category) if category else ((), "", [])
        if unknown:
            parsed.fail(sheet, row_no, "人员类别", category, "invalid_choice",
                        f"人员类别“{'、'.join(unknown)}”不是可选值（人口类别只能填一个）",
                        f"category '{', '.join(unknown)}' is not allowed (one residence kind at most)")
        if self.grid_children.get(sheet) == AreaLevel.BUILDING and building and building != sheet:
            parsed.fail(sheet, row_no, "楼栋", building, "area_level",
                        f"“{sheet}”已是楼栋，本表的楼栋列应空着", f"'{sheet}' is a building: leave 楼栋 blank")
        if unit and not building:
            self._unit_only.append((row_no, unit))  # an error unless the sheet is a building: known at its end
        for column, value, limit in (("楼栋", building, 100), ("单元", unit, 100), ("房号", room, 50)):
            if len(value) > limit:
                parsed.fail(sheet, row_no, column, value, "too_long", f"{column}不能超过{limit}个字",
                            f"{COLUMN_EN[column]} must be at most {limit} characters")
        if ident is not None:
            parsed.rows.append(Row(sheet=sheet, row=row_no, ident=ident, notes=notes, room=room,
                                   building=building, unit=unit, tags=tags, residence_kind=kind))
        return bool(building)

    def _roster(self, sheet: str, row_no: int, values, header: dict[str, int]) -> bool:
        parsed = self.parsed
        ident, notes = self._common(sheet, row_no, values, header)
        door = cell_text(values[header["户号"]])
        head = cell_text(values[header["户主姓名"]]) if "户主姓名" in header else ""
        relation = cell_text(values[header["与户主关系"]]) if "与户主关系" in header else ""
        address = cell_text(values[header["现住址"]]) if "现住址" in header else ""
        if not door:
            parsed.fail(sheet, row_no, "户号", door, "required", "户号不能为空", "household number is required")
        for column, value, limit in (("户号", door, 50), ("户主姓名", head, 50), ("与户主关系", relation, 20),
                                     ("现住址", address, 200)):
            if len(value) > limit:
                parsed.fail(sheet, row_no, column, value, "too_long", f"{column}不能超过{limit}个字",
                            f"{COLUMN_EN[column]} must be at most {limit} characters")
        if door and head:
            first = self.heads.setdefault(door, (head, row_no))
            if first[0] != head:
                parsed.fail(sheet, row_no, "户主姓名", head, "head_mismatch",
                            f"户号{door}的户主姓名与第{first[1]}行（{first[0]}）不一致",
                            f"household {door} names another head than row {first[1]} ({first[0]})")
        if relation in HEAD_RELATIONS and head and ident is not None and ident["name"] != head:
            parsed.fail(sheet, row_no, "户主姓名", head, "head_mismatch",
                        f"与户主关系为“{relation}”，姓名却与户主姓名“{head}”不同",
                        f"relation is '{relation}' but the name differs from the head '{head}'")
        if ident is not None:
            parsed.rows.append(Row(sheet=sheet, row=row_no, ident=ident, notes=notes, room=door, head_name=head,
                                   relation=relation, address=address))
        return False


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_registered(parsed: Parsed, *, user, update_existing: bool) -> None:
    """ID numbers already on file: a row error, or (update_existing) a person to update if in jurisdiction."""
    rows = {r.ident["id_number"]: r for r in parsed.rows if (r.sheet, r.row) not in parsed.bad_rows}
    if not rows:
        return
    numbers = list(rows)
    mine_lo, mine_hi = subtree_range(jurisdiction_path(user))
    for chunk in _chunks(numbers, ID_CHUNK):
        found = Person.objects.filter(id_type=IdType.RESIDENT_ID, id_number__in=chunk).values_list(
            "id_number", "id", "name", "area__path", "merged_into_id")
        for number, person_id, name, area_path, merged_into in found:
            row = rows[number]
            if not update_existing:
                parsed.fail(row.sheet, row.row, "身份证号", number, "person_exists",
                            "该身份证号已登记（一人一档）", "this ID number is already registered (one file per person)")
            elif merged_into is not None or not (mine_lo <= area_path <= mine_hi):
                parsed.fail(row.sheet, row.row, "身份证号", number, "person_exists_elsewhere",
                            "该身份证号已在您辖区以外登记，不能通过导入更新",
                            "this ID number is registered outside your jurisdiction and cannot be updated here")
            elif name != row.ident["name"]:
                parsed.fail(row.sheet, row.row, "姓名", row.ident["name"], "name_mismatch",
                            f"该身份证号已登记为“{name}”，姓名不一致", f"this ID number is registered as '{name}'")
            else:
                row.existing_id = person_id


def _grid_children(grid: Area) -> dict[str, str]:
    lo, hi = grid.subtree_bounds
    found: dict[str, str] = {}
    for name, level in (Area.objects.filter(path__range=(lo, hi), depth=grid.depth + 1,
                                            level__in=[AreaLevel.COMPOUND, AreaLevel.BUILDING])
                        .order_by("path").values_list("name", "level")):
        found.setdefault(name, level)
    return found


def parse_and_check(path: Path, *, kind: str, grid: Area, user, update_existing: bool = False) -> Parsed:
    """Read the workbook and check every row: the same checks the dry run shows and the apply re-runs."""
    parsed = _Reader(kind, _grid_children(grid)).read(path)
    _check_registered(parsed, user=user, update_existing=update_existing)
    return parsed


# ---- writing -------------------------------------------------------------------------------------------


def _natural(name: str) -> list[tuple[int, int | str]]:
    """Sort key that puts "2号楼" before "10号楼"."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]


class _Codes:
    """Area codes for new compounds, buildings and units: the grid's code, "-", a 4-character base-36 number."""

    def __init__(self, grid: Area):
        self.prefix = grid.code[: _CODE_MAX - _CODE_SUFFIX - 1] + "-"
        width = len(self.prefix) + _CODE_SUFFIX
        taken = [c[len(self.prefix):] for c in Area.objects.filter(code__startswith=self.prefix)
                 .values_list("code", flat=True) if len(c) == width]
        numbers = [int(s, 36) for s in taken if s.isalnum() and s.upper() == s]
        self.next = max(numbers, default=0) + 1

    def take(self) -> str:
        if self.next >= len(_CODE_DIGITS) ** _CODE_SUFFIX:
            raise DomainError(code="area_code_exhausted", status=409, field="area_id",
                              message_zh="本网格可自动编号的区域代码已用完", message_en="this grid ran out of area codes")
        n, digits = self.next, ""
        for _ in range(_CODE_SUFFIX):
            n, d = divmod(n, 36)
            digits = _CODE_DIGITS[d] + digits
        self.next += 1
        return self.prefix + digits


class _Tree:
    """Finds or creates the compounds, buildings and units under one grid.

    A node found by (level, name) under its parent is reused. A new child of a node that already existed goes
    through treebeard (sorted among its siblings); a child of a new node gets its path computed here and is
    inserted in bulk, with its siblings, in code order.
    """

    def __init__(self, grid: Area, *, actor, reason: str):
        self.grid = grid
        self.actor = actor
        self.reason = reason
        self.codes = _Codes(grid)
        self.created: dict[str, int] = defaultdict(int)
        self.nodes: dict[tuple, Area] = {(): grid}
        self.new_keys: set[tuple] = set()
        self._index()

    def _index(self) -> None:
        lo, hi = self.grid.subtree_bounds
        self.children: dict[str, dict[tuple[str, str], Area]] = defaultdict(dict)
        existing = Area.objects.filter(path__range=(lo, hi), depth__gt=self.grid.depth,
                                       depth__lte=self.grid.depth + 3,
                                       level__in=[AreaLevel.COMPOUND, AreaLevel.BUILDING, AreaLevel.UNIT])
        for area in existing.order_by("path"):
            self.children[area.path[: -Area.steplen]].setdefault((area.level, area.name), area)

    def _refresh(self) -> None:
        """Paths move when treebeard inserts a sibling in sorted order: reload every node held."""
        fresh = Area.objects.in_bulk([a.id for a in self.nodes.values()])
        self.nodes = {k: fresh[a.id] for k, a in self.nodes.items()}
        self._index()

    def ensure(self, keys: set[tuple]) -> dict[tuple, Area]:
        """keys: tuples of (level, name) pairs from the grid down; returns key -> area for every key."""
        wanted = set(keys)
        for key in keys:
            wanted.update(key[:i] for i in range(1, len(key)))
        by_depth: dict[int, list[tuple]] = defaultdict(list)
        for key in wanted:
            by_depth[len(key)].append(key)
        child_count: dict[tuple, int] = defaultdict(int)
        for key in wanted:
            child_count[key[:-1]] += 1
        for depth in sorted(by_depth):
            sorted_keys = sorted(by_depth[depth], key=lambda k: [_natural(name) for _, name in k])
            via_treebeard, bulk = [], defaultdict(list)
            for key in sorted_keys:
                parent_key = key[:-1]
                parent = self.nodes[parent_key]
                found = None if parent_key in self.new_keys else self.children[parent.path].get(key[-1])
                if found is not None:
                    self.nodes[key] = found
                elif parent_key in self.new_keys:
                    bulk[parent_key].append(key)
                else:
                    via_treebeard.append(key)
            for key in via_treebeard:
                level, name = key[-1]
                node = Area(code=self.codes.take(), name=name, level=level)
                node._history_user = self.actor
                node._change_reason = self.reason
                node = Area.objects.add_child(self.nodes[key[:-1]], instance=node)
                self._created(key, node)
            if via_treebeard:
                self._refresh()
            new_nodes = []
            for parent_key, child_keys in bulk.items():
                parent = self.nodes[parent_key]
                for step, key in enumerate(child_keys, start=1):
                    level, name = key[-1]
                    node = Area(code=self.codes.take(), name=name, level=level, depth=parent.depth + 1,
                                path=Area._get_path(parent.path, parent.depth + 1, step),
                                numchild=child_count.get(key, 0))
                    new_nodes.append((key, node))
            if new_nodes:
                created = _bulk_create(Area, [n for _, n in new_nodes], actor=self.actor, reason=self.reason,
                                       history=True)
                for (key, _), node in zip(new_nodes, created, strict=True):
                    self._created(key, node)
        # Nodes made through treebeard got their children in bulk: set their child counts.
        for key in self.new_keys:
            node = self.nodes[key]
            if node.numchild != child_count.get(key, 0):
                node.numchild = child_count.get(key, 0)
                Area.objects.filter(id=node.id).update(numchild=node.numchild)
        return {key: self.nodes[key] for key in keys}

    def _created(self, key: tuple, node: Area) -> None:
        self.nodes[key] = node
        self.new_keys.add(key)
        self.created[node.level] += 1


def _bulk_create(model, objs: list, *, actor, reason: str, history: bool) -> list:
    if not objs:
        return []
    if history:
        return bulk_create_with_history(objs, model, batch_size=BATCH, default_user=actor,
                                        default_change_reason=reason, default_date=timezone.now())
    return model.objects.bulk_create(objs, batch_size=BATCH)


def _households(keys: set[tuple[int, str]], addresses: dict[tuple[int, str], str], *, new_area_ids: set[int],
                actor, reason: str, history: bool) -> tuple[dict[tuple[int, str], int], int]:
    """(area_id, room) -> household id, creating those missing; returns the map and how many were created."""
    found: dict[tuple[int, str], int] = {}
    old_area_ids = sorted({a for a, _ in keys} - new_area_ids)
    for chunk in _chunks(old_area_ids, ID_CHUNK):
        for hid, area_id, room in Household.objects.filter(area_id__in=chunk).values_list("id", "area_id", "room"):
            found[(area_id, room)] = hid
    missing = sorted(k for k in keys if k not in found)
    objs = [Household(area_id=a, room=room, address=addresses.get((a, room), "")[:200]) for a, room in missing]
    for key, obj in zip(missing, _bulk_create(Household, objs, actor=actor, reason=reason, history=history),
                        strict=True):
        found[key] = obj.id
    return found, len(missing)


DEFAULT_KIND = {ImportKind.RESIDENTS: ResidenceKind.RESIDENT, ImportKind.ROSTER: ResidenceKind.REGISTERED}


def _resident_areas(parsed: Parsed, *, grid: Area, actor, reason: str) -> tuple[list[int], list[str], dict, set]:
    """Area id and address of each row of a 常住人口汇总表; the counts of areas made; the new area ids."""
    levels = {name: info["level"] for name, info in parsed.sheets.items()}
    key_of: dict[tuple[str, str, str], tuple] = {}
    for r in parsed.rows:
        triple = (r.sheet, r.building, r.unit)
        if triple not in key_of:
            key: tuple = ((levels[r.sheet], r.sheet),)
            if key[-1][0] == AreaLevel.COMPOUND and r.building:
                key += ((AreaLevel.BUILDING, r.building),)
            if r.unit and key[-1][0] == AreaLevel.BUILDING:
                key += ((AreaLevel.UNIT, r.unit),)
            key_of[triple] = key
    tree = _Tree(grid, actor=actor, reason=reason)
    areas = tree.ensure(set(key_of.values()))
    counts = {"compounds": tree.created[AreaLevel.COMPOUND], "buildings": tree.created[AreaLevel.BUILDING],
              "units": tree.created[AreaLevel.UNIT]}
    chain = {triple: "".join(name for _, name in key) for triple, key in key_of.items()}
    area_of, address_of = [], []
    for r in parsed.rows:
        triple = (r.sheet, r.building, r.unit)
        area_of.append(areas[key_of[triple]].id)
        address_of.append(chain[triple] + (f"{r.room}室" if r.room.isdigit() else r.room))
    return area_of, address_of, counts, {tree.nodes[k].id for k in tree.new_keys}


def _write(parsed: Parsed, *, grid: Area, actor, reason: str, history: bool) -> dict:
    rows = parsed.rows
    counts: dict[str, int] = {}
    if parsed.kind == ImportKind.RESIDENTS:
        area_of, address_of, counts, new_area_ids = _resident_areas(parsed, grid=grid, actor=actor, reason=reason)
    else:
        area_of, address_of, new_area_ids = [grid.id] * len(rows), [r.address for r in rows], set()
    addresses: dict[tuple[int, str], str] = {}
    for area_id, r, address in zip(area_of, rows, address_of, strict=True):
        if r.room and not addresses.get((area_id, r.room)):
            addresses[(area_id, r.room)] = address  # the first address given for the household
    households, counts["households"] = _households(set(addresses), addresses, new_area_ids=new_area_ids,
                                                   actor=actor, reason=reason, history=history)
    default_kind = DEFAULT_KIND[parsed.kind]
    new_people: list[Person] = []
    new_tags: list[tuple[int, tuple[str, ...]]] = []
    updates: list[tuple[Row, int, int | None, str]] = []
    for r, area_id, address in zip(rows, area_of, address_of, strict=True):
        household_id = households[(area_id, r.room)] if r.room else None
        address = address or addresses.get((area_id, r.room), "")
        if r.existing_id is not None:
            updates.append((r, area_id, household_id, address))
            continue
        if r.tags:
            new_tags.append((len(new_people), r.tags))
        new_people.append(Person(**r.ident, area_id=area_id, household_id=household_id, relation_to_head=r.relation,
                                 residence_kind=r.residence_kind or default_kind, current_address=address[:200],
                                 notes=r.notes))
    created = _bulk_create(Person, new_people, actor=actor, reason=reason, history=history)
    taggings = [PersonTagging(person_id=created[i].id, tag=t) for i, tags in new_tags for t in tags]
    if updates:
        taggings += _update_people(updates, actor=actor, reason=reason, history=history)
    PersonTagging.objects.bulk_create(taggings, batch_size=BATCH, ignore_conflicts=bool(updates))
    return {**counts, "people": len(created), "updated": len(updates), "tags": len(taggings)}


UPDATED_FIELDS = ["mobile", "area", "household", "relation_to_head", "residence_kind", "current_address", "notes",
                  "updated_at"]


def _update_people(updates: list[tuple[Row, int, int | None, str]], *, actor, reason: str,
                   history: bool) -> list[PersonTagging]:
    """Move registered people to the row's residence; blank cells keep what is on file. Returns tags to add."""
    people = Person.objects.in_bulk([r.existing_id for r, *_ in updates])
    now = timezone.now()
    changed, taggings = [], []
    for r, area_id, household_id, address in updates:
        person = people[r.existing_id]
        person.area_id, person.household_id, person.updated_at = area_id, household_id, now
        person.mobile = r.ident["mobile"] or person.mobile
        person.relation_to_head = r.relation or person.relation_to_head
        person.residence_kind = r.residence_kind or person.residence_kind
        person.current_address = address[:200] or person.current_address
        person.notes = r.notes or person.notes
        changed.append(person)
        taggings += [PersonTagging(person_id=person.id, tag=t) for t in r.tags]
    if history:
        bulk_update_with_history(changed, Person, UPDATED_FIELDS, batch_size=BATCH, default_user=actor,
                                 default_change_reason=reason)
    else:
        Person.objects.bulk_update(changed, UPDATED_FIELDS, batch_size=BATCH)
    return taggings


# ---- the stored upload ---------------------------------------------------------------------------------


def _paths(import_id: str) -> tuple[Path, Path]:
    if not _IMPORT_ID.match(import_id or ""):
        raise NotFound("导入记录", "import", field="import_id")
    base = imports_dir()
    return base / f"{import_id}.xlsx", base / f"{import_id}.json"


def _save(record: dict) -> None:
    _, meta = _paths(record["import_id"])
    tmp = meta.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, meta)


def _load(import_id: str, user) -> dict:
    _, meta = _paths(import_id)
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound("导入记录", "import", field="import_id") from None
    if record.get("user_id") != getattr(user, "id", None):
        raise NotFound("导入记录", "import", field="import_id")
    return record


@contextlib.contextmanager
def _locked(import_id: str):
    _, meta = _paths(import_id)
    with open(meta.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _target(user, area_id: int) -> Area:
    grid = area_visible(user=user, area_id=area_id)
    if grid.level not in TARGET_LEVELS:
        raise ValidationFailed(field="area_id", code="area_level", message_zh="请选择要导入到的网格或微网格",
                               message_en="choose a grid or micro-grid to import into")
    return grid


def _check_kind(kind: str) -> str:
    if kind not in ImportKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh=f"导入类型“{kind}”不存在",
                               message_en=f"import kind '{kind}' does not exist")
    return kind


def import_dry_run(*, actor, kind: str, area_id: int, upload, file_name: str, update_existing: bool = False) -> dict:
    """Store the upload, check every row, and return the report (with its import_id); nothing is imported."""
    require(actor, Capability.PERSON_IMPORT, "导入人员名单", "import people")
    _check_kind(kind)
    grid = _target(actor, area_id)
    import_id = uuid.uuid4().hex
    xlsx, _ = _paths(import_id)
    xlsx.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(xlsx, "wb") as out:
        for chunk in iter(lambda: upload.read(1 << 20), b""):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                out.close()
                xlsx.unlink()
                raise ValidationFailed(field="file", code="file_too_large", message_zh="文件不能超过100MB",
                                       message_en="the file must be at most 100 MB")
            digest.update(chunk)
            out.write(chunk)
    try:
        parsed = parse_and_check(xlsx, kind=kind, grid=grid, user=actor, update_existing=update_existing)
    except DomainError:
        xlsx.unlink()
        raise
    record = {
        "import_id": import_id, "kind": kind, "area_id": grid.id, "area_name": grid.name, "user_id": actor.id,
        "file_name": (file_name or "upload.xlsx")[:200], "sha256": digest.hexdigest(), "size": size,
        "update_existing": bool(update_existing), "created_at": timezone.now().isoformat(),
        "report": parsed.report(), "result": None,
    }
    _save(record)
    return import_view(record)


def import_view(record: dict) -> dict:
    """The answer for pages and the API: the report, and the result once applied."""
    report = record["report"]
    return {
        "import_id": record["import_id"], "kind": record["kind"], "kind_label": ImportKind(record["kind"]).label,
        "area_id": record["area_id"], "area_name": record["area_name"], "file_name": record["file_name"],
        "sha256": record["sha256"], "update_existing": record["update_existing"],
        "created_at": record["created_at"], "total_rows": report["total_rows"], "valid_rows": report["valid_rows"],
        "bad_rows": report["bad_rows"], "error_count": report["error_count"], "errors": report["errors"],
        "sheets": report["sheets"], "can_apply": report["error_count"] == 0 and report["valid_rows"] > 0,
        "applied": record["result"] is not None, "result": record["result"],
    }


def import_get(*, import_id: str, actor) -> dict:
    require(actor, Capability.PERSON_IMPORT, "导入人员名单", "import people")
    return import_view(_load(import_id, actor))


def _applied(import_id: str) -> dict | None:
    event = AuditEvent.objects.filter(action=AuditAction.IMPORT, object_type=OBJECT_TYPE, object_id=import_id).first()
    return event.changes["result"][1] if event is not None else None


def import_apply(*, import_id: str, actor, ip_address: str = "", history: bool | None = None) -> dict:
    """Import a checked upload, all rows or none; a second apply of the same id answers the first result."""
    require(actor, Capability.PERSON_IMPORT, "导入人员名单", "import people")
    _load(import_id, actor)
    with _locked(import_id):
        record = _load(import_id, actor)
        if record["result"] is None and (done := _applied(import_id)) is not None:
            record["result"] = done  # applied, but the process stopped before it wrote the JSON
            _save(record)
        if record["result"] is not None:
            return import_view(record)
        grid = _target(actor, record["area_id"])
        xlsx, _ = _paths(import_id)
        if hashlib.sha256(xlsx.read_bytes()).hexdigest() != record["sha256"]:
            raise DomainError(code="import_file_changed", status=409, field="import_id",
                              message_zh="上传的文件已改变，请重新上传", message_en="the stored upload changed; upload again")
        parsed = parse_and_check(xlsx, kind=record["kind"], grid=grid, user=actor,
                                 update_existing=record["update_existing"])
        record["report"] = report = parsed.report()
        if report["error_count"] or not report["valid_rows"]:
            _save(record)
            if report["error_count"]:
                raise DomainError(code="import_has_errors", status=422, field="file",
                                  message_zh=f"有{report['bad_rows'] or report['error_count']}处错误，未导入任何数据；"
                                  "请改正后重新上传",
                                  message_en=f"{report['bad_rows'] or report['error_count']} errors: nothing was "
                                  "imported; correct the file and upload it again",
                                  details=report["errors"][:50])
            raise DomainError(code="import_empty", status=422, field="file", message_zh="文件中没有可导入的数据",
                              message_en="the file holds no rows to import")
        label = ImportKind(record["kind"]).label
        reason = f"导入{label}《{record['file_name']}》"
        with transaction.atomic():
            counts = _write(parsed, grid=grid, actor=actor, reason=reason,
                            history=WRITE_HISTORY if history is None else history)
            result = {"import_id": import_id, "applied_at": timezone.now().isoformat(),
                      "rows": report["valid_rows"], **counts}
            audit_record(actor=actor, action=AuditAction.IMPORT, object_type=OBJECT_TYPE, object_id=import_id,
                         summary=f"{reason}到{grid.name}：新增{counts['people']}人"
                         + (f"，更新{counts['updated']}人" if counts["updated"] else ""),
                         changes={"result": [None, result]},
                         query={"kind": record["kind"], "area_id": grid.id, "file_name": record["file_name"],
                                "sha256": record["sha256"], "update_existing": record["update_existing"]},
                         row_count=report["valid_rows"], ip_address=ip_address)
        record["result"] = result
        _save(record)
        return import_view(record)


def import_targets(user) -> list[tuple[int, str]]:
    """Grids and micro-grids the user may import into, labelled with their township and village."""
    require(user, Capability.PERSON_IMPORT, "导入人员名单", "import people")
    grids = list(Area.objects.subtree(jurisdiction_path(user)).filter(level__in=TARGET_LEVELS)
                 .values_list("id", "path", "depth", "name"))
    if not grids:
        return []
    step = Area.steplen
    ancestors = {p[: i * step] for _, p, d, _ in grids for i in range(1, d)}
    names = dict(Area.objects.filter(path__in=ancestors, level__in=[AreaLevel.TOWNSHIP, AreaLevel.VILLAGE,
                                                                    AreaLevel.GRID])
                 .values_list("path", "name"))
    out = []
    for area_id, path, depth, name in grids:
        chain = [names[path[: i * step]] for i in range(1, depth) if path[: i * step] in names]
        out.append((area_id, " / ".join([*chain, name])))
    return out
