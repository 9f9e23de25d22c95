"""Small reads the tracing pages need beside selectors.py: the exposures behind its
contacts, a case by its code and a person by ID number. Scoped like the selectors (not found and not yours
answer the same)."""

from __future__ import annotations

from collections import defaultdict

from shouwang.accounts.scoping import jurisdiction_path
from shouwang.core.errors import NotFound
from shouwang.people.models import Person
from shouwang.tracing.models import Case, ContactExposure


def exposures_by_contact(contact_ids, *, case_id: int | None = None) -> dict[int, list[ContactExposure]]:
    """Every exposure of these contacts (to this case only, when given), oldest first."""
    qs = (ContactExposure.objects.filter(contact_id__in=list(contact_ids))
          .select_related("case", "source_contact__person").order_by("recorded_at", "id"))
    if case_id is not None:
        qs = qs.filter(case_id=case_id)
    out: dict[int, list[ContactExposure]] = defaultdict(list)
    for e in qs:
        out[e.contact_id].append(e)
    return out


def case_by_code(user, code: str) -> Case:
    """A case of the user's jurisdiction by its code (BL20220714-001), case-insensitive."""
    case = (Case.objects.filter(code=(code or "").strip().upper(), area__path__startswith=jurisdiction_path(user))
            .select_related("area").first())
    if case is None:
        raise NotFound("病例", "case", field="code")
    return case


def person_by_id_number(id_number: str, *, user=None) -> Person:
    """The active person with this ID number: in the user's jurisdiction when a user is given (a case is reported
    where it lives), anywhere in the registry otherwise (a contact may live in another township)."""
    qs = Person.objects.active().filter(id_number=(id_number or "").strip().upper())
    if user is not None:
        qs = qs.within(jurisdiction_path(user))
    person = qs.select_related("area").order_by("id").first()
    if person is None:
        raise NotFound("人员", "person", field="id_number")
    return person
