"""Reads of the quarantine domain: occupancy per site (rooms, places, people, free rooms) from grouped queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from shouwang.accounts.scoping import jurisdiction_path
from shouwang.core import clock
from shouwang.quarantine.enums import CENTRAL_MEASURES, OPEN_STAY_STATES, RoomState, SiteState, TransferState
from shouwang.quarantine.models import Room, Site, Stay, Transfer


@dataclass
class SiteOccupancy:
    site: Site
    rooms: int
    places: int
    occupied: int  # people in the site (active) or on their way (reserved)
    free_rooms: int
    cleaning: int
    out_of_service: int


def occupancy(user) -> list[SiteOccupancy]:
    """Rooms, places and people per site of the jurisdiction: three grouped queries, whatever the number of rooms."""

    path = jurisdiction_path(user)
    sites = list(Site.objects.filter(area__path__startswith=path).order_by("name"))
    ids = [x.id for x in sites]
    rooms: dict[int, dict] = {}
    for site_id, state, n, places in (Room.objects.filter(site_id__in=ids).values_list("site_id", "state")
                                      .annotate(n=Count("id"), places=Sum("capacity")).order_by()):
        rooms.setdefault(site_id, {})[state] = (n, places)
    people = dict(Stay.objects.filter(site_id__in=ids, state__in=list(OPEN_STAY_STATES)).values_list("site_id")
                  .annotate(n=Count("id")).order_by())
    rooms_with_people = dict(Stay.objects.filter(site_id__in=ids, state__in=list(OPEN_STAY_STATES),
                                                 room__isnull=False).values_list("site_id")
                             .annotate(n=Count("room_id", distinct=True)).order_by())
    out = []
    for x in sites:
        r = rooms.get(x.id, {})
        total = sum(n for n, _ in r.values())
        usable = sum(r.get(s, (0, 0))[0] for s in (RoomState.FREE, RoomState.OCCUPIED))
        out.append(SiteOccupancy(
            site=x, rooms=total, places=sum(p or 0 for _, p in r.values()), occupied=people.get(x.id, 0),
            free_rooms=usable - rooms_with_people.get(x.id, 0), cleaning=r.get(RoomState.CLEANING, (0, 0))[0],
            out_of_service=r.get(RoomState.OUT_OF_SERVICE, (0, 0))[0]))
    return out


def transfers_overdue(user, *, now=None) -> list:
    """Transfers not yet arrived past the policy's limit, oldest first (HQ's list)."""
    now = now or clock.now()
    return list(Transfer.objects.filter(site__area__path__startswith=jurisdiction_path(user),
                                        state__in=[TransferState.REQUESTED, TransferState.PICKED_UP], due_at__lt=now)
                .select_related("site").order_by("due_at"))


@dataclass
class CentralLoad:
    ending: dict  # last day (date) -> open central stays (in a room, reserved, awaiting or in transfer)
    open_ended: int  # open central stays without a last day
    places_active: int  # places in usable rooms (free or occupied) of active sites
    places_standby: int  # places in sites not yet active (standby, activating): the reserve


def central_load(user) -> CentralLoad:
    """The open central stays of the jurisdiction by their last day, and the places of active and reserve sites:
    what the 7-day forecast (reports) starts from. Three grouped queries."""
    path = jurisdiction_path(user)
    stays = Stay.objects.filter(measure__in=list(CENTRAL_MEASURES), state__in=list(OPEN_STAY_STATES)).filter(
        Q(area__path__startswith=path) | Q(site__area__path__startswith=path))
    ending = dict(stays.exclude(ends_on=None).values_list("ends_on").annotate(n=Count("id")).order_by())
    places = dict(Room.objects.filter(site__area__path__startswith=path,
                                      state__in=[RoomState.FREE, RoomState.OCCUPIED, RoomState.CLEANING])
                  .values_list("site__state").annotate(n=Sum("capacity")).order_by())
    return CentralLoad(ending=ending, open_ended=stays.filter(ends_on=None).count(),
                       places_active=places.get(SiteState.ACTIVE, 0) or 0,
                       places_standby=sum(places.get(s, 0) or 0 for s in (SiteState.STANDBY, SiteState.ACTIVATING)))
