"""Small reads for the tracing API (shouwang/tracing/api.py) that selectors.py does not have: the audited open of a
case file, a case's transmission links in and out, contacts with their exposures in one query, and whether a user
may be assigned a case's investigation. Additive only; selectors.py and services.py are unchanged."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from shouwang.accounts.enums import Capability
from shouwang.accounts.models import User
from shouwang.accounts.scoping import require
from shouwang.core.audit import audit_record
from shouwang.core.models import AuditAction
from shouwang.tracing import selectors
from shouwang.tracing.models import Case, Contact, ContactExposure, Investigation


def case_file_open(*, actor, case_id: int, full: bool = False, ip_address: str = "") -> tuple[Case, bool]:
    """A case file, its read logged like a person file (people.services.person_file_open): `view`, or `view_full`
    when the full name, ID number and mobile are asked for by a role that may see them. Answers (case, show_full)."""
    require(actor, Capability.TRACING_VIEW, "查看病例", "view cases")
    case = selectors.case_visible(actor, case_id)
    show_full = full and actor.can(Capability.PERSON_VIEW_FULL)
    audit_record(actor=actor, action=AuditAction.VIEW_FULL if show_full else AuditAction.VIEW, obj=case,
                 summary=f"查看病例 {case.code}", ip_address=ip_address)
    return case, show_full


def investigation_of(case: Case) -> Investigation | None:
    try:
        return case.investigation
    except Investigation.DoesNotExist:
        return None


def with_exposures(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """Contacts with every exposure (and the case of each) fetched in one more query."""
    exposures = ContactExposure.objects.select_related("case").order_by("last_exposure", "id")
    return contacts.prefetch_related(Prefetch("exposures", queryset=exposures))


def assignee_problem(case: Case, user_id: int) -> str | None:
    """Why this user cannot be given the case's investigation (None when they can): an active user who may
    investigate and whose jurisdiction holds the case (so they can open it)."""
    user = User.objects.filter(id=user_id, is_active=True).select_related("jurisdiction").first()
    if user is None:
        return "unknown"
    if not user.can(Capability.TRACE):
        return "cannot_trace"
    if user.jurisdiction is None or not case.area.path.startswith(user.jurisdiction.path):
        return "outside"
    return None
