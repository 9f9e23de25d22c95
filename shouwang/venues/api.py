"""/api/v1/venues and /api/v1/scans: place codes and the door scan that answers a status in one round trip."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from shouwang.core.idempotency import idempotent
from shouwang.core.masking import mask_name
from shouwang.venues import selectors
from shouwang.venues.services import (
    ScanResult,
    VenueInput,
    scan_batch,
    scan_by_tokens,
    scan_file_import,
    venue_close,
    venue_code_reissue,
    venue_create,
    venue_current_code,
    venue_visible,
)

router = Router(tags=["venues 场所码"])


class VenueIn(Schema):
    name: str
    category: str
    area_id: int
    address: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    manager_name: str = ""
    manager_mobile: str = ""


class VenueOut(Schema):
    id: int
    name: str
    category: str
    category_label: str
    area_id: int
    area_name: str
    address: str
    status: str
    token: str


def venue_out(venue) -> dict:
    codes = getattr(venue, "active_codes", None)  # prefetched by the list
    code = codes[0] if codes else venue_current_code(venue)
    return {"id": venue.id, "name": venue.name, "category": venue.category,
            "category_label": str(venue.get_category_display()), "area_id": venue.area_id,
            "area_name": venue.area.name, "address": venue.address, "status": venue.status,
            "token": code.token}


class ScanIn(Schema):
    venue_token: str
    person_token: str
    scanned_at: dt.datetime | None = None
    temperature: Decimal | None = None
    client_ref: str = ""


class BatchIn(Schema):
    lines: list[Any]  # each line is checked on its own: a malformed one is listed, the others are kept


class ReasonOut(Schema):
    rule: str
    colour: str
    reason_zh: str
    reason_en: str
    since: str | None
    until: str | None


class ScanOut(Schema):
    scan_id: int
    duplicate: bool
    venue_id: int
    venue: str
    person: str
    scanned_at: str
    temperature: float | None
    method: str
    colour: str
    rule: str
    reason_zh: str
    reason_en: str
    changes_on: str | None
    policy_version: str
    reasons: list[ReasonOut]


class BatchErrorOut(Schema):
    line: int
    client_ref: str
    code: str
    field: str | None
    zh: str
    en: str


class BatchOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    errors: list[BatchErrorOut]


class ImportOut(BatchOut):
    file_name: str
    sha256: str
    rows: int


@router.post("/venues", response={201: VenueOut}, summary="登记场所并发码 Register a venue and issue its code")
def create_venue(request, payload: VenueIn):
    venue = venue_create(actor=request.auth, data=VenueInput(**payload.dict()))
    return Status(201, venue_out(venue))


@router.get("/venues", response=list[VenueOut], summary="辖区内的场所 Venues in the jurisdiction")
def list_venues(request, area_id: int | None = None, q: str = "", limit: int = 100):
    venues = selectors.venues_visible(user=request.auth, area_id=area_id, q=q, with_codes=True)
    return [venue_out(v) for v in venues[:max(1, min(limit, 500))]]


@router.get("/venues/{int:venue_id}", response=VenueOut, summary="场所 A venue")
def get_venue(request, venue_id: int):
    return venue_out(venue_visible(user=request.auth, venue_id=venue_id))


@router.post("/venues/{int:venue_id}/reissue", response=VenueOut, summary="重新发码 Re-issue the place code")
def reissue(request, venue_id: int):
    venue_code_reissue(actor=request.auth, venue_id=venue_id)
    return venue_out(venue_visible(user=request.auth, venue_id=venue_id))


@router.post("/venues/{int:venue_id}/close", response=VenueOut, summary="关闭场所 Close a venue")
def close(request, venue_id: int):
    return venue_out(venue_close(actor=request.auth, venue_id=venue_id))


def scan_answer(result: ScanResult) -> dict:
    """What the door shows: where, who (masked), the colour with its reasons and the day it should change. The
    reasons name the rule and its dates, not the source or notes of the facts behind it."""
    scan = result.scan
    view = result.status.as_dict()
    view["reasons"] = [{k: r.get(k) for k in ("rule", "colour", "reason_zh", "reason_en", "since", "until")}
                       for r in view["reasons"]]
    return {"scan_id": scan.id, "duplicate": result.duplicate, "venue_id": scan.venue_id, "venue": scan.venue.name,
            "person": mask_name(scan.person.name), "scanned_at": timezone.localtime(scan.scanned_at).isoformat(),
            "temperature": float(scan.temperature) if scan.temperature is not None else None,
            "method": scan.method, **view}


@router.post("/scans", response={200: ScanOut, 201: ScanOut}, summary="扫码 Record a scan at a venue and answer the person's status with its reasons "
                               "(201; 200 with duplicate=true for a client_ref already recorded)")
def scan(request, payload: ScanIn):
    # Served by shouwang.web.door (the same door_scan below without the framework's per-request work); this
    # operation documents it in the OpenAPI schema and answers the same if it is ever routed here.
    return Status(*door_scan(request, payload))


def door_scan(request, payload: ScanIn) -> tuple[int, dict]:
    """The door scan for the authenticated request.auth: (201 or 200 for a retry, ScanOut's body)."""
    def produce():
        result = scan_by_tokens(actor=request.auth, venue_token=payload.venue_token,
                                person_token=payload.person_token, scanned_at=payload.scanned_at,
                                temperature=payload.temperature, client_ref=payload.client_ref)
        return (200 if result.duplicate else 201), scan_answer(result)

    return idempotent(request, produce)


@router.post("/scans/batch", response=BatchOut,
             summary="批量上传扫码记录 Upload scans from a device that was offline (good lines kept, bad ones listed)")
def batch(request, payload: BatchIn):
    return scan_batch(actor=request.auth, lines=payload.lines).as_dict()


@router.post("/scans/import", response=ImportOut,
             summary="导入扫码记录文件 Import scans from a CSV or .xlsx file (场所码, 个人码, 扫码时间, 体温, 流水号)")
def import_scans(request, file: File[UploadedFile]):
    return scan_file_import(actor=request.auth, upload=file, file_name=file.name,
                            ip_address=request.META.get("REMOTE_ADDR", ""))
