"""/api/v1/venues and /api/v1/scans: place codes and the door scan that answers a status in one round trip."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Router, Schema, Status

from shouwang.core.idempotency import idempotent
from shouwang.core.masking import mask_name
from shouwang.venues import selectors
from shouwang.venues.enums import ScanMethod
from shouwang.venues.services import (
    VenueInput,
    person_by_token,
    scan_batch,
    scan_record,
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
    return {"id": venue.id, "name": venue.name, "category": venue.category,
            "category_label": str(venue.get_category_display()), "area_id": venue.area_id,
            "area_name": venue.area.name, "address": venue.address, "status": venue.status,
            "token": venue_current_code(venue).token}


class ScanIn(Schema):
    venue_token: str
    person_token: str
    scanned_at: dt.datetime | None = None
    temperature: Decimal | None = None
    client_ref: str = ""


class BatchIn(Schema):
    lines: list[dict]


@router.post("/venues", response={201: VenueOut}, summary="登记场所并发码 Register a venue and issue its code")
def create_venue(request, payload: VenueIn):
    venue = venue_create(actor=request.auth, data=VenueInput(**payload.dict()))
    return Status(201, venue_out(venue))


@router.get("/venues", response=list[VenueOut], summary="辖区内的场所 Venues in the jurisdiction")
def list_venues(request, area_id: int | None = None, q: str = "", limit: int = 100):
    return [venue_out(v) for v in selectors.venues_visible(user=request.auth, area_id=area_id, q=q)[:min(limit, 500)]]


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


@router.post("/scans", summary="扫码 Record a scan and answer the status (reverse scan by staff or a venue device)")
def scan(request, payload: ScanIn):
    def produce():
        person = person_by_token(payload.person_token)
        result = scan_record(venue_token=payload.venue_token, person=person, method=ScanMethod.REVERSE,
                             actor=request.auth, scanned_at=payload.scanned_at, temperature=payload.temperature,
                             client_ref=payload.client_ref)
        body = {"scan_id": result.scan.id, "duplicate": result.duplicate, "venue": result.scan.venue.name,
                "person": mask_name(person.name), "scanned_at": result.scan.scanned_at.isoformat(),
                **result.status.as_dict()}
        body.pop("reasons")
        return (200 if result.duplicate else 201), body

    return Status(*idempotent(request, produce))


@router.post("/scans/batch", summary="批量上传扫码记录 Upload scans from a device that was offline")
def batch(request, payload: BatchIn):
    report = scan_batch(actor=request.auth, lines=payload.lines)
    return {"accepted": report.accepted, "duplicates": report.duplicates, "errors": report.errors}
