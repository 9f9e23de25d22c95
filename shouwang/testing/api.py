"""/api/v1/testing/…: rounds, sites, labs, the sampler's tubes, transport boxes, lab results (staged, reviewed,
corrected), coverage and the people not sampled yet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from ninja import File, Router, Schema
from ninja.files import UploadedFile

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import area_visible, require
from shouwang.core.idempotency import idempotent
from shouwang.core.masking import mask_id_number, mask_name
from shouwang.testing import selectors
from shouwang.testing.models import Lab, LabResultFile, SamplingSite
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    batch_receive,
    exemption_add,
    lab_create,
    result_correct,
    results_review,
    results_stage,
    round_create,
    round_set_state,
    round_visible,
    site_create,
    tube_close,
    tube_fill,
    tube_member_remove,
)

router = Router(tags=["testing 核酸检测"])


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


# ---- rounds ------------------------------------------------------------------------------------------------------


class RoundIn(Schema):
    name: str
    area_ids: list[int]
    starts_at: dt.datetime
    deadline: dt.datetime
    kind: str = "area"
    settings: dict[int, str] = {}


class RoundAreaOut(Schema):
    area_id: int
    area_name: str
    setting: str
    pool_mode: str
    rule: str
    reason_zh: str
    reason_en: str


class RoundOut(Schema):
    id: int
    name: str
    kind: str
    state: str
    starts_at: str
    deadline: str
    policy_version: str
    target: int
    areas: list[RoundAreaOut]
    progress: dict[str, Any] | None = None


def round_out(round_, *, progress: bool = False) -> dict:
    out = {"id": round_.id, "name": round_.name, "kind": round_.kind, "state": round_.state,
           "starts_at": _iso(round_.starts_at), "deadline": _iso(round_.deadline),
           "policy_version": round_.policy_version, "target": round_.target,
           "areas": [{"area_id": ra.area_id, "area_name": ra.area.name, "setting": ra.setting,
                      "pool_mode": ra.pool_mode, "rule": ra.rule, "reason_zh": ra.reason_zh, "reason_en": ra.reason_en}
                     for ra in round_.areas.select_related("area").order_by("area__path")]}
    if progress:
        p = selectors.round_progress(round_)
        out["progress"] = {"tubes": p["tubes"], "people": p["people"], "rechecks": p["rechecks"],
                           "sampled": p["sampled"], "first_sample": _iso(p["first_sample"])}
    return out


@router.get("/testing/rounds", response=list[RoundOut], summary="检测轮次 Testing rounds in your jurisdiction")
def rounds(request):
    require(request.auth, Capability.TESTING_VIEW, "查看检测进度", "view testing progress")
    return [round_out(r) for r in selectors.rounds_visible(request.auth)]


@router.post("/testing/rounds", response={201: RoundOut}, summary="新建检测轮次 Create a round (pooling per area "
                                                                  "from the policy)")
def create_round(request, payload: RoundIn):
    round_ = round_create(actor=request.auth, data=RoundInput(
        name=payload.name, area_ids=payload.area_ids, starts_at=payload.starts_at, deadline=payload.deadline,
        kind=payload.kind, settings=payload.settings))
    return 201, round_out(round_)


@router.get("/testing/rounds/{int:round_id}", response=RoundOut, summary="轮次进度 A round and its progress")
def round_detail(request, round_id: int):
    require(request.auth, Capability.TESTING_VIEW, "查看检测进度", "view testing progress")
    return round_out(round_visible(user=request.auth, round_id=round_id), progress=True)


class StateIn(Schema):
    state: str


@router.post("/testing/rounds/{int:round_id}/state", response=RoundOut, summary="开始、结束或取消轮次 Change state")
def round_state(request, round_id: int, payload: StateIn):
    return round_out(round_set_state(actor=request.auth, round_id=round_id, state=payload.state))


class ExemptionIn(Schema):
    person_id: int
    reason: str
    note: str = ""


@router.post("/testing/rounds/{int:round_id}/exemptions", response={201: dict},
             summary="登记免检或上门采样 Record an exemption (away, infant …) or door-to-door sampling")
def add_exemption(request, round_id: int, payload: ExemptionIn):
    e = exemption_add(actor=request.auth, round_id=round_id, person_id=payload.person_id, reason=payload.reason,
                      note=payload.note)
    return 201, {"id": e.id, "person_id": e.person_id, "reason": e.reason}


class CoverageRow(Schema):
    area_id: int
    area_name: str
    level: str
    target: int
    exempt: int
    sampled: int
    unsampled: int
    resulted: int
    negative: int
    recheck: int
    positive: int
    percent: float


class CoverageOut(Schema):
    round_id: int
    area_id: int
    rows: list[CoverageRow]
    total: CoverageRow


def _row(c) -> dict:
    return {"area_id": c.area.id, "area_name": c.area.name, "level": c.area.level, "target": c.target,
            "exempt": c.exempt, "sampled": c.sampled, "unsampled": c.unsampled, "resulted": c.resulted,
            "negative": c.negative, "recheck": c.recheck, "positive": c.positive, "percent": c.percent}


@router.get("/testing/rounds/{int:round_id}/coverage", response=CoverageOut,
            summary="应检尽检 Coverage per child area (target, sampled, resulted, positive, exempt)")
def round_coverage(request, round_id: int, area_id: int | None = None):
    require(request.auth, Capability.TESTING_VIEW, "查看检测进度", "view testing progress")
    round_ = round_visible(user=request.auth, round_id=round_id)
    parent = area_visible(user=request.auth, area_id=area_id or request.auth.jurisdiction_id)
    table = selectors.coverage(round_=round_, parent=parent)
    return {"round_id": round_.id, "area_id": parent.id, "rows": [_row(r) for r in table.rows],
            "total": _row(table.total)}


class UnsampledOut(Schema):
    person_id: int
    name: str
    id_number: str
    area: str
    household: str | None


@router.get("/testing/rounds/{int:round_id}/unsampled", response=list[UnsampledOut],
            summary="应检未检名单 People not sampled yet (masked), by building and household")
def round_unsampled(request, round_id: int, area_id: int | None = None, limit: int = 500):
    require(request.auth, Capability.TESTING_VIEW, "查看应检未检名单", "view who is not sampled")
    round_ = round_visible(user=request.auth, round_id=round_id)
    area = area_visible(user=request.auth, area_id=area_id or request.auth.jurisdiction_id)
    people = selectors.unsampled_people(round_=round_, area=area, limit=max(1, min(limit, 5000)))
    return [{"person_id": p.id, "name": mask_name(p.name), "id_number": mask_id_number(p.id_number),
             "area": p.area.name, "household": p.household.room if p.household else None} for p in people]


# ---- sites and labs --------------------------------------------------------------------------------------------


class SiteIn(Schema):
    name: str
    area_id: int
    kind: str = "fixed"
    address: str = ""
    opening_hours: str = ""
    samplers: int = 2
    per_hour: int = 120


class SiteOut(Schema):
    id: int
    name: str
    kind: str
    area_id: int
    address: str
    opening_hours: str
    samplers: int
    per_hour: int
    active: bool


def site_out(s) -> dict:
    return {"id": s.id, "name": s.name, "kind": s.kind, "area_id": s.area_id, "address": s.address,
            "opening_hours": s.opening_hours, "samplers": s.samplers, "per_hour": s.per_hour, "active": s.active}


@router.get("/testing/sites", response=list[SiteOut], summary="采样点 Sampling sites in your jurisdiction")
def sites(request):
    require(request.auth, Capability.TESTING_VIEW, "查看采样点", "view sampling sites")
    path = request.auth.jurisdiction.path if request.auth.jurisdiction else "-"
    return [site_out(s) for s in SamplingSite.objects.filter(area__path__startswith=path).order_by("id")]


@router.post("/testing/sites", response={201: SiteOut}, summary="新建采样点 Create a sampling site")
def create_site(request, payload: SiteIn):
    return 201, site_out(site_create(actor=request.auth, **payload.dict()))


class LabIn(Schema):
    name: str
    area_id: int
    tubes_per_day: int = 4000


@router.get("/testing/labs", response=list[dict], summary="检测实验室 Labs")
def labs(request):
    require(request.auth, Capability.PERSON_VIEW, "查看实验室", "view labs")
    return [{"id": lab.id, "name": lab.name, "tubes_per_day": lab.tubes_per_day} for lab in Lab.objects.order_by("id")]


@router.post("/testing/labs", response={201: dict}, summary="登记实验室 Register a lab")
def create_lab(request, payload: LabIn):
    lab = lab_create(actor=request.auth, **payload.dict())
    return 201, {"id": lab.id, "name": lab.name, "tubes_per_day": lab.tubes_per_day}


# ---- the sampler: tubes --------------------------------------------------------------------------------------


class PersonRef(Schema):
    person_token: str | None = None
    id_number: str | None = None


class TubeIn(Schema):
    round_id: int
    barcode: str
    people: list[PersonRef]
    site_id: int | None = None
    purpose: str = "round"
    close: bool = False


class TubeOut(Schema):
    barcode: str
    state: str
    pool_mode: str
    pool_size: int
    members_count: int
    added: list[int]
    already: list[int]


@router.post("/testing/tubes", response=TubeOut,
             summary="采样登记 Put people into a tube (opens it on first use, closes it at its pool size); a retry "
                     "adds nobody twice; one bad person refuses the whole request")
def fill_tube(request, payload: TubeIn):
    def produce():
        r = tube_fill(actor=request.auth, round_id=payload.round_id, barcode=payload.barcode,
                      people=[p.dict() for p in payload.people], site_id=payload.site_id, purpose=payload.purpose,
                      close=payload.close)
        t = r.tube
        return 200, {"barcode": t.barcode, "state": t.state, "pool_mode": t.pool_mode, "pool_size": t.pool_size,
                     "members_count": t.members_count, "added": r.added, "already": r.already}

    return idempotent(request, produce)[1]


class RemoveIn(Schema):
    person_id: int
    reason: str


@router.post("/testing/tubes/{barcode}/remove", response=dict, summary="移出扫错的人 Take a wrong person out "
                                                                       "of an open tube (logged)")
def remove_member(request, barcode: str, payload: RemoveIn):
    m = tube_member_remove(actor=request.auth, barcode=barcode, person_id=payload.person_id, reason=payload.reason)
    return {"barcode": barcode, "person_id": m.person_id, "removed_at": _iso(m.removed_at)}


@router.post("/testing/tubes/{barcode}/close", response=dict, summary="封管 Close a tube before it is full")
def close_tube(request, barcode: str):
    t = tube_close(actor=request.auth, barcode=barcode)
    return {"barcode": t.barcode, "state": t.state, "members_count": t.members_count}


class CorrectIn(Schema):
    result: str
    reason: str


@router.post("/testing/tubes/{barcode}/correct", response=dict,
             summary="更正结果 Correct a tube's result (the old one stays in its history)")
def correct(request, barcode: str, payload: CorrectIn):
    r = result_correct(actor=request.auth, barcode=barcode, result=payload.result, reason=payload.reason)
    return {"barcode": barcode, "result": r.result, "supersedes": r.supersedes_id}


# ---- transport boxes -------------------------------------------------------------------------------------------


class BatchIn(Schema):
    code: str
    lab_id: int
    barcodes: list[str]
    site_id: int | None = None
    courier: str = ""
    courier_mobile: str = ""


class ReceiveIn(Schema):
    barcodes: list[str]


def batch_out(b) -> dict:
    return {"code": b.code, "state": b.state, "lab_id": b.lab_id, "tubes": b.tubes.count(), "missing": b.missing,
            "extra": b.extra, "handed_at": _iso(b.handed_at), "received_at": _iso(b.received_at)}


@router.post("/testing/batches", response={201: dict}, summary="装箱转运 Pack closed tubes in a box for a lab")
def pack(request, payload: BatchIn):
    return 201, batch_out(batch_pack(actor=request.auth, **payload.dict()))


@router.post("/testing/batches/{code}/receive", response=dict,
             summary="实验室接收 Receive a box: the tubes scanned in it; missing and extra tubes listed")
def receive(request, code: str, payload: ReceiveIn):
    return batch_out(batch_receive(actor=request.auth, code=code, barcodes=payload.barcodes))


# ---- lab results -----------------------------------------------------------------------------------------------


class ResultLine(Schema):
    barcode: str
    result: str
    ct_orf: str | float | None = None
    ct_n: str | float | None = None
    tested_at: dt.datetime | None = None


class ResultsIn(Schema):
    lab_id: int
    lines: list[ResultLine]


class StagedOut(Schema):
    id: int
    lab_id: int
    file_name: str
    state: str
    rows: int
    errors: list[dict]
    applied: dict | None = None


def staged_out(f: LabResultFile) -> dict:
    return {"id": f.id, "lab_id": f.lab_id, "file_name": f.file_name, "state": f.state, "rows": len(f.rows),
            "errors": f.errors, "applied": f.applied or None}


@router.post("/testing/results", response={201: StagedOut},
             summary="仪器上报结果 Results from an instrument (checked line by line, applied after review)")
def results_batch(request, payload: ResultsIn):
    lines = [(i + 1, line.dict()) for i, line in enumerate(payload.lines)]
    return 201, staged_out(results_stage(actor=request.auth, lab_id=payload.lab_id, lines=lines))


@router.post("/testing/results/import", response={201: StagedOut},
             summary="导入结果文件 Import a results file (CSV or .xlsx: 管码, 结果, ORF1ab, N, 检测时间)")
def results_import(request, lab_id: int, file: File[UploadedFile]):
    return 201, staged_out(results_stage(actor=request.auth, lab_id=lab_id, upload=file, file_name=file.name))


class ReviewIn(Schema):
    accept: bool
    note: str = ""


@router.post("/testing/results/{int:file_id}/review", response=StagedOut,
             summary="审核发布 Accept (apply every good line at once) or send back a results file")
def review(request, file_id: int, payload: ReviewIn):
    staged, _ = results_review(actor=request.auth, file_id=file_id, accept=payload.accept, note=payload.note)
    return staged_out(staged)
