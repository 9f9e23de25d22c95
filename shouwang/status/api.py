"""/api/v1/people/{id}/status: a person's colour with every reason and the day it is expected to change."""

from ninja import Router

from shouwang.people.selectors import person_get_visible
from shouwang.status.services import status_get

router = Router(tags=["status 健康状态"])


@router.get("/people/{int:person_id}/status", summary="健康状态 A person's status with its reasons")
def person_status(request, person_id: int):
    person = person_get_visible(user=request.auth, person_id=person_id)
    return {"person_id": person.id, **status_get(person.id).as_dict()}
