"""/api/v1/testing/… (second router): antigen results, key-group people overdue for their periodic test, and the
planning aid (pool size and round duration)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from ninja import Router, Schema

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, require
from shouwang.core import clock
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.core.idempotency import idempotent
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.people.enums import PersonTag
from shouwang.status.services import status_get
from shouwang.testing import planning
from shouwang.testing.antigen import SOURCE as ANTIGEN_SOURCE
from shouwang.testing.antigen import antigen_record, antigen_results
from shouwang.testing.keygroups import overdue_key_persons

router = Router(tags=["testing 核酸检测"])


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


# ---- antigen results ---------------------------------------------------------------------------------------------


class AntigenIn(Schema):
    person_id: int
    result: str
    kind: str
    taken_at: dt.datetime


class StatusOut(Schema):
    colour: str
    rule: str
    reason_zh: str
    reason_en: str


class AntigenOut(Schema):
    id: int
    person_id: int
    kind: str
    result: str
    taken_at: str
    created: bool
    published: dict | None
    status: StatusOut
    next_step_zh: str
    next_step_en: str


@router.post("/testing/antigen", response={200: AntigenOut, 201: AntigenOut},
             summary="登记抗原结果 Record an antigen result (self-test or by staff); a positive one is a first-screen "
                     "positive (red) to be sent for PCR")
def record_antigen(request, payload: AntigenIn):
    def produce():
        done = antigen_record(actor=request.auth, person_id=payload.person_id, result=payload.result,
                              kind=payload.kind, taken_at=payload.taken_at)
        r = done.result
        view = status_get(r.person_id)
        published = {"kind": "case", "value": "first_screen_positive", "source": ANTIGEN_SOURCE,
                     "source_id": str(r.id)} if done.published else None
        return (201 if done.created else 200), {
            "id": r.id, "person_id": r.person_id, "kind": r.kind, "result": r.result, "taken_at": _iso(r.taken_at),
            "created": done.created, "published": published,
            "status": {"colour": view.colour, "rule": view.rule, "reason_zh": view.reason_zh,
                       "reason_en": view.reason_en},
            "next_step_zh": done.next_step_zh, "next_step_en": done.next_step_en}

    return idempotent(request, produce)


class AntigenRow(Schema):
    id: int
    kind: str
    result: str
    taken_at: str
    recorded_at: str
    recorded_by: str | None


@router.get("/testing/antigen", response=list[AntigenRow], summary="抗原结果 A person's antigen results, newest first")
def person_antigen(request, person_id: int, limit: int = 100):
    rows = antigen_results(user=request.auth, person_id=person_id, limit=min(limit, 1000))
    return [{"id": r.id, "kind": r.kind, "result": r.result, "taken_at": _iso(r.taken_at),
             "recorded_at": _iso(r.created_at), "recorded_by": r.recorded_by.username if r.recorded_by else None}
            for r in rows]


# ---- key groups overdue --------------------------------------------------------------------------------------------


class OverdueRow(Schema):
    person_id: int
    name: str
    id_number: str
    area_id: int
    area: str
    tag: str
    tag_label: str
    tags: list[str]
    category: str
    rule: str
    every_days: int
    policy_version: str
    last_test: str | None
    due_on: str | None
    days_overdue: int | None
    reason_zh: str
    reason_en: str


class OverdueOut(Schema):
    on: str
    area_id: int
    total: int
    rows: list[OverdueRow]


@router.get("/testing/key-persons/overdue", response=OverdueOut,
            summary="重点人群逾期未检 Key-group people overdue for their periodic PCR test (masked), never tested "
                    "first, then the most days overdue")
def key_persons_overdue(request, area_id: int | None = None, on: dt.date | None = None, limit: int = 500):
    require(request.auth, Capability.TESTING_VIEW, "查看重点人群检测情况", "view key-group testing")
    area = area_visible(user=request.auth, area_id=area_id or request.auth.jurisdiction_id)
    day = on or clock.today()
    people = overdue_key_persons(day, area.path)
    rows = [{"person_id": p.person_id, "name": mask_name(p.name), "id_number": mask_id_number(p.id_number),
             "area_id": p.area_id, "area": p.area_name, "tag": p.tag, "tag_label": str(PersonTag(p.tag).label),
             "tags": list(p.tags), "category": p.requirement.category, "rule": p.requirement.rule,
             "every_days": p.requirement.every_days, "policy_version": p.requirement.policy_version,
             "last_test": _iso(p.last_test), "due_on": p.due_on.isoformat() if p.due_on else None,
             "days_overdue": p.days_overdue, "reason_zh": p.reason_zh, "reason_en": p.reason_en}
            for p in people[:max(1, min(limit, 5000))]]
    return {"on": day.isoformat(), "area_id": area.id, "total": len(people), "rows": rows}


# ---- planning aid -------------------------------------------------------------------------------------------------

POOL_LABELS = planning.POOL_LABELS  # the names and formulas live with the planner (the planning page shows them too)
FORMULAS = planning.FORMULAS


class PoolRow(Schema):
    pool_size: int
    label_zh: str
    label_en: str
    tests_per_person: float
    best: bool


class RoundOut(Schema):
    people: int
    sampling_per_hour: int
    pool_size: int
    lab_tubes_per_day: int
    positivity: float
    sampling_hours: float
    tubes: int
    lab_hours: float
    positive_pools: int
    rechecks: int
    total_hours: float
    target_hours: int
    meets_24h: bool
    bottleneck: str
    reason_zh: str
    reason_en: str


class PlanOut(Schema):
    positivity: float
    best_pool_size: int
    tests_per_person: float
    reason_zh: str
    reason_en: str
    max_pool_size: int
    table: list[PoolRow]
    round: RoundOut | None
    formulas: list[dict]


@router.get("/testing/plan", response=PlanOut,
            summary="规划辅助 Planning aid: the pool size with the fewest tests at a positivity, and whether a round "
                    "finishes within 24 h")
def plan(request, positivity: float, people: int | None = None, sampling_per_hour: int | None = None,
         lab_tubes_per_day: int | None = None, pool_size: int | None = None):
    require(request.auth, Capability.TESTING_VIEW, "查看检测规划", "view testing plans")
    try:
        answer = planning.plan(positivity, people=people, sampling_per_hour=sampling_per_hour,
                               lab_tubes_per_day=lab_tubes_per_day, pool_size=pool_size)
    except planning.PlanInputError as exc:
        raise ValidationFailed(field=exc.field, code=exc.code, message_zh=exc.message_zh,
                               message_en=exc.message_en) from None
    except ValueError as exc:  # the checks above should have caught it; keep the planner's own words
        raise DomainError(code="invalid", status=422, field=None, message_zh=f"参数不合法：{exc}",
                          message_en=str(exc)) from None
    advice, estimate = answer.advice, answer.estimate
    table = [{"pool_size": r.size, "label_zh": r.label_zh, "label_en": r.label_en,
              "tests_per_person": r.tests_per_person, "best": r.best} for r in answer.rows]
    round_ = None
    if estimate is not None:
        round_ = {k: getattr(estimate, k) for k in RoundOut.model_fields if k != "target_hours"}
        round_["target_hours"] = planning.TARGET_HOURS
    return {"positivity": positivity, "best_pool_size": advice.size, "tests_per_person": advice.tests_per_person,
            "reason_zh": advice.reason_zh, "reason_en": advice.reason_en, "max_pool_size": planning.MAX_POOL_SIZE,
            "table": table, "round": round_, "formulas": [{"zh": zh, "en": en} for zh, en in FORMULAS]}
