"""Reads of the person registry; every one is scoped to the user's jurisdiction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area, subtree_range
from shouwang.core.errors import NotFound
from shouwang.core.masking import mask_id_number, mask_mobile
from shouwang.people.models import Person, PersonTagging

_ID_LIKE = re.compile(r"^(\d{15}|\d{17}[\dXx])$")
_MOBILE_LIKE = re.compile(r"^1\d{10}$")
_CJK = re.compile(r"[\u3400-\u9fff]")
# Highest code point in the Basic Multilingual Plane: the open end of a name-prefix range.
_PREFIX_END = "\uffff"


@dataclass(frozen=True)
class PersonFilter:
    q: str = ""
    area_id: int | None = None
    tag: str = ""
    address: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None)}


def people_visible_to(user) -> QuerySet[Person]:
    """Every active person in the user's jurisdiction."""
    require(user, Capability.PERSON_VIEW, "查看人员", "view people")
    return Person.objects.active().within(jurisdiction_path(user))


def person_search(*, user, filters: PersonFilter) -> QuerySet[Person]:
    """Search by name (prefix), ID number, mobile, compound/building name or address, within jurisdiction."""
    qs = people_visible_to(user)
    q = filters.q.strip()
    if q:
        if _ID_LIKE.match(q):
            qs = qs.filter(id_number=q.upper())
        elif _MOBILE_LIKE.match(q):
            qs = qs.filter(mobile=q)
        elif _CJK.search(q):
            # Name prefix as a range so the index serves it; or people living in a compound/building so named.
            # Only compounds and buildings: a village or township is chosen with the area filter, so "王" does not
            # answer everyone in 北王乡.
            named_areas = Area.objects.subtree(jurisdiction_path(user)).filter(
                name__contains=q, level__in=[AreaLevel.COMPOUND, AreaLevel.BUILDING])
            area_paths = list(named_areas.values_list("path", flat=True)[:20])
            by_name = Q(name__gte=q, name__lt=q + _PREFIX_END)
            if area_paths:
                # The named areas lie inside the jurisdiction already, so that side of the OR needs no jurisdiction
                # test: each side then has its own index ((area, name) and area) and SQLite answers with a
                # multi-index OR instead of reading everyone in the county.
                ranges = Q()
                for path in area_paths:
                    ranges |= Q(path__range=subtree_range(path))
                ids = list(Area.objects.filter(ranges).values_list("id", flat=True))
                inside = Q(area__in=Area.objects.subtree(jurisdiction_path(user)).values("id"))
                qs = Person.objects.active().filter((inside & by_name) | Q(area_id__in=ids))
            else:
                qs = qs.filter(by_name)
        else:
            qs = qs.filter(Q(id_number=q.upper()) | Q(mobile=q) | Q(name=q))
    if filters.area_id:
        try:
            area = Area.objects.subtree(jurisdiction_path(user)).get(id=filters.area_id)
        except Area.DoesNotExist:
            raise NotFound("区域", "area", field="area_id") from None
        qs = qs.filter(area__in=Area.objects.subtree(area.path).values("id"))
    if filters.tag:
        qs = qs.filter(id__in=PersonTagging.objects.filter(tag=filters.tag).values("person_id"))
    if filters.address.strip():
        qs = qs.filter(current_address__contains=filters.address.strip())
    return qs.select_related("area").order_by("name", "id")


def person_get_visible(*, user, person_id: int) -> Person:
    """Return the person if visible to the user; "not found" and "not yours" answer the same."""
    person = (
        people_visible_to(user)
        .select_related("area", "household", "household__area")
        .prefetch_related("tags", Prefetch("vaccinations"))
        .filter(id=person_id)
        .first()
    )
    if person is None:
        raise NotFound("人员", "person", field="person_id")
    return person


def person_get_any_visible(*, user, person_id: int) -> Person:
    """Like person_get_visible, but also a person merged into another (to follow the link)."""
    require(user, Capability.PERSON_VIEW, "查看人员", "view people")
    person = Person.objects.within(jurisdiction_path(user)).filter(id=person_id).first()
    if person is None:
        raise NotFound("人员", "person", field="person_id")
    return person


def area_chain(area: Area) -> list[Area]:
    """The area and its ancestors, top first, in one query."""
    paths = Area.ancestor_paths(area.path)
    return list(Area.objects.filter(path__in=paths).order_by("depth"))


def person_row(person: Person, *, full: bool) -> dict:
    """The list row of a person: identifiers masked unless full."""
    return {
        "id": person.id,
        "name": person.name,
        "id_type": person.id_type,
        "id_number": person.id_number if full else mask_id_number(person.id_number),
        "sex": person.sex,
        "birth_date": person.birth_date,
        "mobile": person.mobile if full else mask_mobile(person.mobile),
        "area_id": person.area_id,
        "area_name": person.area.name,
        "current_address": person.current_address,
    }


def person_duplicates(*, user, person: Person) -> QuerySet[Person]:
    """Likely duplicates: same name and mobile, or same name and birth date in the same household."""
    cond = Q(pk__in=[])
    if person.mobile:
        cond |= Q(name=person.name, mobile=person.mobile)
    if person.birth_date and person.household_id:
        cond |= Q(name=person.name, birth_date=person.birth_date, household_id=person.household_id)
    return people_visible_to(user).filter(cond).exclude(id=person.id).select_related("area")


def person_tags(person: Person) -> list[str]:
    return sorted(t.tag for t in person.tags.all())


def people_with_tags(*, user, tags, limit: int = 20) -> list[tuple[Person, list[str]]]:
    """People in the jurisdiction carrying any of the tags, with their matching tags, oldest first."""
    qs = people_visible_to(user).filter(
        id__in=PersonTagging.objects.filter(tag__in=tags).values("person_id")
    ).select_related("area", "household").order_by("birth_date", "id")[:limit]
    people = list(qs)
    found: dict[int, list[str]] = {}
    for person_id, tag in PersonTagging.objects.filter(person_id__in=[p.id for p in people], tag__in=tags) \
            .values_list("person_id", "tag"):
        found.setdefault(person_id, []).append(tag)
    return [(p, sorted(found.get(p.id, []))) for p in people]
