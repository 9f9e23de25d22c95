"""Writes to the area tree."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction

from shouwang.areas.enums import ALLOWED_CHILDREN, AreaLevel, GridKind
from shouwang.areas.models import Area, Household
from shouwang.areas.selectors import gb2260_names
from shouwang.areas.shapes import geometry_bbox, geometry_centre, geometry_clean, position_count
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from shouwang.core.i18n import zh
from shouwang.core.models import AuditAction

# Statistical code widths: 6 (county and above), 9 (township), 12 (village); grids and below are free text.
CODE_PATTERNS = {
    AreaLevel.PROVINCE: re.compile(r"^\d{2}0000$"),
    AreaLevel.CITY: re.compile(r"^\d{4}00$"),
    AreaLevel.COUNTY: re.compile(r"^\d{6}$"),
    AreaLevel.TOWNSHIP: re.compile(r"^\d{9}$"),
    AreaLevel.VILLAGE: re.compile(r"^\d{12}$"),
}
# How many leading digits of the parent's code a child's code repeats.
PARENT_PREFIX = {AreaLevel.PROVINCE: 2, AreaLevel.CITY: 4, AreaLevel.COUNTY: 6, AreaLevel.TOWNSHIP: 9}


def _check_child(parent: Area | None, level: str, code: str, grid_kind: str) -> None:
    if level not in AreaLevel.values:
        raise ValidationFailed(field="level", code="invalid_choice", message_zh=f"层级“{level}”不存在",
                               message_en=f"level '{level}' does not exist")
    if parent is None and level != AreaLevel.PROVINCE:
        raise ValidationFailed(field="parent_id", code="area_parent", message_zh="只有省级可以作为根节点",
                               message_en="only a province can be a root")
    if parent is not None and level not in ALLOWED_CHILDREN[parent.level]:
        raise ValidationFailed(
            field="level", code="area_parent",
            message_zh=f"{zh(AreaLevel(parent.level).label)}下不能建{zh(AreaLevel(level).label)}",
            message_en=f"a {parent.level} cannot hold a {level}",
        )
    pattern = CODE_PATTERNS.get(level)
    if pattern and not pattern.match(code):
        raise ValidationFailed(field="code", code="area_code",
                               message_zh=f"{zh(AreaLevel(level).label)}代码格式不对", message_en=f"{level} code has the wrong form")
    keep = PARENT_PREFIX.get(parent.level) if parent is not None else None
    if pattern and keep and not code.startswith(parent.code[:keep]):
        raise ValidationFailed(field="code", code="area_code", message_zh="代码应以上级区划代码开头",
                               message_en="the code must start with the parent's code")
    if level == AreaLevel.GRID and grid_kind not in GridKind.values:
        raise ValidationFailed(field="grid_kind", code="required", message_zh="网格须指明类型（农村、社区或专属）",
                               message_en="a grid needs a kind: rural, community or special")
    if Area.objects.filter(code=code).exists():
        raise DomainError(code="area_exists", status=409, field="code", message_zh=f"区划代码{code}已存在",
                          message_en=f"area code {code} already exists")


@transaction.atomic
def area_create(*, parent: Area | None, level: str, code: str, name: str, grid_kind: str = "",
                address: str = "", is_synthetic_code: bool = False, actor=None) -> Area:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(field="name", code="required", message_zh="名称不能为空", message_en="name is required")
    _check_child(parent, level, code, grid_kind)
    fields = {"code": code, "name": name, "level": level, "grid_kind": grid_kind if level == AreaLevel.GRID else "",
              "address": address, "is_synthetic_code": is_synthetic_code}
    area = Area.objects.add_root(fields) if parent is None else Area.objects.add_child(parent, fields)
    if actor is not None:
        audit_record(actor=actor, action=AuditAction.CREATE, obj=area, summary=f"新建{zh(area.get_level_display())} {name}")
    return area


@transaction.atomic
def area_ensure_gb2260_chain(county_code: str) -> Area:
    """Create (or find) province, city and county from the shipped GB/T 2260 table; return the county."""
    names = gb2260_names()
    if county_code not in names:
        raise ValidationFailed(field="county_code", code="area_code", message_zh=f"{county_code}不是现行县级区划代码",
                               message_en=f"{county_code} is not a current county-level code")
    chain = [(county_code[:2] + "0000", AreaLevel.PROVINCE), (county_code[:4] + "00", AreaLevel.CITY),
             (county_code, AreaLevel.COUNTY)]
    parent = None
    for code, level in chain:
        node = Area.objects.filter(code=code).first()
        if node is None:
            node = area_create(parent=parent, level=level, code=code, name=names[code])
        parent = node
    return parent


@transaction.atomic
def household_get_or_create(*, area: Area, room: str, address: str = "") -> Household:
    household, _ = Household.objects.get_or_create(area=area, room=room.strip(), defaults={"address": address})
    return household


# accounts.enums.Capability.AREA_EDIT: areas sits below accounts, so its services check the capability by value
# (the user model's `can`) and the jurisdiction by the user's area, as accounts.scoping does.
AREA_EDIT = "area.edit"


def _editable(actor, area_id: int) -> Area:
    if actor is None or not actor.is_authenticated or not actor.can(AREA_EDIT):
        raise PermissionDenied("维护区域边界", "edit area boundaries")
    top = actor.jurisdiction
    area = Area.objects.subtree(top.path).select_for_update().filter(id=area_id).first() if top else None
    if area is None:
        raise NotFound("区域", "area", field="area_id")
    return area


def _shape_summary(shape: dict | None) -> dict | None:
    """What the audit log keeps of a boundary: its type, size and extent (not the coordinates)."""
    if shape is None:
        return None
    return {"type": shape["type"], "positions": position_count(shape), "bbox": geometry_bbox([shape])}


def _set_shape(actor, area: Area, shape: dict | None, *, source: str = "") -> bool:
    if area.shape == shape:
        return False
    before = _shape_summary(area.shape)
    area.shape = shape
    area.centre = geometry_centre(shape) if shape is not None else None
    area.skip_history_when_saving = True  # the row history leaves the boundary out: the audit event is the record
    try:
        area.save(update_fields=["shape", "centre", "updated_at"])
    finally:
        del area.skip_history_when_saving
    verb = "清除" if shape is None else "更新"
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=area,
                 summary=f"{verb}{zh(area.get_level_display())}边界 {area.name}{f'（{source}）' if source else ''}",
                 changes={"shape": [before, _shape_summary(shape)]})
    return True


@transaction.atomic
def area_shape_set(*, actor, area_id: int, geometry: dict | None) -> Area:
    """Set (or with None clear) an area's boundary: a GeoJSON Polygon or MultiPolygon in lon/lat, checked and
    normalised by areas.shapes.geometry_clean; its centre follows. Needs area.edit over the area."""
    area = _editable(actor, area_id)
    _set_shape(actor, area, geometry_clean(geometry) if geometry is not None else None)
    return area


@dataclass
class ShapeLoad:
    matched: list[str]  # codes whose boundary was set or was already the same
    changed: int
    unmatched: list[str]  # feature codes with no area in the actor's jurisdiction
    without_shape: list[str]  # codes of the jurisdiction's areas at the loaded levels still without a boundary


@transaction.atomic
def area_shapes_load(*, actor, features: list, code_property: str = "code", source: str = "") -> ShapeLoad:
    """Load boundaries from a GeoJSON FeatureCollection's features, matched to areas by code (the feature's
    `code_property`, else its `id`). All or nothing: a feature without a code, a duplicate code or a bad geometry
    fails the load (the error names the feature) and nothing changes. Codes with no area in the actor's jurisdiction
    are reported, not loaded."""
    if actor is None or not actor.is_authenticated or not actor.can(AREA_EDIT):
        raise PermissionDenied("维护区域边界", "edit area boundaries")
    top = actor.jurisdiction
    if top is None:
        raise NotFound("区域", "area")
    shapes: dict[str, dict] = {}
    for index, feature in enumerate(features, start=1):
        properties = (feature.get("properties") or {}) if isinstance(feature, dict) else {}
        code = str(properties.get(code_property) or (feature.get("id") if isinstance(feature, dict) else "") or "")
        where_zh, where_en = f"第{index}个要素", f"feature {index}"
        if not code:
            raise ValidationFailed(field="features", code="shape_code", message_zh=f"{where_zh}没有{code_property}",
                                   message_en=f"{where_en} has no {code_property}")
        if code in shapes:
            raise ValidationFailed(field="features", code="shape_code", message_zh=f"{where_zh}的代码{code}重复",
                                   message_en=f"{where_en}: code {code} appears twice")
        try:
            shapes[code] = geometry_clean(feature.get("geometry") if isinstance(feature, dict) else None)
        except ValidationFailed as exc:
            raise ValidationFailed(field="features", code=exc.code, message_zh=f"{where_zh}（{code}）：{exc.message_zh}",
                                   message_en=f"{where_en} ({code}): {exc.message_en}") from exc
    areas = {a.code: a for a in Area.objects.subtree(top.path).select_for_update().filter(code__in=list(shapes))}
    changed = sum(_set_shape(actor, areas[code], shape, source=source) for code, shape in shapes.items()
                  if code in areas)
    levels = {a.level for a in areas.values()}
    without = list(Area.objects.subtree(top.path).filter(level__in=levels, shape__isnull=True)
                   .values_list("code", flat=True)) if levels else []
    return ShapeLoad(matched=sorted(areas), changed=changed, unmatched=sorted(set(shapes) - set(areas)),
                     without_shape=sorted(without))
