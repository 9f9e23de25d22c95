"""Reads of venues and scans, scoped to the user's jurisdiction."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db.models import Count, Prefetch, Q, QuerySet

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.areas.models import Area
from shouwang.core.db import fetch_one
from shouwang.people.models import Person
from shouwang.status.services import status_sql
from shouwang.venues.models import PersonCode, Scan, Venue, VenueCode


def venues_visible(*, user, area_id: int | None = None, q: str = "", with_codes: bool = False) -> QuerySet[Venue]:
    """Venues in the user's jurisdiction (optionally under one area, or matching a name or address); with_codes
    prefetches each venue's live place code as `active_codes` (newest first)."""
    require(user, Capability.PERSON_VIEW, "查看场所", "view venues")
    qs = Venue.objects.filter(area__in=Area.objects.subtree(jurisdiction_path(user)).values("id"))
    if area_id:
        area = Area.objects.subtree(jurisdiction_path(user)).filter(id=area_id).first()
        qs = qs.filter(area__in=Area.objects.subtree(area.path).values("id")) if area else qs.none()
    if q.strip():
        qs = qs.filter(Q(name__contains=q.strip()) | Q(address__contains=q.strip()))
    qs = qs.select_related("area").order_by("name", "id")
    if with_codes:
        qs = qs.prefetch_related(Prefetch("codes", queryset=VenueCode.objects.filter(revoked_at__isnull=True)
                                          .order_by("-id"), to_attr="active_codes"))
    return qs


def person_recent_scans(*, person_id: int, since: dt.datetime, limit: int = 50) -> list[Scan]:
    """A person's scans since a time, newest first (the caller has checked the person is visible)."""
    return list(Scan.objects.filter(person_id=person_id, scanned_at__gte=since).select_related("venue")
                .order_by("-scanned_at")[:limit])


def person_scans_between(*, person_id: int, start: dt.datetime, end: dt.datetime, limit: int = 500) -> list[Scan]:
    """A person's scans in [start, end), oldest first, with their venues (a case's itinerary)."""
    return list(Scan.objects.filter(person_id=person_id, scanned_at__gte=start, scanned_at__lt=end)
                .select_related("venue").order_by("scanned_at", "id")[:limit])


def venue_names(venue_ids) -> dict[int, str]:
    return dict(Venue.objects.filter(id__in=set(venue_ids)).values_list("id", "name"))


def venue_scan_counts(*, venue_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, dict]:
    """Scans per venue in [start, end), with how many showed red or yellow."""
    rows = (Scan.objects.filter(venue_id__in=venue_ids, scanned_at__gte=start, scanned_at__lt=end)
            .values("venue_id").annotate(total=Count("id"), red=Count("id", filter=Q(colour="red")),
                                         yellow=Count("id", filter=Q(colour="yellow"))))
    return {r["venue_id"]: r for r in rows}


class DoorLookup(NamedTuple):
    """What the door scan needs to know before it writes, read in one query (see door_lookup)."""

    duplicate_id: int | None  # a scan this recorder already stored with this device reference
    code_id: int | None  # the place code, revoked or not
    code_revoked: bool
    venue_id: int | None
    venue_name: str | None
    venue_status: str | None
    person_id: int | None  # through a live personal code
    person_name: str | None
    person_merged: bool
    status_row: tuple  # today's status of the person, for status_from_row()


def _door_sql() -> str:
    s, vc, v, pc, p = Scan._meta, VenueCode._meta, Venue._meta, PersonCode._meta, Person._meta

    def col(meta, name):
        return meta.get_field(name).column

    ref = col(s, "client_ref")
    status_columns, status_join = status_sql(f"p.{col(p, 'id')}")
    return (
        f"SELECT (SELECT s.{col(s, 'id')} FROM {s.db_table} s WHERE s.{col(s, 'recorded_by')} = %s "
        f"AND s.{ref} = %s AND NOT (s.{ref} = '')), "  # the partial unique index's own condition: it is used
        f"vc.{col(vc, 'id')}, vc.{col(vc, 'revoked_at')}, v.{col(v, 'id')}, v.{col(v, 'name')}, "
        f"v.{col(v, 'status')}, p.{col(p, 'id')}, p.{col(p, 'name')}, p.{col(p, 'merged_into')}, {status_columns} "
        f"FROM (SELECT 1 AS one) one "
        f"LEFT JOIN {vc.db_table} vc ON vc.{col(vc, 'token')} = %s "
        f"LEFT JOIN {v.db_table} v ON v.{col(v, 'id')} = vc.{col(vc, 'venue')} "
        f"LEFT JOIN {pc.db_table} pc ON pc.{col(pc, 'token')} = %s AND pc.{col(pc, 'revoked_at')} IS NULL "
        f"LEFT JOIN {p.db_table} p ON p.{col(p, 'id')} = pc.{col(pc, 'person')} {status_join}"
    )


_DOOR_SQL: list[str] = []


def door_lookup(*, recorder_id: int | None, client_ref: str, venue_token: str, person_token: str) -> DoorLookup:
    """The retry check, the place code with its venue and the personal code with its person, in one indexed query:
    the door scan is the busiest request of an outbreak, and four ORM queries cost more than the work they do."""
    if not _DOOR_SQL:
        _DOOR_SQL.append(_door_sql())
    dup, code_id, revoked_at, venue_id, venue_name, venue_status, person_id, person_name, merged, *status = (
        fetch_one(_DOOR_SQL[0], [recorder_id, client_ref, venue_token, person_token]))
    return DoorLookup(dup, code_id, revoked_at is not None, venue_id, venue_name, venue_status, person_id,
                      person_name, merged is not None, tuple(status))


def people_by_tokens(tokens) -> dict[str, int]:
    """Person id per live personal code (not revoked, person not merged into another), for many codes at once."""
    out: dict[str, int] = {}
    wanted = sorted({str(t).strip() for t in tokens if t})
    for i in range(0, len(wanted), 900):
        out.update(PersonCode.objects.filter(token__in=wanted[i:i + 900], revoked_at__isnull=True,
                                             person__merged_into__isnull=True).values_list("token", "person_id"))
    return out
