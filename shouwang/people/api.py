import datetime as dt

from ninja import Field, Query, Router, Schema, Status

from shouwang.core.idempotency import idempotent
from shouwang.people.selectors import (
    PersonFilter,
    area_chain,
    person_duplicates,
    person_row,
    person_search,
    person_tags,
)
from shouwang.people.services import (
    PersonInput,
    person_create,
    person_file_open,
    person_merge,
    person_update,
    vaccination_record,
)

router = Router(tags=["people 人员档案"])


class PersonRowOut(Schema):
    id: int
    name: str
    id_type: str
    id_number: str
    sex: str
    birth_date: dt.date | None
    mobile: str
    area_id: int
    area_name: str
    current_address: str


class PersonPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[PersonRowOut]


class VaccinationOut(Schema):
    dose_number: int
    given_on: dt.date
    product: str


class PersonOut(PersonRowOut):
    household_id: int | None
    household_room: str | None
    relation_to_head: str
    residence_kind: str
    workplace: str
    notes: str
    tags: list[str]
    vaccinations: list[VaccinationOut]
    area_path: list[str]
    merged_into_id: int | None
    identifiers_masked: bool


class PersonIn(Schema):
    name: str
    id_type: str = "resident_id"
    id_number: str
    mobile: str = ""
    sex: str = ""
    area_id: int
    household_id: int | None = None
    relation_to_head: str = ""
    residence_kind: str = "registered"
    current_address: str = ""
    workplace: str = ""
    notes: str = ""
    tags: list[str] = Field(default_factory=list)


class PersonPatch(Schema):
    name: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    mobile: str | None = None
    sex: str | None = None
    area_id: int | None = None
    household_id: int | None = None
    relation_to_head: str | None = None
    residence_kind: str | None = None
    current_address: str | None = None
    workplace: str | None = None
    notes: str | None = None
    tags: list[str] | None = None


class MergeIn(Schema):
    keep_id: int
    merge_id: int


class VaccinationIn(Schema):
    dose_number: int
    given_on: dt.date
    product: str = ""


class SearchParams(Schema):
    q: str = ""
    area_id: int | None = None
    tag: str = ""
    address: str = ""
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=200)


def person_out(person, *, full: bool) -> dict:
    row = person_row(person, full=full)
    return {
        **row,
        "household_id": person.household_id,
        "household_room": person.household.room if person.household_id else None,
        "relation_to_head": person.relation_to_head,
        "residence_kind": person.residence_kind,
        "workplace": person.workplace,
        "notes": person.notes,
        "tags": person_tags(person),
        "vaccinations": [
            {"dose_number": v.dose_number, "given_on": v.given_on, "product": v.product}
            for v in person.vaccinations.all()
        ],
        "area_path": [a.name for a in area_chain(person.area)],
        "merged_into_id": person.merged_into_id,
        "identifiers_masked": not full,
    }


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


@router.get("/people", response=PersonPage, summary="查找人员 Search people (identifiers masked)")
def search_people(request, params: Query[SearchParams]):
    filters = PersonFilter(q=params.q, area_id=params.area_id, tag=params.tag, address=params.address)
    qs = person_search(user=request.auth, filters=filters)
    start = (params.page - 1) * params.page_size
    items = list(qs[start : start + params.page_size])
    return {"count": qs.count(), "page": params.page, "page_size": params.page_size,
            "items": [person_row(p, full=False) for p in items]}


@router.post("/people", response={201: PersonOut, 200: PersonOut}, summary="登记人员 Register a person")
def create_person(request, payload: PersonIn):
    def produce():
        person = person_create(data=PersonInput(**payload.dict()), actor=request.auth, ip_address=_ip(request))
        person = person_file_open(person_id=person.id, actor=request.auth, full=False)
        return 201, PersonOut.model_validate(person_out(person, full=False)).model_dump(mode="json")

    return Status(*idempotent(request, produce))


@router.get("/people/{int:person_id}", response=PersonOut, summary="人员档案 A person's file (read is audited)")
def get_person(request, person_id: int, full: bool = False):
    person = person_file_open(person_id=person_id, actor=request.auth, full=full, ip_address=_ip(request))
    return person_out(person, full=person.show_full)


@router.patch("/people/{int:person_id}", response=PersonOut, summary="修改人员 Update a person")
def update_person(request, person_id: int, payload: PersonPatch):
    changes = payload.dict(exclude_unset=True)
    person_update(person_id=person_id, changes=changes, actor=request.auth, ip_address=_ip(request))
    person = person_file_open(person_id=person_id, actor=request.auth, full=False)
    return person_out(person, full=False)


@router.get("/people/{int:person_id}/duplicates", response=list[PersonRowOut], summary="疑似重复 Likely duplicates")
def duplicates(request, person_id: int):
    person = person_file_open(person_id=person_id, actor=request.auth)
    return [person_row(p, full=False) for p in person_duplicates(user=request.auth, person=person)]


@router.post("/people/merge", response=PersonOut, summary="合并重复档案 Merge a duplicate into a file")
def merge_people(request, payload: MergeIn):
    person_merge(keep_id=payload.keep_id, merge_id=payload.merge_id, actor=request.auth, ip_address=_ip(request))
    person = person_file_open(person_id=payload.keep_id, actor=request.auth)
    return person_out(person, full=False)


@router.post("/people/{int:person_id}/vaccinations", response={201: VaccinationOut}, summary="登记接种 Record a dose")
def add_vaccination(request, person_id: int, payload: VaccinationIn):
    dose = vaccination_record(person_id=person_id, dose_number=payload.dose_number, given_on=payload.given_on,
                              product=payload.product, actor=request.auth)
    return Status(201, {"dose_number": dose.dose_number, "given_on": dose.given_on, "product": dose.product})


