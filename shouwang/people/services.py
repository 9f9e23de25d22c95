"""Writes to the person registry: validated at the edge, atomic, audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, require
from shouwang.areas.enums import AreaLevel
from shouwang.areas.models import Area, Household
from shouwang.core.audit import audit_record, diff, snapshot
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.people.enums import IdType, PersonTag, ResidenceKind, Sex
from shouwang.people.identifiers import normalize_mobile, parse_resident_id
from shouwang.people.models import Person, PersonTagging, VaccinationDose
from shouwang.people.selectors import person_get_any_visible, person_get_visible

# Levels a person's residence may be attached to.
RESIDENCE_LEVELS = {AreaLevel.GRID, AreaLevel.MICRO_GRID, AreaLevel.COMPOUND, AreaLevel.BUILDING, AreaLevel.UNIT}
AUDITED_FIELDS = [
    "name", "id_type", "id_number", "sex", "birth_date", "mobile", "area", "household", "relation_to_head",
    "residence_kind", "current_address", "workplace", "notes",
]


@dataclass
class PersonInput:
    name: str
    id_number: str
    area_id: int
    id_type: str = IdType.RESIDENT_ID
    mobile: str = ""
    sex: str = ""
    birth_date: dt.date | None = None
    household_id: int | None = None
    relation_to_head: str = ""
    residence_kind: str = ResidenceKind.REGISTERED
    current_address: str = ""
    workplace: str = ""
    notes: str = ""
    tags: list[str] = field(default_factory=list)


def _choice(value: str, choices, field_name: str, what_zh: str, what_en: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(field=field_name, code="invalid_choice",
                               message_zh=f"{what_zh}“{value}”不是可选值", message_en=f"{what_en} '{value}' is not allowed")
    return value


def clean_identity(*, name: str, id_type: str, id_number: str, mobile: str, sex: str = "",
                   birth_date: dt.date | None = None) -> dict:
    """Validate name, document and mobile; derive sex and birth date from a resident ID."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(field="name", code="required", message_zh="姓名不能为空", message_en="name is required")
    if len(name) > 50:
        raise ValidationFailed(field="name", code="too_long", message_zh="姓名不能超过50个字",
                               message_en="name must be at most 50 characters")
    _choice(id_type, IdType, "id_type", "证件类型", "ID type")
    number = (id_number or "").strip().upper()
    if id_type == IdType.RESIDENT_ID:
        rid = parse_resident_id(number)
        sex, birth_date = rid.sex, rid.birth_date
    else:
        if not number:
            raise ValidationFailed(field="id_number", code="required", message_zh="证件号码不能为空",
                                   message_en="document number is required")
        if len(number) > 30 or not number.replace("-", "").isalnum():
            raise ValidationFailed(field="id_number", code="id_number_format",
                                   message_zh="证件号码只能包含字母和数字，最长30位",
                                   message_en="document number may hold only letters and digits, at most 30")
        sex = _choice(sex or Sex.UNKNOWN, Sex, "sex", "性别", "sex")
    mobile = normalize_mobile(mobile) if (mobile or "").strip() else ""
    return {"name": name, "id_type": id_type, "id_number": number, "mobile": mobile, "sex": sex,
            "birth_date": birth_date}


def _residence(*, user, area_id: int, household_id: int | None) -> tuple[Area, Household | None]:
    area = area_visible(user=user, area_id=area_id)
    if area.level not in RESIDENCE_LEVELS:
        raise ValidationFailed(field="area_id", code="area_level",
                               message_zh="人员应归属到网格、小区、楼栋或单元",
                               message_en="a person belongs to a grid, compound, building or unit")
    household = None
    if household_id:
        household = Household.objects.select_related("area").filter(id=household_id).first()
        if household is None or not area.contains(household.area) and not household.area.contains(area):
            raise ValidationFailed(field="household_id", code="household_area",
                                   message_zh="户不在所选区域内", message_en="household is not in the chosen area")
    return area, household


def _clean_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        _choice(tag, PersonTag, "tags", "标签", "tag")
    return sorted(set(tags))


def _duplicate_error(existing: Person | None) -> DomainError:
    return DomainError(code="person_exists", status=409, field="id_number",
                       message_zh="该证件号码已登记（一人一档），请在原档案上修改",
                       message_en="this document number is already registered (one file per person)",
                       details=[{"person_id": existing.id}] if existing else [])


@transaction.atomic
def person_create(*, data: PersonInput, actor, ip_address: str = "") -> Person:
    require(actor, Capability.PERSON_EDIT, "登记人员", "register people")
    ident = clean_identity(name=data.name, id_type=data.id_type, id_number=data.id_number, mobile=data.mobile,
                           sex=data.sex, birth_date=data.birth_date)
    area, household = _residence(user=actor, area_id=data.area_id, household_id=data.household_id)
    _choice(data.residence_kind, ResidenceKind, "residence_kind", "人口类别", "residence kind")
    tags = _clean_tags(data.tags)
    existing = Person.objects.filter(id_type=ident["id_type"], id_number=ident["id_number"]).first()
    if existing is not None:
        try:
            visible = person_get_any_visible(user=actor, person_id=existing.id)
        except DomainError:
            visible = None
        raise _duplicate_error(visible)
    person = Person(
        **ident, area=area, household=household, relation_to_head=data.relation_to_head.strip(),
        residence_kind=data.residence_kind, current_address=data.current_address.strip(),
        workplace=data.workplace.strip(), notes=data.notes.strip(),
    )
    person._history_user = actor
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError:
        raise _duplicate_error(None) from None
    PersonTagging.objects.bulk_create([PersonTagging(person=person, tag=t) for t in tags])
    audit_record(actor=actor, action=AuditAction.CREATE, obj=person, summary=f"登记人员 {person.name}",
                 changes={k: [None, v] for k, v in snapshot(person, AUDITED_FIELDS).items() if v not in ("", None)},
                 ip_address=ip_address)
    return person


@transaction.atomic
def person_update(*, person_id: int, changes: dict, actor, ip_address: str = "") -> Person:
    """Apply a partial update; identity fields are re-validated together."""
    require(actor, Capability.PERSON_EDIT, "修改人员", "change people")
    person = person_get_visible(user=actor, person_id=person_id)
    before = snapshot(person, AUDITED_FIELDS)
    before_tags = sorted(t.tag for t in person.tags.all())
    if {"name", "id_type", "id_number", "mobile", "sex"} & changes.keys():
        ident = clean_identity(
            name=changes.get("name", person.name), id_type=changes.get("id_type", person.id_type),
            id_number=changes.get("id_number", person.id_number), mobile=changes.get("mobile", person.mobile),
            sex=changes.get("sex", person.sex),
        )
        clash = Person.objects.filter(id_type=ident["id_type"], id_number=ident["id_number"]).exclude(id=person.id)
        if clash.exists():
            raise _duplicate_error(None)
        for key, value in ident.items():
            setattr(person, key, value)
    if "area_id" in changes or "household_id" in changes:
        area, household = _residence(user=actor, area_id=changes.get("area_id", person.area_id),
                                     household_id=changes.get("household_id", person.household_id))
        person.area, person.household = area, household
    if "residence_kind" in changes:
        person.residence_kind = _choice(changes["residence_kind"], ResidenceKind, "residence_kind", "人口类别",
                                        "residence kind")
    for key in ("relation_to_head", "current_address", "workplace", "notes"):
        if key in changes:
            setattr(person, key, (changes[key] or "").strip())
    after = snapshot(person, AUDITED_FIELDS)
    changed = diff(before, after)
    if "tags" in changes:
        tags = _clean_tags(changes["tags"])
        if tags != before_tags:
            PersonTagging.objects.filter(person=person).delete()
            PersonTagging.objects.bulk_create([PersonTagging(person=person, tag=t) for t in tags])
            changed["tags"] = [before_tags, tags]
    if changed:
        person._history_user = actor
        person.save()
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=person, summary=f"修改人员 {person.name}",
                     changes=changed, ip_address=ip_address)
    return person


def person_file_open(*, person_id: int, actor, full: bool = False, ip_address: str = "") -> Person:
    """Return a person's file and log the read; full identifiers only for roles that may see them."""
    person = person_get_visible(user=actor, person_id=person_id)
    show_full = full and actor.can(Capability.PERSON_VIEW_FULL)
    audit_record(actor=actor, action=AuditAction.VIEW_FULL if show_full else AuditAction.VIEW, obj=person,
                 summary=f"查看档案 {person.name}", ip_address=ip_address)
    person.show_full = show_full
    return person


@transaction.atomic
def vaccination_record(*, person_id: int, dose_number: int, given_on: dt.date, product: str, actor) -> VaccinationDose:
    require(actor, Capability.PERSON_EDIT, "登记接种", "record vaccinations")
    person = person_get_visible(user=actor, person_id=person_id)
    if not 1 <= dose_number <= 6:
        raise ValidationFailed(field="dose_number", code="out_of_range", message_zh="剂次应在1到6之间",
                               message_en="dose number must be between 1 and 6")
    dose, _ = VaccinationDose.objects.update_or_create(
        person=person, dose_number=dose_number, defaults={"given_on": given_on, "product": product.strip()}
    )
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=person, summary=f"登记第{dose_number}剂疫苗",
                 changes={"vaccination": [None, {"dose": dose_number, "given_on": given_on.isoformat()}]})
    return dose


def _person_relations():
    """Every foreign key that points at Person, in any domain, except history and the merge link itself."""
    for rel in Person._meta.related_objects:
        if rel.one_to_many and rel.field.name != "merged_into" and not rel.related_model.__name__.startswith(
            "Historical"
        ):
            yield rel


@transaction.atomic
def person_merge(*, keep_id: int, merge_id: int, actor, ip_address: str = "") -> Person:
    """Merge a duplicate into the kept file: every linked record moves over; the duplicate stays as history."""
    require(actor, Capability.PERSON_MERGE, "合并人员", "merge people")
    if keep_id == merge_id:
        raise ValidationFailed(field="merge_id", code="same_person", message_zh="不能把档案合并到自身",
                               message_en="a file cannot be merged into itself")
    keep = person_get_visible(user=actor, person_id=keep_id)
    dup = person_get_visible(user=actor, person_id=merge_id)
    moved: dict[str, int] = {}
    kept_tags = set(keep.tags.values_list("tag", flat=True))
    kept_doses = set(keep.vaccinations.values_list("dose_number", flat=True))
    for rel in _person_relations():
        model, fk = rel.related_model, rel.field.name
        qs = model.objects.filter(**{fk: dup})
        if model is PersonTagging:
            qs.filter(tag__in=kept_tags).delete()
        elif model is VaccinationDose:
            qs.filter(dose_number__in=kept_doses).delete()
        # A domain may say how its rows follow a merge (the append-only scan log stays where it is).
        hook = getattr(model, "merge_person", None)
        count = hook(dup, keep) if hook is not None else qs.update(**{fk: keep})
        if count:
            moved[model._meta.label_lower] = count
    filled = {}
    for key in ("mobile", "current_address", "workplace", "household"):
        if not getattr(keep, key) and getattr(dup, key):
            setattr(keep, key, getattr(dup, key))
            filled[key] = str(getattr(dup, key))
    if filled:
        keep._history_user = actor
        keep.save()
    dup.merged_into = keep
    dup._history_user = actor
    dup.save(update_fields=["merged_into", "updated_at"])
    audit_record(actor=actor, action=AuditAction.MERGE, obj=keep,
                 summary=f"合并档案 {dup.name}（{dup.id}）到 {keep.name}（{keep.id}）",
                 changes={"merged_person_id": [None, dup.id], "moved": [None, moved], "filled": [None, filled]},
                 ip_address=ip_address)
    return keep
