"""Small reads the quarantine pages need beside selectors.py: a site with its rooms and the people in them or on
their way, the open stays of the jurisdiction, one stay's file (its read logged), its test days with their
outcome, the transfers. Scoped like the services: a site or transfer by its site's area, a stay by the person's
home area or by its site; not found and not yours answer the same."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, logins_covering
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import NotFound
from shouwang.core.models import AuditAction
from shouwang.policy.selectors import ruleset_get
from shouwang.quarantine.enums import OPEN_STAY_STATES, RoomState, SiteState, StayState, TransferState
from shouwang.quarantine.models import Room, Site, Stay, StayChange, Transfer
from shouwang.testing.selectors import outcome_on

# Stays not yet in a room that a site expects: reserved to it by allocation, or in a transfer to it.
INCOMING_STATES = (StayState.PLANNED, StayState.AWAITING_TRANSFER, StayState.IN_TRANSFER)
LIVE_TRANSFER_STATES = (TransferState.REQUESTED, TransferState.PICKED_UP, TransferState.ARRIVED)


# ---- sites and rooms ---------------------------------------------------------------------------------------------


def sites_visible(user) -> QuerySet[Site]:
    return Site.objects.filter(area__path__startswith=jurisdiction_path(user)).select_related("area").order_by("name")


def site_visible(user, site_id: int) -> Site:
    site = sites_visible(user).filter(id=site_id).first()
    if site is None:
        raise NotFound("隔离点", "quarantine site", field="site_id")
    return site


@dataclass
class RoomView:
    room: Room
    active: list[Stay] = field(default_factory=list)  # people in the room
    reserved: list[Stay] = field(default_factory=list)  # people on their way, the room kept for them

    @property
    def places_left(self) -> int:
        usable = self.room.state in (RoomState.FREE, RoomState.OCCUPIED)
        return max(0, self.room.capacity - len(self.active) - len(self.reserved)) if usable else 0

    @property
    def shown_state(self) -> str:
        """free / occupied / reserved / cleaning / out_of_service: what the tile shows."""
        if self.room.state in (RoomState.CLEANING, RoomState.OUT_OF_SERVICE):
            return self.room.state
        if self.active:
            return RoomState.OCCUPIED
        return "reserved" if self.reserved else RoomState.FREE


def staff_candidates(site: Site) -> list:
    """Logins that may be the site's manager or doctor: people (not devices) whose jurisdiction covers the site."""
    return list(logins_covering(site.area).order_by("role", "username"))


def site_rooms(site: Site) -> list[RoomView]:
    """The site's rooms by floor and number, each with its open stays (two queries)."""
    views = {r.id: RoomView(r) for r in Room.objects.filter(site=site).order_by("floor", "number")}
    for stay in (Stay.objects.filter(room_id__in=list(views), state__in=list(OPEN_STAY_STATES))
                 .select_related("person").order_by("id")):
        view = views[stay.room_id]
        (view.active if stay.state == StayState.ACTIVE else view.reserved).append(stay)
    return sorted(views.values(), key=lambda v: (v.room.floor, len(v.room.number), v.room.number))


def site_incoming(site: Site) -> list[tuple[Stay, Transfer | None]]:
    """The people the site expects, not in a room yet: stays reserved to it and stays of transfers to it, each
    with its latest live transfer (None when not requested yet); arrived first, then picked up, then the rest."""
    runs: dict[int, Transfer] = {}
    links = (Transfer.stays.through.objects
             .filter(transfer__site=site, transfer__state__in=list(LIVE_TRANSFER_STATES),
                     stay__state__in=list(INCOMING_STATES))
             .select_related("transfer").order_by("transfer__requested_at", "transfer_id"))
    for link in links:
        runs[link.stay_id] = link.transfer  # the latest run wins
    stays = (Stay.objects.filter(state__in=list(INCOMING_STATES)).filter(Q(site=site) | Q(id__in=list(runs)))
             .select_related("person", "room").order_by("id"))
    order = {TransferState.ARRIVED: 0, TransferState.PICKED_UP: 1, TransferState.REQUESTED: 2}
    out = [(s, runs.get(s.id)) for s in stays]
    return sorted(out, key=lambda x: (order.get(x[1].state, 3) if x[1] else 3, x[0].id))


def site_people(site: Site) -> list[Stay]:
    """The people in the site's rooms, by room."""
    return list(Stay.objects.filter(site=site, state=StayState.ACTIVE, room__isnull=False)
                .select_related("person", "room").order_by("room__floor", "room__number", "id"))


def active_sites(user) -> list[Site]:
    return list(sites_visible(user).filter(state=SiteState.ACTIVE))


# ---- stays -------------------------------------------------------------------------------------------------------


def _stays_of(user) -> QuerySet[Stay]:
    path = jurisdiction_path(user)
    return Stay.objects.filter(Q(area__path__startswith=path) | Q(site__area__path__startswith=path))


def stays_visible(user, *, state: str = "", measure: str = "", site_id: int | None = None) -> QuerySet[Stay]:
    """The open stays of the jurisdiction (the person's home area or the site's), oldest first: what waits for a
    transfer or a release first."""
    qs = _stays_of(user).filter(state__in=[state] if state else list(OPEN_STAY_STATES))
    if measure:
        qs = qs.filter(measure=measure)
    if site_id:
        qs = qs.filter(site_id=site_id)
    return qs.select_related("person", "area", "site", "room").order_by("starts_on", "id")


def open_stay_counts(user) -> dict[str, int]:
    return dict(_stays_of(user).filter(state__in=list(OPEN_STAY_STATES)).values_list("state")
                .annotate(n=Count("id")).order_by())


def stays_by_id(user, stay_ids) -> dict[int, Stay]:
    return {s.id: s for s in _stays_of(user).filter(id__in=list(stay_ids)).select_related("person", "site", "room")}


def stay_visible(user, stay_id: int) -> Stay:
    stay = (_stays_of(user).filter(id=stay_id)
            .select_related("person", "area", "site", "room", "previous", "created_by").first())
    if stay is None:
        raise NotFound("隔离管控记录", "stay", field="stay_id")
    return stay


def stay_file_open(*, actor, stay_id: int, full: bool = False, ip_address: str = "") -> Stay:
    """A stay's file with the person on it: the read is logged (full identifiers only for those who may see them,
    logged as such). `stay.show_full` says which was shown."""
    stay = stay_visible(actor, stay_id)
    show_full = full and actor.can(Capability.PERSON_VIEW_FULL)
    audit_record(actor=actor, action=AuditAction.VIEW_FULL if show_full else AuditAction.VIEW, obj=stay,
                 summary=f"查看隔离管控 {stay.person.name}", ip_address=ip_address)
    stay.show_full = show_full
    return stay


def next_stay(stay: Stay) -> Stay | None:
    return Stay.objects.filter(previous=stay).first()


def test_outcomes(stay: Stay, today: dt.date | None = None) -> list[dict]:
    """The plan's test days with what the tests say: negative, positive, pending, missing, or not due yet."""
    today = today or clock.today()
    out = []
    for t in stay.test_days:
        day = dt.date.fromisoformat(t["date"])
        outcome = outcome_on(stay.person_id, day, t["kind"]) if day <= today else "due"
        out.append({"date": day, "day": t["day"], "kind": t["kind"], "outcome": outcome})
    return out


def stay_history(stay: Stay) -> list[StayChange]:
    return list(stay.changes.select_related("by").order_by("at", "id"))


def room_labels(room_ids) -> dict[int, str]:
    """Room ids of a stay's history as 城关宾馆隔离点 301."""
    ids = [i for i in set(room_ids) if i]
    return {r.id: f"{r.site.name} {r.number}" for r in Room.objects.filter(id__in=ids).select_related("site")}


def category_label(version: str, category: str) -> tuple[str, str]:
    """The policy's name of a category (密切接触者), in Chinese and English; the key when the version is gone."""
    try:
        spec = ruleset_get(version).categories.get(category)
    except NotFound:
        spec = None
    return (spec.label_zh, spec.label_en) if spec else (category, category)


# ---- transfers ---------------------------------------------------------------------------------------------------


def transfers_visible(user, *, arrived_since: dt.datetime) -> list[Transfer]:
    """The runs to the jurisdiction's sites still under way, and those arrived since the given moment (or whose
    people are not all admitted yet), due time first."""
    path = jurisdiction_path(user)
    waiting = Q(stays__state__in=list(INCOMING_STATES))
    return list(Transfer.objects.filter(site__area__path__startswith=path)
                .filter(Q(state__in=[TransferState.REQUESTED, TransferState.PICKED_UP])
                        | Q(state=TransferState.ARRIVED) & (Q(arrived_at__gte=arrived_since) | waiting))
                .distinct().select_related("site").prefetch_related("stays__person").order_by("due_at", "id"))


def transfer_visible(user, transfer_id: int) -> Transfer:
    transfer = (Transfer.objects.filter(id=transfer_id, site__area__path__startswith=jurisdiction_path(user))
                .select_related("site").first())
    if transfer is None:
        raise NotFound("转运单", "transfer", field="transfer_id")
    return transfer


def transfers_of(stay: Stay) -> list[Transfer]:
    return list(stay.transfers.select_related("site").order_by("requested_at", "id"))
