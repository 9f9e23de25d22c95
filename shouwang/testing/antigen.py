"""Antigen results (抗原检测, protocol-rules §5.3): recorded next to PCR, never instead of it.

* `self`: a resident's self-test, reported to the community and recorded by its staff (a grid worker, the
  village or township, or a sampler): Capability.PERSON_EDIT or SAMPLE_RECORD.
* `staff`: a test done by staff (e.g. the antigen day of a high-risk zone, P9): Capability.SAMPLE_RECORD.

Either way the person must live in the actor's jurisdiction (else "not found"), the time is not more than 10 minutes
ahead of the clock (a phone's clock) nor more than 7 days old.

A positive result, of either kind, is a first-screen positive: the status fact kind "case", value
"first_screen_positive" (source "testing.antigen", source id = the result's id), which the policy's code rules make
red (V9: K1, "confirmed, asymptomatic, suspected or first-screen positive"; §9.1 lists antigen positives among the
first-screen positives). §5.3: the community is told at once and arranges the transfer to a hospital with a fever
clinic for PCR; the answer says so (next_step). The fact stays until that PCR clears the person (the follow-up,
in the tracing domain when it exists, withdraws it by its source and id). Negative and invalid results publish
nothing. Antigen results do not count as the periodic PCR test of key groups (keygroups.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import jurisdiction_path, require
from shouwang.core import clock
from shouwang.core.audit import audit_record
from shouwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from shouwang.core.models import AuditAction
from shouwang.people.models import Person
from shouwang.status.enums import FactKind
from shouwang.status.services import fact_publish
from shouwang.testing.enums import AntigenKind, Result
from shouwang.testing.models import AntigenResult

SOURCE = "testing.antigen"
CASE_VALUE = "first_screen_positive"
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
MAX_AGE = dt.timedelta(days=7)
RESULT_ZH = {Result.NEGATIVE: "阴性", Result.POSITIVE: "阳性", Result.INVALID: "无效"}

NEXT_STEP = {
    Result.POSITIVE: ("抗原阳性：立即报告社区（村），由社区安排经急救中心转运至设有发热门诊的医疗机构做核酸检测，"
                      "转运前原地等候、不外出",
                      "antigen positive: report to the community at once; it arranges the transfer (through the "
                      "emergency centre) to a hospital with a fever clinic for a PCR test; stay where you are until then"),
    Result.NEGATIVE: ("抗原阴性：无症状者继续观察；有发热等症状者到发热门诊就诊，不便就诊的居家隔离并连续5天每天抗原自测",
                      "antigen negative: without symptoms, keep observing; with fever or other symptoms, go to a fever "
                      "clinic, or if unable, isolate at home and self-test once a day for 5 days"),
    Result.INVALID: ("结果无效：请重新检测", "invalid result: test again"),
}


@dataclass(frozen=True)
class AntigenRecorded:
    result: AntigenResult
    created: bool  # False: the same result was already recorded (a form sent twice)
    published: bool  # a first-screen positive fact was published for it
    next_step_zh: str
    next_step_en: str


def _person_visible(user, person_id) -> Person:
    person = Person.objects.active().within(jurisdiction_path(user)).filter(id=person_id).first()
    if person is None:
        raise NotFound("人员", "person", field="person_id")
    return person


@transaction.atomic
def antigen_record(*, actor, person_id: int, result: str, kind: str, taken_at: dt.datetime) -> AntigenRecorded:
    """Record an antigen result; a positive one publishes the first-screen positive fact (red under V9's K1)."""
    if kind not in AntigenKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh="检测方式应为自测（self）或工作人员检测（staff）",
                               message_en="kind must be self or staff")
    if kind == AntigenKind.STAFF:
        require(actor, Capability.SAMPLE_RECORD, "登记工作人员抗原检测结果", "record antigen tests done by staff")
    elif actor is None or not actor.is_authenticated or not (actor.can(Capability.SAMPLE_RECORD)
                                                             or actor.can(Capability.PERSON_EDIT)):
        raise PermissionDenied("登记居民抗原自测结果", "record residents' antigen self-tests")
    if result not in Result.values:
        raise ValidationFailed(field="result", code="invalid_choice", message_zh="结果应为阴性、阳性或无效",
                               message_en="the result must be negative, positive or invalid")
    if not isinstance(taken_at, dt.datetime):
        raise ValidationFailed(field="taken_at", code="required", message_zh="请填写检测时间",
                               message_en="taken_at is required")
    if timezone.is_naive(taken_at):
        taken_at = timezone.make_aware(taken_at)
    now = clock.now()
    if taken_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed(field="taken_at", code="in_future", message_zh="检测时间不能晚于当前时间（允许误差10分钟）",
                               message_en="taken_at cannot be more than 10 minutes in the future")
    if taken_at < now - MAX_AGE:
        raise ValidationFailed(field="taken_at", code="too_old", message_zh="检测时间不能早于7天前",
                               message_en="taken_at cannot be more than 7 days ago")
    person = _person_visible(actor, person_id)
    zh, en = NEXT_STEP[Result(result)]
    same = AntigenResult.objects.filter(person=person, kind=kind, result=result, taken_at=taken_at).first()
    if same is not None:
        return AntigenRecorded(same, False, result == Result.POSITIVE, zh, en)
    record = AntigenResult.objects.create(person=person, kind=kind, result=result, taken_at=taken_at,
                                          recorded_by=actor)
    label = "自测" if kind == AntigenKind.SELF else "检测"
    when = timezone.localtime(taken_at)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=record,
                 summary=f"抗原{label}结果 {person.name}：{RESULT_ZH[Result(result)]}（{when:%Y-%m-%d %H:%M}）")
    published = result == Result.POSITIVE
    if published:
        fact_publish(person_ids=[person.id], kind=FactKind.CASE, value=CASE_VALUE, since=when.date(), until=None,
                     source=SOURCE, source_id=str(record.id),
                     note=f"抗原{label}阳性（{when:%m-%d %H:%M}），待转运核酸检测")
    return AntigenRecorded(record, True, published, zh, en)


def antigen_results(*, user, person_id: int, limit: int = 100) -> list[AntigenResult]:
    """A person's antigen results, newest first (a person outside the user's jurisdiction is "not found")."""
    require(user, Capability.PERSON_VIEW, "查看人员", "view people")
    person = _person_visible(user, person_id)
    return list(AntigenResult.objects.filter(person=person).select_related("recorded_by")
                .order_by("-taken_at", "-id")[:max(1, limit)])
