"""Reads of venues and scans, scoped to the user's jurisdiction."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.areas.models import Area
from shouwang.venues.models import Scan, Venue


def venues_visible(*, user, area_id: int | None = None, q: str = "") -> QuerySet[Venue]:
    require(user, Capability.PERSON_VIEW, "查看场所", "view venues")
    qs = Venue.objects.filter(area__in=Area.objects.subtree(jurisdiction_path(user)).values("id"))
    if area_id:
        area = Area.objects.subtree(jurisdiction_path(user)).filter(id=area_id).first()
        qs = qs.filter(area__in=Area.objects.subtree(area.path).values("id")) if area else qs.none()
    if q.strip():
        qs = qs.filter(Q(name__contains=q.strip()) | Q(address__contains=q.strip()))
    return qs.select_related("area").order_by("name", "id")


def person_recent_scans(*, person_id: int, since: dt.datetime, limit: int = 50) -> list[Scan]:
    """A person's scans since a time, newest first (the caller has checked the person is visible)."""
    return list(Scan.objects.filter(person_id=person_id, scanned_at__gte=since).select_related("venue")
                .order_by("-scanned_at")[:limit])


def venue_scan_counts(*, venue_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, dict]:
    """Scans per venue in [start, end), with how many showed red or yellow."""
    rows = (Scan.objects.filter(venue_id__in=venue_ids, scanned_at__gte=start, scanned_at__lt=end)
            .values("venue_id").annotate(total=Count("id"), red=Count("id", filter=Q(colour="red")),
                                         yellow=Count("id", filter=Q(colour="yellow"))))
    return {r["venue_id"]: r for r in rows}
