from ninja import Router, Schema, Status

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, jurisdiction_path, require
from shouwang.areas.models import Area
from shouwang.areas.selectors import area_children_with_counts, area_search
from shouwang.areas.services import area_create
from shouwang.core.errors import NotFound
from shouwang.people.models import Person

router = Router(tags=["areas 区划与网格"])


class AreaOut(Schema):
    id: int
    code: str
    name: str
    level: str
    level_label: str
    grid_kind: str
    depth: int
    parent_id: int | None = None
    is_synthetic_code: bool


class AreaCountOut(AreaOut):
    people: int
    households: int
    has_children: bool


class AreaIn(Schema):
    parent_id: int
    level: str
    code: str
    name: str
    grid_kind: str = ""
    address: str = ""


def area_out(area: Area, **extra) -> dict:
    return {"id": area.id, "code": area.code, "name": area.name, "level": area.level,
            "level_label": area.get_level_display(), "grid_kind": area.grid_kind, "depth": area.depth,
            "is_synthetic_code": area.is_synthetic_code, **extra}


@router.get("/areas/root", response=AreaOut, summary="我的辖区 The caller's jurisdiction")
def jurisdiction_root(request):
    area = request.auth.jurisdiction
    if area is None:
        raise NotFound("区域", "area")
    return area_out(area)


@router.get("/areas/search", response=list[AreaOut], summary="搜索区域 Search areas")
def search_areas(request, q: str):
    return [area_out(a) for a in area_search(within_path=jurisdiction_path(request.auth), q=q)]


@router.get("/areas/{int:area_id}", response=AreaOut, summary="区域 One area")
def get_area(request, area_id: int):
    return area_out(area_visible(user=request.auth, area_id=area_id))


@router.get("/areas/{int:area_id}/children", response=list[AreaCountOut], summary="下级区域及人数 Children with counts")
def children(request, area_id: int):
    area = area_visible(user=request.auth, area_id=area_id)
    rows = area_children_with_counts(area=area, person_model=Person)
    return [area_out(r["area"], parent_id=area.id, people=r["people"], households=r["households"],
                     has_children=r["area"].numchild > 0) for r in rows]


@router.post("/areas", response={201: AreaOut}, summary="新建下级区域 Create a child area")
def create_area(request, payload: AreaIn):
    require(request.auth, Capability.AREA_EDIT, "维护区划", "edit areas")
    parent = area_visible(user=request.auth, area_id=payload.parent_id)
    area = area_create(parent=parent, level=payload.level, code=payload.code, name=payload.name,
                       grid_kind=payload.grid_kind, address=payload.address, actor=request.auth)
    return Status(201, area_out(area, parent_id=parent.id))
