"""Small reads the risk-zone pages and the API need beside selectors.py: the people of each area of a scope, the
cases of a zone with whether the clock counts them, the areas HQ may choose for a scope, the zones map (the
jurisdiction's villages coloured by the zones over them, the zones' own smaller areas on top, recent cases as
points), the public texts issued, the public list of zones in force, and the residents' list for the community team
(an .xlsx, masked unless allowed, audited as an export). Scoped like the selectors: a zone the user does not see is
"not found"."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from typing import IO

from django.db.models import Count, Prefetch, Q
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import NOWHERE, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area, subtree_range
from shouwang.areas.selectors import area_shapes
from shouwang.areas.shapes import geometry_bbox
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError
from shouwang.core.i18n import zh
from shouwang.core.masking import mask_id_number, mask_mobile
from shouwang.core.models import AuditAction
from shouwang.people.enums import PersonTag, Sex
from shouwang.people.excel import HEADER_FILL, HEADER_FONT, TITLE_FONT, styled, text_cell
from shouwang.people.models import Person, PersonTagging
from shouwang.policy.rules.model import CASE_CONTEXTS
from shouwang.policy.rules.zones import LEVEL_NAMES
from shouwang.policy.selectors import policy_rulesets
from shouwang.zones.enums import LEVEL_ORDER, SCOPE_LEVELS, ZoneChangeKind, ZoneState
from shouwang.zones.models import CaseReport, Zone, ZoneCase, ZoneChange
from shouwang.zones.selectors import (
    ELDERLY_AGE,
    ZoneClock,
    designated_on,
    place_names,
    zone_get,
    zone_scopes,
    zones_visible,
)

CASE_DAYS = 14  # cases drawn on the map: found in the last two weeks
RECENT_DAYS = 14  # lifted and rejected zones listed under "recently"
MAX_CHOICES = 3000  # areas offered in a scope select (villages and compounds, then the parts of the zone's areas)
# The public texts: designation (and its edits), downgrade, lifting.
TEXT_KINDS = (ZoneChangeKind.APPROVED, ZoneChangeKind.ANNOUNCEMENT, ZoneChangeKind.DOWNGRADED, ZoneChangeKind.LIFTED)
TEXT_LABELS = {ZoneChangeKind.APPROVED: ("划定通告", "designation"),
               ZoneChangeKind.ANNOUNCEMENT: ("划定通告（修改）", "designation (edited)"),
               ZoneChangeKind.DOWNGRADED: ("降级通告", "downgrade"), ZoneChangeKind.LIFTED: ("解除通告", "lifting")}


def level_label(level: str, en: bool = False) -> str:
    names = LEVEL_NAMES.get(level)
    return (names[1] if en else names[0]) if names else level


# ---- people per area -------------------------------------------------------------------------------------------------


def area_people(areas) -> dict[int, int]:
    """People living in each area's subtree (active files), one grouped query for all of them."""
    areas = list(areas)
    out = {a.id: 0 for a in areas}
    if not areas:
        return out
    cond = Q()
    for a in areas:
        cond |= Q(area__path__range=subtree_range(a.path))
    rows = (Person.objects.filter(cond, merged_into__isnull=True).values_list("area__path")
            .annotate(n=Count("id")).order_by())
    for path, n in rows:
        for a in areas:
            if path.startswith(a.path):
                out[a.id] += n
    return out


# ---- a zone's cases --------------------------------------------------------------------------------------------------


@dataclass
class CaseRow:
    case: ZoneCase
    place: str
    context_zh: str
    context_en: str
    counted: bool
    why_zh: str  # why it does not count ("" when it does)
    why_en: str


def zone_cases(zone: Zone, zone_clock: ZoneClock | None, today: dt.date | None = None) -> list[CaseRow]:
    """The cases linked to the zone, with where they were found and whether its clock counts them: withdrawn, found
    before the designation (the clock runs from it) or in a situation the version in force does not count."""
    today = today or clock.today()
    cases = list(zone.cases.select_related("area").order_by("found_on", "id"))
    uncounted: tuple = ()
    version = zone_clock.version if zone_clock else zone.policy_version
    rules = policy_rulesets().get(version)
    if rules is not None:
        uncounted = tuple(rules.param("uncounted_case_contexts").value)
    start = designated_on(zone, today)
    names = place_names([c.area for c in cases if c.area is not None])
    rows = []
    for c in cases:
        zh_ctx, en_ctx = CASE_CONTEXTS.get(c.context, (c.context, c.context))
        why = ("", "")
        if c.withdrawn_at is not None:
            why = ("已撤销（阳性结果更正）", "withdrawn (the positive was corrected)")
        elif c.context in uncounted:
            why = (f"{version} 不计入：{zh_ctx}", f"not counted under {version}: {en_ctx}")
        elif c.found_on < start:
            why = (f"早于划定日期 {start.isoformat()}（从划定日起算）",
                   f"before the designation on {start.isoformat()} (the clock runs from it)")
        rows.append(CaseRow(case=c, place=names.get(c.area_id, "") if c.area_id else "", context_zh=zh_ctx,
                            context_en=en_ctx, counted=not why[0], why_zh=why[0], why_en=why[1]))
    return rows


# ---- the areas HQ may choose ------------------------------------------------------------------------------------------


def scope_choices(user, zones_areas=()) -> list[dict]:
    """Areas to choose for a scope: the villages (村/社区) and compounds of the user's jurisdiction, grouped by
    township, then the grids, compounds, buildings and units under the given areas (to narrow a zone to its parts).
    [{"group", "options": [(id, label)]}]; two queries."""
    path = jurisdiction_path(user)
    if path == NOWHERE:
        return []
    base = list(Area.objects.subtree(path).filter(level__in=[AreaLevel.TOWNSHIP, AreaLevel.VILLAGE,
                                                              AreaLevel.COMPOUND])
                .order_by("path").only("id", "name", "level", "path")[:MAX_CHOICES])
    groups: list[dict] = []
    villages: dict[str, str] = {}
    for a in base:
        if a.level == AreaLevel.TOWNSHIP:
            groups.append({"group": a.name, "options": []})
            continue
        if not groups:
            groups.append({"group": "", "options": []})
        if a.level == AreaLevel.VILLAGE:
            villages[a.path] = a.name
            groups[-1]["options"].append((a.id, a.name))
        else:
            village = next((villages[p] for p in Area.ancestor_paths(a.path) if p in villages), "")
            groups[-1]["options"].append((a.id, f"{village} · {a.name}" if village else a.name))
    roots = [a for a in zones_areas if a.path.startswith(path) or path.startswith(a.path)]
    if roots:
        cond = Q()
        for a in roots:
            cond |= Q(path__range=subtree_range(a.path))
        parts = list(Area.objects.filter(cond, level__in=SCOPE_LEVELS).filter(path__range=subtree_range(path))
                     .exclude(id__in=[a.id for a in roots]).order_by("path")
                     .only("id", "name", "level", "path")[:MAX_CHOICES])
        if parts:
            names = {a.path: a.name for a in [*roots, *parts]}
            options = []
            for a in parts:
                chain = [names[p] for p in Area.ancestor_paths(a.path) if p in names]
                options.append((a.id, " · ".join(chain)))
            groups.append({"group": "范围内的下级区域", "group_en": "parts of the zone's areas", "options": options})
    return [g for g in groups if g["options"]]


_CODES = re.compile(r"[\s,，、;；]+")


def area_ids_from(user, *, ids=(), codes: str = "", field: str = "area_ids") -> list[int]:
    """Area ids from a form: the chosen ids and the area codes typed (comma or space separated), the codes resolved
    in the user's jurisdiction; an unknown code (or one outside it) is "not found", naming the codes."""
    out = [int(i) for i in ids if str(i).strip().isdigit()]
    wanted = [c for c in _CODES.split((codes or "").strip()) if c]
    if wanted:
        path = jurisdiction_path(user)
        found = dict(Area.objects.subtree(path).filter(code__in=wanted).values_list("code", "id")) \
            if path != NOWHERE else {}
        missing = [c for c in wanted if c not in found]
        if missing:
            raise DomainError(code="not_found", status=404, field=field,
                              message_zh=f"区域编码不存在或不在您的辖区内：{'、'.join(missing)}",
                              message_en=f"area codes not found or outside your jurisdiction: {', '.join(missing)}",
                              details=[{"code": c} for c in missing])
        out += [found[c] for c in wanted]
    return list(dict.fromkeys(out))


# ---- the zones map ----------------------------------------------------------------------------------------------------

# What colours an area on the map (the strictest zone over it): the level of a zone in force, a proposal, or
# "part" for a village holding a smaller zone (drawn over it). Rank: which wins where zones meet.
MAP_RANK = {"high": 4, "medium": 3, "proposed": 2, "closed": 1, "part": 0}
MAP_COLOURS = {"high": "#d32f2f", "medium": "#fb8c00", "proposed": "#64b5f6", "closed": "#90a4ae", "part": "#ffd8cf"}
CASE_COLOURS = {"community": "#4a148c", "controlled": "#455a64"}  # found in the community / under a measure
ABOVE_VILLAGE = {AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.COUNTY, AreaLevel.TOWNSHIP}


def _map_value(zone: Zone) -> str:
    if zone.state == ZoneState.IN_FORCE:
        return zone.level_now
    return "proposed" if zone.state == ZoneState.PROPOSED else "closed"


def _zone_word(zone: Zone, en: bool) -> str:
    if zone.state != ZoneState.IN_FORCE:
        state = {ZoneState.PROPOSED: ("待审批", "proposed"), ZoneState.LIFTED: ("已解除", "lifted"),
                 ZoneState.REJECTED: ("未批准", "rejected")}[zone.state]
        return f"{zone.code} ({level_label(zone.kind, True)}, {state[1]})" if en else \
            f"{zone.code}（{level_label(zone.kind)}，{state[0]}）"
    return f"{zone.code} ({level_label(zone.level_now, True)})" if en else f"{zone.code}（{level_label(zone.level_now)}）"


def _feature(a: Area, people: int) -> dict:
    return {"type": "Feature", "id": a.id, "geometry": a.shape, "properties": {
        "id": a.id, "code": a.code, "name": a.name, "level": a.level, "level_label": str(AreaLevel(a.level).label),
        "people": people, "has_children": a.numchild > 0}}


def _paint(shapes: dict, zones: list[Zone], *, en: bool) -> dict:
    """Colour a FeatureCollection's areas by the open zones over them (`zone`: the level of a zone in force,
    "proposed", or "part" for an area holding a smaller zone), and add the zones' own areas that lie below the
    drawn ones on top of them, the strictest last (with their people). Properties added: zone, zone_label, zone_id
    (the strictest zone, for a click)."""
    scopes = zone_scopes([z.id for z in zones])
    zone_areas = [(z, a) for z in zones for a in scopes[z.id]]
    features = shapes["features"]
    paths = dict(Area.objects.filter(id__in=[f["properties"]["id"] for f in features]).values_list("id", "path"))

    def mark(props: dict, hits: list[tuple[Zone, str]]) -> None:
        props.update(zone="", zone_label="", zone_id=None)
        if not hits:
            return
        hits.sort(key=lambda h: (-MAP_RANK[h[1]], h[0].code))
        props["zone"], props["zone_id"] = hits[0][1], hits[0][0].id
        words = "、".join(dict.fromkeys(_zone_word(z, en) for z, _ in hits))
        props["zone_label"] = (("contains " if en else "含") + words) if hits[0][1] == "part" else words

    base_paths = set()
    for f in features:
        path = paths.get(f["properties"]["id"], "")
        base_paths.add(path)
        over = [(z, _map_value(z)) for z, a in zone_areas if path.startswith(a.path)]
        inside = [(z, "part") for z, a in zone_areas if a.path.startswith(path) and a.path != path]
        mark(f["properties"], over or inside)
    extra = list({a.id: a for _, a in zone_areas if a.path not in base_paths
                  and any(a.path.startswith(p) for p in base_paths)}.values())
    people = area_people(extra)
    ranked = []
    for a in extra:
        if not a.shape:
            shapes["missing"].append({"id": a.id, "code": a.code, "name": a.name, "people": people[a.id]})
            continue
        feature = _feature(a, people[a.id])
        mark(feature["properties"], [(z, _map_value(z)) for z, za in zone_areas if a.path.startswith(za.path)])
        ranked.append((MAP_RANK.get(feature["properties"]["zone"], 0), a.depth, feature))
    ranked.sort(key=lambda r: (r[0], r[1]))
    shapes["features"] = features + [r[2] for r in ranked]
    return shapes


def zone_map(user, *, today: dt.date | None = None, en: bool = False) -> dict:
    """The zones map of the jurisdiction: its villages (村/社区) and the other areas directly under its townships (the
    county town's special grids), or for a village or below its children, coloured by the open zones over them,
    with the zones' own smaller areas drawn on top (_paint); the cases of the last CASE_DAYS days as points.
    Returns {"shapes", "points"}."""
    root = user.jurisdiction
    if root is not None and root.level in ABOVE_VILLAGE:
        shapes = area_shapes(user, level=AreaLevel.VILLAGE, person_model=Person)
        townships = ([root] if root.level == AreaLevel.TOWNSHIP else
                     list(Area.objects.subtree(root.path).filter(level=AreaLevel.TOWNSHIP).only("path", "depth")))
        if townships:
            others = list(Area.objects.subtree(root.path).filter(depth__in={t.depth + 1 for t in townships})
                          .exclude(level=AreaLevel.VILLAGE).exclude(shape=None).order_by("path"))
            people = area_people(others)
            shapes["features"] += [_feature(a, people[a.id]) for a in others]
    else:
        shapes = area_shapes(user, person_model=Person)
    zones = list(zones_visible(user, states=[ZoneState.PROPOSED, ZoneState.IN_FORCE]))
    return {"shapes": _paint(shapes, zones, en=en), "points": case_points(user, today=today, en=en)}


CLOSE_VILLAGES = 30  # villages drawn on the close-up of the zones map


def zones_close_map(user, *, today: dt.date | None = None, en: bool = False) -> dict | None:
    """A close-up of where the open zones are: each village (村/社区) holding a smaller zone drawn with its children
    (grids; the zone's areas on top), a village that is a zone drawn whole; no outline, so the map fits them. At most
    CLOSE_VILLAGES villages (those of the strictest zones first); villages outside the user's jurisdiction (a grid
    worker inside a village zone) are left out. None when there is nothing to draw. A fixed number of queries."""
    zones = list(zones_visible(user, states=[ZoneState.PROPOSED, ZoneState.IN_FORCE]))
    if not zones:
        return None
    scopes = zone_scopes([z.id for z in zones])
    order = sorted(zones, key=lambda z: (-MAP_RANK[_map_value(z)], z.code))
    zone_areas = [a for z in order for a in scopes[z.id]]
    villages = {v.path: v for v in Area.objects.filter(
        path__in={p for a in zone_areas for p in Area.ancestor_paths(a.path)}, level=AreaLevel.VILLAGE)}
    whole, expand = {}, {}
    for a in zone_areas:
        v = next((villages[p] for p in Area.ancestor_paths(a.path) if p in villages), None)
        if v is None or v.path in whole or v.path in expand:
            continue
        if len(whole) + len(expand) >= CLOSE_VILLAGES:
            break
        (whole if a.path == v.path else expand)[v.path] = v
    mine = jurisdiction_path(user)
    inside = Q()
    for v in expand.values():
        if v.path.startswith(mine):
            inside |= Q(path__range=subtree_range(v.path), depth=v.depth + 1)
    children = (list(Area.objects.filter(inside).exclude(shape=None).order_by("path"))
                if inside.children else [])
    drawn = children + [v for v in whole.values() if v.shape and v.path.startswith(mine)]
    people = area_people(drawn)
    features = [_feature(a, people[a.id]) for a in drawn]
    if not features:
        return None
    shapes = {"type": "FeatureCollection", "bbox": geometry_bbox([f["geometry"] for f in features]),
              "features": features, "root": None, "missing": []}
    shapes = _paint(shapes, zones, en=en)
    points = [p for p in case_points(user, today=today, en=en) if _inside(p, shapes["bbox"])]
    return {"shapes": shapes, "points": points}


def zone_detail_map(user, zone: Zone, *, today: dt.date | None = None, en: bool = False) -> dict | None:
    """A close-up for a zone's page: the children of the area just above the zone's areas (the village around a
    compound, the township around a village) coloured like the zones map, the zone's areas on top, the cases as
    points. None when that area is outside the user's jurisdiction or nothing has a shape."""
    areas = zone_scopes([zone.id])[zone.id]
    if not areas:
        return None
    common = areas[0].path
    for a in areas[1:]:
        while not a.path.startswith(common):
            common = common[:-Area.steplen]
    own = {a.path for a in areas}
    chain = Area.objects.filter(path__in=Area.ancestor_paths(common)).exclude(path__in=own).order_by("-depth")
    root = next((a for a in chain.only("id", "level", "path") if a.level in ABOVE_VILLAGE | {AreaLevel.VILLAGE}),
                None)
    if root is None:
        return None
    try:
        shapes = area_shapes(user, root_id=root.id, person_model=Person)
    except DomainError:
        return None
    zones = list(zones_visible(user, states=[ZoneState.PROPOSED, ZoneState.IN_FORCE]))
    if zone.state not in (ZoneState.PROPOSED, ZoneState.IN_FORCE):
        zones.append(zone)
    shapes = _paint(shapes, zones, en=en)
    if not shapes["features"]:
        return None
    points = [p for p in case_points(user, today=today, en=en) if _inside(p, shapes.get("bbox"))]
    return {"shapes": shapes, "points": points}


def _inside(point: dict, bbox) -> bool:
    if not bbox:
        return False
    return bbox[0] <= point["lon"] <= bbox[2] and bbox[1] <= point["lat"] <= bbox[3]


def case_points(user, *, today: dt.date | None = None, en: bool = False) -> list[dict]:
    """The cases of the jurisdiction found in the last CASE_DAYS days (not withdrawn) as map points: one per place
    (the home area's centre, else the nearest area above it with one), the codes, days and where found in the
    label; community cases dark purple, those found under a measure grey. Two queries."""
    today = today or clock.today()
    path = jurisdiction_path(user)
    if path == NOWHERE:
        return []
    reports = list(CaseReport.objects.filter(area__path__range=subtree_range(path), withdrawn_at__isnull=True,
                                             found_on__gte=today - dt.timedelta(days=CASE_DAYS), found_on__lte=today)
                   .select_related("area").order_by("found_on", "code"))
    if not reports:
        return []
    wanted = {p for r in reports for p in Area.ancestor_paths(r.area.path)}
    centres = {p: (c, n) for p, c, n in Area.objects.filter(path__in=wanted, centre__isnull=False)
               .values_list("path", "centre", "name")}
    groups: dict[str, list[CaseReport]] = defaultdict(list)
    for r in reports:
        at = next((p for p in reversed(Area.ancestor_paths(r.area.path)) if p in centres), None)
        if at is not None:
            groups[at].append(r)
    points = []
    for at, rows in groups.items():
        centre, name = centres[at]
        community = any(r.context == "community" for r in rows)
        words = [f"{r.code} {r.found_on:%m-%d} {CASE_CONTEXTS.get(r.context, (r.context, r.context))[1 if en else 0]}"
                 for r in rows]
        points.append({"lon": centre[0], "lat": centre[1], "name": name,
                       "label": (f"{len(rows)} case(s): " if en else f"病例 {len(rows)} 例：") + "；".join(words),
                       "colour": CASE_COLOURS["community" if community else "controlled"], "cases": len(rows)})
    return points


# ---- the public texts ------------------------------------------------------------------------------------------------


def announcements(user=None, *, limit: int | None = None, latest_designation_only: bool = False) -> list[ZoneChange]:
    """The public texts issued (designation, its edits, downgrade, lifting), newest first: of the zones the user
    sees, or of every zone (the public page: user None). With latest_designation_only, a zone's designation text
    edited later is given once, as it stands."""
    qs = ZoneChange.objects.filter(kind__in=list(TEXT_KINDS)).exclude(announcement_zh="").select_related("zone")
    if user is not None:
        qs = qs.filter(zone__in=zones_visible(user).values("id"))
    qs = qs.order_by("-at", "-id")
    out, seen = [], set()
    for row in qs.iterator(chunk_size=500):
        if latest_designation_only and row.kind in (ZoneChangeKind.APPROVED, ZoneChangeKind.ANNOUNCEMENT):
            if row.zone_id in seen:
                continue
            seen.add(row.zone_id)
        out.append(row)
        if limit is not None and len(out) >= limit:
            break
    return out


@dataclass
class PublicZone:
    zone: Zone
    places: list[str]
    designated: dt.date | None
    level_since: dt.date | None


def public_zones() -> list[PublicZone]:
    """Every zone in force, strictest first, with its places by name (township, village, compound, building, unit)
    and the day it was designated: what the public page shows (no people, no cases)."""
    zones = sorted(Zone.objects.filter(state=ZoneState.IN_FORCE),
                   key=lambda z: (-LEVEL_ORDER.get(z.level_now, 0), z.designated_at or timezone.now(), z.code))
    scopes = zone_scopes([z.id for z in zones])
    names = place_names([a for areas in scopes.values() for a in areas])
    return [PublicZone(zone=z, places=[names[a.id] for a in scopes[z.id]],
                       designated=timezone.localdate(z.designated_at) if z.designated_at else None,
                       level_since=z.level_since) for z in zones]


def county_name() -> str:
    return Area.objects.filter(level=AreaLevel.COUNTY).order_by("path").values_list("name", flat=True).first() or ""


# ---- the residents' list for the community team ------------------------------------------------------------------------

RESIDENT_COLUMNS = [("姓名", 10), ("性别", 6), ("年龄", 6), ("证件号码", 21), ("手机号", 14), ("住址", 36), ("房号", 10),
                    ("人群标签", 22), ("需关注", 22)]
VULNERABLE_TAGS = {PersonTag.ELDERLY_ALONE, PersonTag.DISABLED, PersonTag.PREGNANT, PersonTag.SERIOUSLY_ILL,
                   PersonTag.BEDRIDDEN, PersonTag.INFANT}


@dataclass
class ExportFile:
    file: IO[bytes]
    filename: str
    row_count: int
    full: bool


def _age(birth: dt.date | None, today: dt.date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def zone_residents_export(*, user, zone_id: int, full: bool = False, ip_address: str = "") -> ExportFile:
    """The people living in a zone's scope (and in the user's jurisdiction) for the supply and community team:
    name, sex, age, ID number and mobile (masked unless full is asked by a role that may export them), address,
    room, tags and what to look after (60 and over, living alone, the vulnerable tags). Audited as an export."""
    zone = zone_get(user, zone_id)
    require(user, Capability.PERSON_EXPORT, "导出人员名单", "export people")
    show_full = bool(full) and user.can(Capability.PERSON_EXPORT_FULL)
    today = clock.today()
    areas = zone_scopes([zone.id])[zone.id]
    mine = jurisdiction_path(user)
    cond = Q()
    for a in areas:
        cond |= Q(area__path__range=subtree_range(a.path))
    people = (Person.objects.active().filter(cond).filter(area__path__range=subtree_range(mine))
              .select_related("area", "household").prefetch_related(
                  Prefetch("tags", queryset=PersonTagging.objects.only("person_id", "tag")))
              .order_by("area__path", "household__room", "id")) if areas else Person.objects.none()
    people = list(people)
    households = dict(Person.objects.active().filter(household_id__in={p.household_id for p in people if p.household_id})
                      .values_list("household_id").annotate(n=Count("id")).order_by())
    names = place_names(list({p.area_id: p.area for p in people}.values()))
    tag_labels = {k: zh(v) for k, v in PersonTag.choices}
    sex_labels = {k: zh(v) for k, v in Sex.choices}
    exported_at = timezone.localtime(clock.now())
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民名单")
    for index, (_, width) in enumerate(RESIDENT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A3"
    masked_note = "完整证件号码和手机号" if show_full else "证件号码和手机号已打码"
    level = level_label(zone.level_now if zone.state == ZoneState.IN_FORCE else zone.kind)
    ws.append([styled(ws, f"{zone.code} {level} 居民名单　范围：{'、'.join(a.name for a in areas)}　导出时间："
                          f"{exported_at:%Y-%m-%d %H:%M}（北京时间）　导出人：{user}　{masked_note}", font=TITLE_FONT)])
    ws.append([styled(ws, name, font=HEADER_FONT, fill=HEADER_FILL) for name, _ in RESIDENT_COLUMNS])
    for p in people:
        age = _age(p.birth_date, today)
        tags = [t.tag for t in p.tags.all()]
        care = []
        if age is not None and age >= ELDERLY_AGE:
            care.append(f"{ELDERLY_AGE}岁以上")
            if PersonTag.ELDERLY_ALONE not in tags and p.household_id and households.get(p.household_id, 0) == 1:
                care.append("独居")
        care += [tag_labels[t] for t in tags if t in VULNERABLE_TAGS]
        ws.append([
            text_cell(ws, p.name), sex_labels.get(p.sex, ""), age,
            p.id_number if show_full else mask_id_number(p.id_number),
            (p.mobile if show_full else mask_mobile(p.mobile)) or "",
            text_cell(ws, names.get(p.area_id, p.area.name)),
            text_cell(ws, p.household.room if p.household_id else ""),
            "、".join(tag_labels.get(t, t) for t in tags), "、".join(care),
        ])
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    wb.save(out)
    out.seek(0)
    audit_record(actor=user, action=AuditAction.EXPORT, obj=zone, object_id=zone.code,
                 summary=f"导出风险区 {zone.code} 居民名单{len(people)}人（{masked_note}）",
                 changes={"full": [None, show_full]}, row_count=len(people), ip_address=ip_address)
    return ExportFile(file=out, filename=f"风险区居民名单_{zone.code}_{exported_at:%Y%m%d}.xlsx",
                      row_count=len(people), full=show_full)


ANNOUNCEMENT_COLUMNS = [("发布时间", 17), ("风险区编号", 16), ("类型", 10), ("通告类别", 14), ("区域", 40), ("通告全文", 100)]


def announcements_export(*, user, ip_address: str = "") -> ExportFile:
    """Every public text issued for the zones the user sees (designation, edits, downgrade, lifting), newest first,
    with the zone's code, kind and places: an .xlsx, audited as an export."""
    require(user, Capability.ZONE_VIEW, "查看风险区", "view risk zones")
    rows = announcements(user)
    scopes = zone_scopes({r.zone_id for r in rows})
    names = place_names([a for areas in scopes.values() for a in areas])
    exported_at = timezone.localtime(clock.now())
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("风险区通告")
    for index, (_, width) in enumerate(ANNOUNCEMENT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A3"
    ws.append([styled(ws, f"风险区通告　导出时间：{exported_at:%Y-%m-%d %H:%M}（北京时间）　导出人：{user}",
                      font=TITLE_FONT)])
    ws.append([styled(ws, name, font=HEADER_FONT, fill=HEADER_FILL) for name, _ in ANNOUNCEMENT_COLUMNS])
    for r in rows:
        ws.append([timezone.localtime(r.at).strftime("%Y-%m-%d %H:%M"), r.zone.code, level_label(r.zone.kind),
                   TEXT_LABELS[r.kind][0], text_cell(ws, "、".join(names[a.id] for a in scopes[r.zone_id])),
                   text_cell(ws, r.announcement_zh)])
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    wb.save(out)
    out.seek(0)
    audit_record(actor=user, action=AuditAction.EXPORT, object_type="zones.zonechange",
                 summary=f"导出风险区通告{len(rows)}条", row_count=len(rows), ip_address=ip_address)
    return ExportFile(file=out, filename=f"风险区通告_{exported_at:%Y%m%d}.xlsx", row_count=len(rows), full=False)

