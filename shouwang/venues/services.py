"""Venues, their codes, and recording scans (one at a time, in batches from devices, or from files)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.people.identifiers import normalize_mobile
from shouwang.people.models import Person
from shouwang.status.services import StatusView, status_get
from shouwang.venues.enums import ScanMethod, VenueCategory, VenueStatus
from shouwang.venues.models import PersonCode, Scan, Venue, VenueCode

TEMPERATURE_RANGE = (Decimal("34.0"), Decimal("43.0"))
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)  # a scan may not be stamped later than now + this
MAX_SCAN_AGE = dt.timedelta(days=7)  # devices that were offline may upload up to a week late
VENUE_LEVELS = (AreaLevel.GRID, AreaLevel.MICRO_GRID, AreaLevel.COMPOUND, AreaLevel.BUILDING)


def new_token() -> str:
    """128 random bits, URL-safe: unguessable, short enough for a dense-free QR code."""
    return secrets.token_urlsafe(16)


@dataclass
class VenueInput:
    name: str
    category: str
    area_id: int
    address: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    manager_name: str = ""
    manager_mobile: str = ""


def _clean_venue(data: VenueInput) -> dict:
    name = (data.name or "").strip()
    if not name:
        raise ValidationFailed(field="name", code="required", message_zh="场所名称不能为空",
                               message_en="the venue name is required")
    if data.category not in VenueCategory.values:
        raise ValidationFailed(field="category", code="invalid_choice", message_zh=f"场所类别“{data.category}”不存在",
                               message_en=f"venue category '{data.category}' does not exist")
    mobile = data.manager_mobile.strip()
    if mobile:
        mobile = normalize_mobile(mobile, field="manager_mobile")
    for key, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        value = getattr(data, key)
        if value is not None and not (low <= value <= high):
            raise ValidationFailed(field=key, code="out_of_range", message_zh=f"{key}超出范围",
                                   message_en=f"{key} is out of range")
    return {"name": name[:100], "category": data.category, "address": data.address.strip()[:200],
            "latitude": data.latitude, "longitude": data.longitude, "manager_name": data.manager_name.strip()[:50],
            "manager_mobile": mobile}


@transaction.atomic
def venue_create(*, actor, data: VenueInput) -> Venue:
    require(actor, Capability.VENUE_MANAGE, "登记场所", "register venues")
    area = area_visible(user=actor, area_id=data.area_id)
    if area.level not in VENUE_LEVELS:
        raise ValidationFailed(field="area_id", code="area_level", message_zh="场所须登记在网格（或其下的小区、楼栋）",
                               message_en="a venue belongs to a grid (or a compound or building under it)")
    venue = Venue.objects.create(area=area, **_clean_venue(data))
    VenueCode.objects.create(venue=venue, token=new_token())
    audit_record(actor=actor, action=AuditAction.CREATE, object_type="venues.venue", object_id=str(venue.id),
                 summary=f"登记场所{venue.name}并发放场所码")
    return venue


def venue_visible(*, user, venue_id: int) -> Venue:
    venue = (Venue.objects.filter(id=venue_id, area__in=Area.objects.subtree(jurisdiction_path(user)).values("id"))
             .select_related("area").first())
    if venue is None:
        raise NotFound("场所", "venue", field="venue_id")
    return venue


@transaction.atomic
def venue_code_reissue(*, actor, venue_id: int) -> VenueCode:
    """A new code for a venue (a poster was copied or lost); the old token stops working at once."""
    require(actor, Capability.VENUE_MANAGE, "重新发放场所码", "re-issue place codes")
    venue = venue_visible(user=actor, venue_id=venue_id)
    VenueCode.objects.filter(venue=venue, revoked_at__isnull=True).update(revoked_at=timezone.now())
    code = VenueCode.objects.create(venue=venue, token=new_token())
    audit_record(actor=actor, action=AuditAction.UPDATE, object_type="venues.venue", object_id=str(venue.id),
                 summary=f"重新发放{venue.name}的场所码，旧码作废")
    return code


@transaction.atomic
def venue_close(*, actor, venue_id: int) -> Venue:
    require(actor, Capability.VENUE_MANAGE, "关闭场所", "close venues")
    venue = venue_visible(user=actor, venue_id=venue_id)
    venue.status = VenueStatus.CLOSED
    venue.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action=AuditAction.UPDATE, object_type="venues.venue", object_id=str(venue.id),
                 summary=f"关闭场所{venue.name}", changes={"status": ["active", "closed"]})
    return venue


def venue_current_code(venue: Venue) -> VenueCode:
    code = venue.codes.filter(revoked_at__isnull=True).order_by("-id").first()
    if code is None:
        code = VenueCode.objects.create(venue=venue, token=new_token())
    return code


def person_code_get_or_issue(person: Person) -> PersonCode:
    code = person.codes.filter(revoked_at__isnull=True).order_by("-id").first()
    if code is None:
        code = PersonCode.objects.create(person=person, token=new_token())
    return code


# ---- scanning -----------------------------------------------------------------------------------------------


def venue_by_token(token: str) -> Venue:
    code = VenueCode.objects.select_related("venue").filter(token=(token or "").strip()).first()
    if code is None:
        raise DomainError(code="unknown_venue_code", status=404, field="venue_token",
                          message_zh="场所码无效", message_en="unknown place code")
    if code.revoked_at is not None:
        raise DomainError(code="revoked_venue_code", status=410, field="venue_token",
                          message_zh="该场所码已作废，请扫描场所张贴的新码",
                          message_en="this place code was revoked; scan the venue's new code")
    if code.venue.status != VenueStatus.ACTIVE:
        raise DomainError(code="venue_closed", status=409, field="venue_token",
                          message_zh="该场所已关闭", message_en="this venue is closed")
    return code.venue


def person_by_token(token: str) -> Person:
    code = PersonCode.objects.select_related("person").filter(token=(token or "").strip(),
                                                                revoked_at__isnull=True).first()
    if code is None or code.person.merged_into_id is not None:
        raise DomainError(code="unknown_person_code", status=404, field="person_token",
                          message_zh="个人码无效", message_en="unknown personal code")
    return code.person


def _when(scanned_at: dt.datetime | None, now: dt.datetime, field_name: str = "scanned_at") -> dt.datetime:
    if scanned_at is None:
        return now
    if timezone.is_naive(scanned_at):
        scanned_at = timezone.make_aware(scanned_at)
    if scanned_at > now + MAX_CLOCK_SKEW:
        raise ValidationFailed(field=field_name, code="in_future", message_zh="扫码时间晚于当前时间",
                               message_en="the scan time is in the future")
    if scanned_at < now - MAX_SCAN_AGE:
        raise ValidationFailed(field=field_name, code="too_old", message_zh="扫码时间早于7天前，不再接收",
                               message_en="scans older than 7 days are not accepted")
    return scanned_at


def _temperature(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        t = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(field="temperature", code="invalid", message_zh="体温应为数字",
                               message_en="the temperature must be a number") from None
    if not (TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]):
        raise ValidationFailed(field="temperature", code="out_of_range", message_zh="体温应在34至43℃之间",
                               message_en="the temperature must be between 34 and 43 °C")
    return t


@dataclass
class ScanResult:
    scan: Scan
    status: StatusView
    duplicate: bool = False


def scan_record(*, venue_token: str, person: Person, method: str, actor=None, scanned_at: dt.datetime | None = None,
                temperature=None, client_ref: str = "") -> ScanResult:
    """Record one entry and answer the person's status, in one round trip. A retry with the same device reference
    returns the first scan."""
    venue = venue_by_token(venue_token)
    if method in (ScanMethod.REVERSE, ScanMethod.BATCH, ScanMethod.IMPORT):
        require(actor, Capability.SCAN_RECORD, "代扫码", "record scans for others")
    now = timezone.now()
    when = _when(scanned_at, clock.now() if scanned_at is None else now)
    temp = _temperature(temperature)
    if client_ref and actor is not None:
        found = Scan.objects.filter(recorded_by=actor, client_ref=client_ref).first()
        if found is not None:
            return ScanResult(found, status_get(found.person_id), duplicate=True)
    status = status_get(person.id, on=timezone.localdate(when) if scanned_at else None)
    try:
        with transaction.atomic():
            scan = Scan.objects.create(venue=venue, person=person, scanned_at=when, method=method, temperature=temp,
                                       colour=status.colour, recorded_by=actor if getattr(actor, "pk", None) else None,
                                       client_ref=client_ref[:64])
    except IntegrityError:
        scan = Scan.objects.get(recorded_by=actor, client_ref=client_ref)
        return ScanResult(scan, status_get(scan.person_id), duplicate=True)
    return ScanResult(scan, status)


@dataclass
class BatchReport:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)


def scan_batch(*, actor, lines: list[dict], method: str = ScanMethod.BATCH) -> BatchReport:
    """Scans uploaded by a venue device that was offline: each line is checked on its own; good lines are kept,
    bad ones listed with the field and the reason; a line seen before (same device reference) is not stored again."""
    require(actor, Capability.SCAN_RECORD, "上传扫码记录", "upload scans")
    report = BatchReport()
    now = timezone.now()
    venues: dict[str, Venue] = {}
    people: dict[str, Person] = {}
    rows: list[Scan] = []
    refs = [str(line.get("client_ref") or "") for line in lines]
    seen = set(Scan.objects.filter(recorded_by=actor, client_ref__in=[r for r in refs if r])
               .values_list("client_ref", flat=True))
    in_batch: set[str] = set()
    for index, line in enumerate(lines, start=1):
        ref = str(line.get("client_ref") or "")[:64]
        try:
            if not ref:
                raise ValidationFailed(field="client_ref", code="required", message_zh="缺少设备流水号",
                                       message_en="client_ref is required")
            if ref in seen or ref in in_batch:
                report.duplicates += 1
                continue
            token = str(line.get("venue_token") or "")
            if token not in venues:
                venues[token] = venue_by_token(token)
            ptoken = str(line.get("person_token") or "")
            if ptoken not in people:
                people[ptoken] = person_by_token(ptoken)
            when = line.get("scanned_at")
            if isinstance(when, str):
                try:
                    when = dt.datetime.fromisoformat(when)
                except ValueError:
                    raise ValidationFailed(field="scanned_at", code="invalid", message_zh="扫码时间格式不对",
                                           message_en="scanned_at is not an ISO date-time") from None
            if when is None:
                raise ValidationFailed(field="scanned_at", code="required", message_zh="缺少扫码时间",
                                       message_en="scanned_at is required")
            rows.append(Scan(venue=venues[token], person=people[ptoken], scanned_at=_when(when, now), method=method,
                             temperature=_temperature(line.get("temperature")), colour="", recorded_by=actor,
                             client_ref=ref))
            in_batch.add(ref)
        except DomainError as exc:
            report.errors.append({"line": index, "client_ref": ref, "code": exc.code, "field": exc.field,
                                  "zh": exc.message_zh, "en": exc.message_en})
    with transaction.atomic():
        created = Scan.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    report.accepted = len(created)
    return report
