"""Reads of the tracing domain: cases and contacts within the user's jurisdiction, transmission chains with their
contacts' control, a chain's graph, and the tracer's work list."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from shouwang.accounts.scoping import jurisdiction_path
from shouwang.core import clock
from shouwang.core.errors import NotFound
from shouwang.core.masking import mask_name
from shouwang.policy.selectors import ruleset_in_force
from shouwang.tracing import chains as chain_math
from shouwang.tracing.enums import (
    ACTIVE_CASE_STATES,
    CONTROLLED_STATES,
    ContactKind,
    ContactState,
    InvestigationState,
)
from shouwang.tracing.models import Case, Cluster, Contact, TransmissionLink


def cases_visible(user, *, state: str = "", q: str = "", active: bool = False) -> QuerySet[Case]:
    """Cases whose home is in the user's jurisdiction, newest report first."""
    qs = (Case.objects.filter(area__path__startswith=jurisdiction_path(user))
          .select_related("person", "area", "investigation").order_by("-reported_at", "-id"))
    if state:
        qs = qs.filter(state=state)
    if active:
        qs = qs.filter(state__in=list(ACTIVE_CASE_STATES))
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(person__name__contains=q))
    return qs


def case_visible(user, case_id: int) -> Case:
    case = cases_visible(user).filter(id=case_id).first()
    if case is None:
        raise NotFound("病例", "case", field="case_id")
    return case


def contacts_visible(user, *, case_id: int | None = None, state: str = "", kind: str = "") -> QuerySet[Contact]:
    """Contacts living in the user's jurisdiction or found on a case of it."""
    path = jurisdiction_path(user)
    qs = (Contact.objects.filter(Q(area__path__startswith=path) | Q(case__area__path__startswith=path))
          .select_related("person", "area", "case", "via__person").order_by("state", "-last_exposure", "id"))
    if case_id is not None:
        qs = qs.filter(Q(case_id=case_id) | Q(exposures__case_id=case_id)).distinct()
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def contact_counts(case_ids) -> dict[int, dict[str, int]]:
    """Per case: contacts per state (the case of the latest exposure)."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for case_id, state, n in (Contact.objects.filter(case_id__in=list(case_ids)).values_list("case_id", "state")
                              .annotate(n=Count("id")).order_by()):
        out[case_id][state] = n
    return out


def case_links(case: Case) -> tuple[TransmissionLink | None, list[TransmissionLink]]:
    """The link that names the case's infector (or None) and the links to the cases it infected."""
    links = list(TransmissionLink.objects.filter(Q(infectee=case) | Q(infector=case))
                 .select_related("infector", "infectee", "infector__area", "infectee__area").order_by("id"))
    infected_by = next((x for x in links if x.infectee_id == case.id), None)
    return infected_by, [x for x in links if x.infector_id == case.id]



# ---- chains ------------------------------------------------------------------------------------------------------


@dataclass
class ChainView:
    number: int
    root: Case
    cases: list[Case]
    generation: dict[int, int]
    links: list[TransmissionLink]
    size: int
    max_generation: int
    first_date: dt.date | None
    latest_date: dt.date | None
    contacts: int = 0
    open_contacts: int = 0  # proposed or not yet under control

    @property
    def closed(self) -> bool:
        """All the contacts of its cases under control (transferred, under measure, released, became a case or
        rejected)."""
        return self.open_contacts == 0

    @property
    def active_cases(self) -> int:
        return sum(1 for c in self.cases if c.state in ACTIVE_CASE_STATES)


def _all_chains() -> tuple[list[chain_math.Chain], dict[int, Case], list[TransmissionLink]]:
    cases = {c.id: c for c in Case.objects.select_related("person", "area").exclude(state="excluded")}
    links = [link for link in TransmissionLink.objects.all() if link.infector_id in cases and link.infectee_id in cases]
    dates = {cid: c.anchor_date for cid, c in cases.items()}
    found = chain_math.chains(cases, [(x.infector_id, x.infectee_id) for x in links], dates)
    return found, cases, links


def chains_visible(user, *, min_size: int = 1) -> list[ChainView]:
    """The county's chains that hold at least one case of the user's jurisdiction (a chain crosses townships;
    it is computed whole), with their contacts' control. Ordered as chains.chains orders them."""
    path = jurisdiction_path(user)
    found, cases, links = _all_chains()
    by_infectee = {x.infectee_id: x for x in links}
    views = []
    for ch in found:
        members = [cases[cid] for cid in ch.cases]
        if ch.size < min_size or not any(c.area.path.startswith(path) for c in members):
            continue
        views.append(ChainView(number=ch.number, root=cases[ch.roots[0]], cases=members,
                               generation=dict(ch.generation), size=ch.size, max_generation=ch.max_generation,
                               first_date=ch.first_date, latest_date=ch.latest_date,
                               links=[by_infectee[c.id] for c in members if c.id in by_infectee]))
    ids = [c.id for v in views for c in v.cases]
    control = defaultdict(lambda: [0, 0])
    for case_id, state, n in (Contact.objects.filter(case_id__in=ids).values_list("case_id", "state")
                              .annotate(n=Count("id")).order_by()):
        control[case_id][0] += n
        if state not in CONTROLLED_STATES:
            control[case_id][1] += n
    for v in views:
        v.contacts = sum(control[c.id][0] for c in v.cases)
        v.open_contacts = sum(control[c.id][1] for c in v.cases)
    return views


def chain_of(user, case_id: int) -> ChainView:
    case_visible(user, case_id)
    for view in chains_visible(user):
        if any(c.id == case_id for c in view.cases):
            return view
    raise NotFound("传播链", "chain", field="case_id")


def chain_graph(view: ChainView, *, en: bool = False) -> dict:
    """Nodes and edges for the chain's graph: cases (by generation) with their close contacts and the secondary
    contacts of those, for ECharts' graph series. Rejected proposals are left out, and so are contacts who became
    cases (they are the case node)."""
    nodes, edges = [], []
    for case in view.cases:
        nodes.append({"id": f"case-{case.id}", "kind": "case", "case_id": case.id, "name": case.code,
                      "label": case.code, "state": case.state, "generation": view.generation[case.id],
                      "classification": case.classification})
    for link in view.links:
        edges.append({"source": f"case-{link.infector_id}", "target": f"case-{link.infectee_id}", "kind": "link",
                      "setting": link.setting, "confidence": link.confidence})
    # a contact who became a case is drawn once, as the case (its link shows the way)
    contacts = list(Contact.objects.filter(case__in=view.cases)
                    .exclude(state__in=[ContactState.REJECTED, ContactState.BECAME_CASE])
                    .select_related("person").order_by("kind", "id"))
    for c in contacts:
        nodes.append({"id": f"contact-{c.id}", "kind": c.kind, "contact_id": c.id, "name": _masked(c.person.name),
                      "label": _masked(c.person.name), "state": c.state,
                      "generation": view.generation[c.case_id] + (1 if c.kind == ContactKind.CLOSE else 2)})
        source = f"contact-{c.via_id}" if c.kind == ContactKind.SECONDARY and c.via_id else f"case-{c.case_id}"
        edges.append({"source": source, "target": f"contact-{c.id}", "kind": "exposure"})
    known = {n["id"] for n in nodes}
    edges = [e for e in edges if e["source"] in known and e["target"] in known]
    return {"nodes": nodes, "edges": edges}


def _masked(name: str) -> str:
    return mask_name(name)


# ---- clusters ----------------------------------------------------------------------------------------------------


@dataclass
class ClusterView:
    cluster: Cluster
    cases: list[Case]

    @property
    def size(self) -> int:
        return len(self.cases)

    @property
    def first_date(self) -> dt.date | None:
        return min((c.anchor_date for c in self.cases), default=None)

    @property
    def latest_date(self) -> dt.date | None:
        return max((c.anchor_date for c in self.cases), default=None)

    @property
    def active_cases(self) -> int:
        return sum(1 for c in self.cases if c.state in ACTIVE_CASE_STATES)


def clusters_visible(user) -> list[ClusterView]:
    """Clusters with at least one case of the user's jurisdiction, newest first, with their cases by date."""
    path = jurisdiction_path(user)
    clusters = (Cluster.objects.filter(cases__area__path__startswith=path).distinct()
                .prefetch_related(Prefetch("cases", queryset=Case.objects.select_related("area")
                                           .order_by("reported_at", "id"))).order_by("-created_at", "-id"))
    return [ClusterView(c, list(c.cases.all())) for c in clusters]


# ---- the tracer's work list -------------------------------------------------------------------------------------


@dataclass
class WorkList:
    now: dt.datetime
    transfer_hours: int
    overdue_investigations: list = field(default_factory=list)  # open, past their 24 h
    open_investigations: list = field(default_factory=list)  # open, within their clock
    to_decide: list = field(default_factory=list)  # (case, proposed count)
    uncontacted: list = field(default_factory=list)  # identified, not notified yet
    transfer_overdue: list = field(default_factory=list)  # identified/notified past the transfer limit

    @property
    def total(self) -> int:
        return (len(self.overdue_investigations) + len(self.to_decide) + len(self.uncontacted)
                + len(self.transfer_overdue))


def work_list(user, *, now: dt.datetime | None = None, limit: int = 200) -> WorkList:
    now = now or clock.now()
    try:
        hours = int(ruleset_in_force(clock.today()).param("contact_transfer_hours").value)
    except Exception:
        hours = 12
    out = WorkList(now=now, transfer_hours=hours)
    cases = cases_visible(user).filter(investigation__state=InvestigationState.OPEN).order_by("investigation__due_at")
    for case in cases[:limit]:
        (out.overdue_investigations if case.investigation.due_at < now else out.open_investigations).append(case)
    contacts = contacts_visible(user)
    proposed = (contacts.filter(state=ContactState.PROPOSED).values_list("case_id").annotate(n=Count("id"))
                .order_by())
    counts = dict(proposed)
    out.to_decide = [(c, counts[c.id]) for c in Case.objects.filter(id__in=counts).select_related("person")
                     .order_by("reported_at")]
    out.uncontacted = list(contacts.filter(state=ContactState.IDENTIFIED).order_by("identified_at")[:limit])
    limit_at = now - dt.timedelta(hours=hours)
    out.transfer_overdue = list(contacts.filter(kind=ContactKind.CLOSE,
                                                state__in=[ContactState.IDENTIFIED, ContactState.NOTIFIED],
                                                identified_at__lt=limit_at).order_by("identified_at")[:limit])
    return out


def hours_since(value: dt.datetime, now: dt.datetime) -> float:
    return round((now - value).total_seconds() / 3600, 1)


def local(value: dt.datetime | None) -> dt.datetime | None:
    return timezone.localtime(value) if value else None
