"""Venues, their codes, and recording scans (one at a time, in batches from devices, or from files)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.db import chunks, fetch_one
from shouwang.core.errors import DomainError, NotFound, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.people.identifiers import normalize_mobile
from shouwang.people.models import Person
from shouwang.status.services import StatusView, status_from_row, status_get, status_on
from shouwang.venues.enums import ScanMethod, VenueCategory, VenueStatus
from shouwang.venues.models import PersonCode, Scan, Venue, VenueCode
from shouwang.venues.selectors import door_lookup
from shouwang.venues.tasks import companion_index_refresh

TEMPERATURE_RANGE = (Decimal("34.0"), Decimal("43.0"))
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)  # a scan may not be stamped later than now + this
MAX_SCAN_AGE = dt.timedelta(days=7)  # devices that were offline may upload up to a week late
MAX_CLIENT_REF = 64
MAX_BATCH_LINES = 5000  # one device upload
MAX_IMPORT_ROWS = 200_000  # one file
CHUNK = 900  # values per IN (...) query
INSERT_CHUNK = 2000  # scans per write transaction
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


def _check_place_code(*, exists: bool, revoked: bool = False, venue_status: str | None = None) -> None:
    if not exists:
        raise DomainError(code="unknown_venue_code", status=404, field="venue_token",
                          message_zh="场所码无效", message_en="unknown place code")
    if revoked:
        raise DomainError(code="revoked_venue_code", status=410, field="venue_token",
                          message_zh="该场所码已作废，请扫描场所张贴的新码",
                          message_en="this place code was revoked; scan the venue's new code")
    if venue_status != VenueStatus.ACTIVE:
        raise DomainError(code="venue_closed", status=409, field="venue_token",
                          message_zh="该场所已关闭", message_en="this venue is closed")


def _venue_of(code: VenueCode | None) -> Venue:
    _check_place_code(exists=code is not None, revoked=code is not None and code.revoked_at is not None,
                      venue_status=code.venue.status if code is not None else None)
    return code.venue


def _unknown_person() -> DomainError:
    return DomainError(code="unknown_person_code", status=404, field="person_token",
                       message_zh="个人码无效", message_en="unknown personal code")


def venue_by_token(token: str) -> Venue:
    token = str(token or "").strip()
    return _venue_of(VenueCode.objects.select_related("venue").filter(token=token).first() if token else None)


def person_by_token(token: str) -> Person:
    token = str(token or "").strip()
    code = (PersonCode.objects.select_related("person").filter(token=token, revoked_at__isnull=True).first()
            if token else None)
    if code is None or code.person.merged_into_id is not None:
        raise _unknown_person()
    return code.person


def _client_ref(value) -> str:
    if isinstance(value, float) and value.is_integer():  # a number typed into a spreadsheet
        value = int(value)
    ref = "" if value is None else str(value).strip()
    if len(ref) > MAX_CLIENT_REF:
        raise ValidationFailed(field="client_ref", code="too_long", message_zh=f"设备流水号不能超过{MAX_CLIENT_REF}个字符",
                               message_en=f"client_ref must be at most {MAX_CLIENT_REF} characters")
    return ref


TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")  # also unpadded


def _parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _scan_time(value, now: dt.datetime) -> dt.datetime:
    """A scan time from a device or a file, checked against the business clock: not later than now plus the clock
    skew a device may have, not older than a week."""
    if isinstance(value, str):
        value = _parse_time(value.strip())
        if value is None:
            raise ValidationFailed(field="scanned_at", code="invalid", message_zh="扫码时间格式不对，应为“2022-07-15 09:30:00”",
                                   message_en="scanned_at is not a date and time like 2022-07-15T09:30:00")
    if not isinstance(value, dt.datetime):
        raise ValidationFailed(field="scanned_at", code="invalid", message_zh="扫码时间应为日期和时间",
                               message_en="scanned_at must be a date and time")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + MAX_CLOCK_SKEW:
        raise ValidationFailed(field="scanned_at", code="in_future", message_zh="扫码时间晚于当前时间",
                               message_en="the scan time is in the future")
    if value < now - MAX_SCAN_AGE:
        raise ValidationFailed(field="scanned_at", code="too_old", message_zh="扫码时间早于7天前，不再接收",
                               message_en="scans older than 7 days are not accepted")
    return value


def _temperature(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        value = "x"  # not a number, whatever Python thinks
    try:
        t = Decimal(str(value).strip()).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(field="temperature", code="invalid", message_zh="体温应为数字",
                               message_en="the temperature must be a number") from None
    if not (TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]):
        raise ValidationFailed(field="temperature", code="out_of_range", message_zh="体温应在34至43℃之间",
                               message_en="the temperature must be between 34 and 43 °C")
    return t


def _recorder(actor):
    return actor if getattr(actor, "pk", None) else None


def _by_ref(actor, refs) -> QuerySet[Scan]:
    """This recorder's scans with these device references. The exclude repeats the partial unique index's
    condition so that SQLite (and PostgreSQL) answer from that index instead of reading the log."""
    return Scan.objects.filter(recorded_by=actor, client_ref__in=list(refs)).exclude(client_ref="")


@dataclass
class ScanResult:
    scan: Scan
    status: StatusView
    duplicate: bool = False


def _day_status(person_id: int, when: dt.datetime) -> StatusView:
    try:
        return status_get(person_id, on=timezone.localdate(when))
    except NotFound:  # a day before any policy version took effect: today's status
        return status_get(person_id)


def _duplicate_of(actor, ref: str, person_id: int | None = None) -> ScanResult | None:
    """The scan already stored with this reference: by the recording account, or, for a resident's own check-in
    (no account), by the person (the reference of the page the phone submitted)."""
    recorder = _recorder(actor)
    if not ref or (recorder is None and person_id is None):
        return None
    if recorder is not None:
        found = _by_ref(recorder, [ref]).select_related("venue", "person").first()
    else:
        found = (Scan.objects.filter(person_id=person_id, client_ref=ref, recorded_by__isnull=True)
                 .exclude(client_ref="").select_related("venue", "person").first())
    return None if found is None else ScanResult(found, _day_status(found.person_id, found.scanned_at), True)


_INSERT_FIELDS = ("venue", "person", "scanned_at", "received_at", "method", "temperature", "colour", "recorded_by",
                  "client_ref")
_INSERT: list[tuple[str, list]] = []


def _preparer(field: models.Field):
    """How one column's value goes to the database, as field.get_db_prep_save() would send it for the values the
    services build (ints, str, aware datetimes, Decimals) without its chain of calls: the door pays for each."""
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DecimalField):
        return lambda v: ops.adapt_decimalfield_value(v, field.max_digits, field.decimal_places)
    if isinstance(field, models.CharField):
        return str  # a TextChoices member as its plain value
    if isinstance(field, models.ForeignKey | models.IntegerField):
        return None  # the driver takes ints as they are
    return lambda v: field.get_db_prep_save(v, connection)  # pragma: no cover - no other column today


def scan_insert(scan: Scan) -> Scan:
    """Append one scan with a prepared INSERT (the ORM's save() costs more than the write itself on the door's
    path); values are prepared as the model's own fields would prepare them (a test compares with save())."""
    if not connection.features.can_return_columns_from_insert:  # pragma: no cover - SQLite < 3.35
        scan.save(force_insert=True)
        return scan
    if not _INSERT:
        qn = connection.ops.quote_name
        fields = [Scan._meta.get_field(name) for name in _INSERT_FIELDS]
        _INSERT.append((
            f"INSERT INTO {qn(Scan._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(Scan._meta.pk.column)}",
            [(f.attname, _preparer(f)) for f in fields]))
    sql, columns = _INSERT[0]
    values = []
    for attname, prepare in columns:
        value = getattr(scan, attname)
        values.append(value if value is None or prepare is None else prepare(value))
    scan.pk = fetch_one(sql, values)[0]
    scan._state.adding = False
    return scan


def _record(*, actor, venue: Venue, person: Person, method: str, scanned_at, temperature, ref: str,
            today_status_row: tuple | None = None) -> ScanResult:
    """Store one scan stamped with the colour of its day. `today_status_row`: the person's status columns read with
    the codes (status_sql), used when the scan is of today."""
    now = clock.now()
    when = now if scanned_at is None else _scan_time(scanned_at, now)
    temp = _temperature(temperature)
    if today_status_row is not None and timezone.localdate(when) == clock.today():
        status = status_from_row(person.id, today_status_row)
    else:
        status = _day_status(person.id, when)
    recorder = _recorder(actor)
    scan = Scan(venue=venue, person=person, scanned_at=when, received_at=timezone.now(), method=method,
                temperature=temp, colour=status.colour, recorded_by=recorder, client_ref=ref)
    try:
        if connection.in_atomic_block:  # a savepoint, so a clash leaves the caller's transaction usable
            with transaction.atomic():
                scan_insert(scan)
        else:  # one statement commits on its own
            scan_insert(scan)
    except IntegrityError:
        found = _duplicate_of(actor, ref, person.id)  # the same reference arrived twice at the same moment
        if found is None:
            raise
        return found
    return ScanResult(scan, status)


def scan_record(*, venue_token: str, person: Person, method: str, actor=None, scanned_at: dt.datetime | None = None,
                temperature=None, client_ref: str = "") -> ScanResult:
    """Record one entry of a known person and answer their status, in one round trip. A retry with the same device
    reference returns the first scan (duplicate=True) and stores nothing."""
    if method != ScanMethod.SELF:
        require(actor, Capability.SCAN_RECORD, "代扫码", "record scans for others")
    ref = _client_ref(client_ref)
    found = _duplicate_of(actor, ref, person.id)
    if found is not None:
        return found
    venue = venue_by_token(venue_token)
    return _record(actor=actor, venue=venue, person=person, method=method, scanned_at=scanned_at,
                   temperature=temperature, ref=ref)


def scan_by_tokens(*, actor, venue_token: str, person_token: str, scanned_at=None, temperature=None,
                   client_ref: str = "", method: str = ScanMethod.REVERSE) -> ScanResult:
    """The door scan: a staff member's phone or a venue device reads the person's code at a venue. Checks, in
    order: who may record, a retry (same device reference: the first scan is answered), the place code, the
    personal code, the time, the temperature. The status is the one of the scan's day. The reads before the write
    are one query (selectors.door_lookup, which also reads today's materialised status row) and the write one
    statement."""
    require(actor, Capability.SCAN_RECORD, "代扫码", "record scans for others")
    ref = _client_ref(client_ref)
    recorder = _recorder(actor)
    found = door_lookup(recorder_id=recorder.pk if recorder else None, client_ref=ref,
                        venue_token=str(venue_token or "").strip(), person_token=str(person_token or "").strip())
    if found.duplicate_id is not None:
        scan = Scan.objects.select_related("venue", "person").get(id=found.duplicate_id)
        return ScanResult(scan, _day_status(scan.person_id, scan.scanned_at), duplicate=True)
    _check_place_code(exists=found.code_id is not None, revoked=found.code_revoked, venue_status=found.venue_status)
    if found.person_id is None or found.person_merged:
        raise _unknown_person()
    venue = Venue(id=found.venue_id, name=found.venue_name, status=found.venue_status)
    person = Person(id=found.person_id, name=found.person_name)
    return _record(actor=actor, venue=venue, person=person, method=method, scanned_at=scanned_at,
                   temperature=temperature, ref=ref, today_status_row=found.status_row)


# ---- many scans at once: a device's offline batch, a file ------------------------------------------------------


@dataclass
class BatchReport:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)

    def fail(self, line: int, ref: str, exc: DomainError) -> None:
        self.errors.append({"line": line, "client_ref": ref, "code": exc.code, "field": exc.field,
                            "zh": exc.message_zh, "en": exc.message_en})

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": len(self.errors),
                "errors": self.errors}


def _venues_by_token(tokens: set[str]) -> dict[str, Venue | DomainError]:
    codes: dict[str, VenueCode] = {}
    for chunk in chunks(sorted(tokens), CHUNK):
        codes.update((c.token, c) for c in VenueCode.objects.select_related("venue").filter(token__in=chunk))
    out: dict[str, Venue | DomainError] = {}
    for token in tokens:
        try:
            out[token] = _venue_of(codes.get(token))
        except DomainError as exc:
            out[token] = exc
    return out


def _people_by_token(tokens: set[str]) -> dict[str, int]:
    """Person id per live personal code (codes of people merged into another are not live)."""
    out: dict[str, int] = {}
    for chunk in chunks(sorted(tokens), CHUNK):
        out.update(PersonCode.objects.filter(token__in=chunk, revoked_at__isnull=True,
                                             person__merged_into__isnull=True).values_list("token", "person_id"))
    return out


def _stored_entries(scans: list[Scan]) -> set[tuple]:
    """(venue id, person id, scanned_at) of the stored scans of these people between the first and the last of these
    instants (the (person, scanned_at) index)."""
    if not scans:
        return set()
    times = [s.scanned_at for s in scans]
    rows = Scan.objects.filter(person_id__in={s.person_id for s in scans}, scanned_at__gte=min(times),
                               scanned_at__lte=max(times))  # a range per person: a few scans each
    return set(rows.values_list("venue_id", "person_id", "scanned_at"))


def _ingest(*, actor, lines: list[tuple[int, object]], method: str) -> BatchReport:
    """Check every line on its own, then store the good ones in short transactions. A line is a duplicate, and is not
    stored again, when this recorder has sent its device reference before (or earlier in the same upload), or when
    the log already has the same person at the same venue at the same instant, whoever recorded it (the same
    device export imported by two officials)."""
    report = BatchReport()
    now = clock.now()
    parsed: list[tuple[int, str, dict]] = []
    for number, line in lines:
        if not isinstance(line, dict):
            report.fail(number, "", DomainError(code="malformed_line", status=422, field=None,
                                                message_zh="该行不是一条扫码记录（应为含场所码、个人码、扫码时间的对象）",
                                                message_en="the line is not a scan (an object with venue_token, "
                                                           "person_token and scanned_at)"))
            continue
        try:
            ref = _client_ref(line.get("client_ref"))
            if not ref:
                raise ValidationFailed(field="client_ref", code="required", message_zh="缺少设备流水号",
                                       message_en="client_ref is required")
        except DomainError as exc:
            report.fail(number, "", exc)
            continue
        parsed.append((number, ref, line))

    seen: set[str] = set()
    for chunk in chunks(sorted({ref for _, ref, _ in parsed}), CHUNK):
        seen.update(_by_ref(actor, chunk).values_list("client_ref", flat=True))
    venues = _venues_by_token({str(line.get("venue_token") or "").strip() for _, _, line in parsed})
    people = _people_by_token({str(line.get("person_token") or "").strip() for _, _, line in parsed})

    good: list[Scan] = []
    for number, ref, line in parsed:
        if ref in seen:
            report.duplicates += 1
            continue
        try:
            venue = venues[str(line.get("venue_token") or "").strip()]
            if isinstance(venue, DomainError):
                raise venue
            person_id = people.get(str(line.get("person_token") or "").strip())
            if person_id is None:
                raise _unknown_person()
            when = line.get("scanned_at")
            if when is None or when == "":
                raise ValidationFailed(field="scanned_at", code="required", message_zh="缺少扫码时间",
                                       message_en="scanned_at is required")
            scan = Scan(venue=venue, person_id=person_id, scanned_at=_scan_time(when, now), method=method,
                        temperature=_temperature(line.get("temperature")), colour="",
                        recorded_by=_recorder(actor), client_ref=ref)
        except DomainError as exc:
            report.fail(number, ref, exc)
            continue
        seen.add(ref)
        good.append(scan)

    # The colour each person had on the day of their scan, derived in bulk (stored nowhere).
    days = {(s.person_id, timezone.localdate(s.scanned_at)) for s in good}
    views = status_on(days)
    for s in good:
        view = views.get((s.person_id, timezone.localdate(s.scanned_at)))
        s.colour = view.colour if view is not None else ""

    entries: set[tuple] = set()
    for chunk in chunks(good, INSERT_CHUNK):
        with transaction.atomic():  # short: the door scans of other devices wait for the write lock meanwhile
            already = set(_by_ref(actor, [s.client_ref for s in chunk]).values_list("client_ref", flat=True))
            entries |= _stored_entries(chunk)
            fresh = []
            for s in chunk:
                entry = (s.venue_id, s.person_id, s.scanned_at)
                if s.client_ref not in already and entry not in entries:
                    entries.add(entry)
                    fresh.append(s)
            Scan.objects.bulk_create(fresh, batch_size=500, ignore_conflicts=True)
        report.accepted += len(fresh)
        report.duplicates += len(chunk) - len(fresh)
    report.errors.sort(key=lambda e: e["line"])
    if report.accepted:  # the task worker takes them into the companion index before a tracer asks
        transaction.on_commit(companion_index_refresh.enqueue)
    return report


def scan_batch(*, actor, lines: list, method: str = ScanMethod.BATCH) -> BatchReport:
    """Scans uploaded by a venue device that was offline: each line is checked on its own; good lines are kept,
    bad ones listed with their number (from 1), the field and the reason; a line seen before (same device reference
    from the same device account) is not stored again, so a retried upload stores nothing twice."""
    require(actor, Capability.SCAN_RECORD, "上传扫码记录", "upload scans")
    if not isinstance(lines, list):
        raise ValidationFailed(field="lines", code="invalid", message_zh="lines应为扫码记录的列表",
                               message_en="lines must be a list of scans")
    if len(lines) > MAX_BATCH_LINES:
        raise ValidationFailed(field="lines", code="too_many_lines",
                               message_zh=f"一次最多上传{MAX_BATCH_LINES}条，请分批上传",
                               message_en=f"at most {MAX_BATCH_LINES} lines per upload; split the upload")
    return _ingest(actor=actor, lines=list(enumerate(lines, start=1)), method=method)


# ---- file import ---------------------------------------------------------------------------------------------

IMPORT_COLUMNS = {  # key: the headers accepted for it (Chinese or the API's field name), case-insensitive
    "venue_token": ("场所码", "venue_token"),
    "person_token": ("个人码", "person_token"),
    "scanned_at": ("扫码时间", "scanned_at"),
    "temperature": ("体温", "temperature"),
    "client_ref": ("流水号", "client_ref"),
}
REQUIRED_COLUMNS = ("venue_token", "person_token", "scanned_at")


def _unreadable(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(field="file", code="unreadable_file", message_zh=zh, message_en=en)


def _header_key(cell) -> str | None:
    text = re.sub(r"[(（].*?[)）]|\s", "", str(cell or "")).lower()  # "体温（℃）" -> "体温"
    return next((key for key, names in IMPORT_COLUMNS.items() if text in names), None)


def _rows_of(data: bytes, name: str):
    """(row number, cells) of the first sheet of an .xlsx, or of a CSV in UTF-8 or GB18030 (Excel's Chinese CSV)."""
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a broken or foreign file
            raise _unreadable("无法读取该Excel文件（应为.xlsx）", "the file is not a readable .xlsx workbook") from None
        try:
            ws = wb.worksheets[0]
            yield from enumerate(ws.iter_rows(values_only=True), start=1)
        finally:
            wb.close()
        return
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string that is not binary garbage
        raise _unreadable("无法识别文件编码（应为UTF-8或GBK）", "unknown text encoding (UTF-8 or GBK expected)")
    if "\x00" in text:
        raise _unreadable("该文件不是CSV或.xlsx", "the file is neither a CSV nor an .xlsx workbook")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    yield from enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1)


def _file_lines(data: bytes, name: str) -> list[tuple[int, dict]]:
    header: dict[str, int] | None = None
    lines: list[tuple[int, dict]] = []
    for number, row in _rows_of(data, name):
        cells = ["" if c is None else c for c in row]
        if not any(str(c).strip() for c in cells):
            continue
        if header is None:
            found = {key: i for i, key in reversed(list(enumerate(map(_header_key, cells)))) if key}
            if all(k in found for k in REQUIRED_COLUMNS):
                header = found
            elif number >= 5:
                break
            continue
        line = {key: (cells[i] if i < len(cells) else "") for key, i in header.items()}
        for key in ("venue_token", "person_token", "client_ref"):
            if isinstance(line.get(key), str):
                line[key] = line[key].strip()
        if not _client_ref_present(line):
            # No 流水号: the row itself is its reference, so importing the file again stores nothing twice.
            basis = "|".join(str(line.get(k, "")).strip() for k in ("venue_token", "person_token", "scanned_at"))
            line["client_ref"] = "file-" + hashlib.sha1(basis.encode()).hexdigest()[:40]
        lines.append((number, line))
        if len(lines) > MAX_IMPORT_ROWS:
            raise ValidationFailed(field="file", code="too_many_rows",
                                   message_zh=f"一个文件最多{MAX_IMPORT_ROWS}行，请拆分后导入",
                                   message_en=f"at most {MAX_IMPORT_ROWS} rows per file; split the file")
    if header is None:
        raise ValidationFailed(field="file", code="missing_columns",
                               message_zh="找不到表头：须有“场所码”“个人码”“扫码时间”列（可选“体温”“流水号”）",
                               message_en="no header row: the columns venue_token (场所码), person_token (个人码) "
                                          "and scanned_at (扫码时间) are required (temperature 体温 and client_ref "
                                          "流水号 optional)")
    return lines


def _client_ref_present(line: dict) -> bool:
    value = line.get("client_ref")
    return value is not None and str(value).strip() != ""


def scan_file_import(*, actor, upload, file_name: str | None = None, ip_address: str = "") -> dict:
    """Scans from a CSV or .xlsx file (a venue's paper register typed up, a device's export): columns 场所码,
    个人码, 扫码时间, 体温, 流水号 (or venue_token, person_token, scanned_at, temperature, client_ref). The same
    checks as a device batch, line by line: good rows are kept, bad rows listed with their row number in the file,
    the field and the reason. Rows are told apart by 流水号 (or, without it, by venue, person and time), so importing
    the same file again stores nothing twice."""
    require(actor, Capability.SCAN_RECORD, "导入扫码记录", "import scans")
    name = file_name or getattr(upload, "name", "") or "scans"
    data = upload.read()
    if isinstance(data, str):
        data = data.encode()
    if not data:
        raise ValidationFailed(field="file", code="empty_file", message_zh="文件是空的", message_en="the file is empty")
    lines = _file_lines(data, name)
    report = _ingest(actor=actor, lines=lines, method=ScanMethod.IMPORT)
    digest = hashlib.sha256(data).hexdigest()
    audit_record(actor=actor, action=AuditAction.IMPORT, object_type="venues.scan", object_id=digest[:16],
                 summary=f"导入扫码记录文件{name}：{len(lines)}行，新增{report.accepted}条，重复{report.duplicates}条，"
                         f"错误{len(report.errors)}行",
                 row_count=report.accepted, ip_address=ip_address)
    return {"file_name": name, "sha256": digest, "rows": len(lines), **report.as_dict()}
