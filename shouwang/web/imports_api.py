"""Import and export endpoints: dry run, apply (idempotent), and the Excel export of a person search."""

from __future__ import annotations

from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from shouwang.people.exports import people_export
from shouwang.people.imports import import_apply, import_dry_run, import_get
from shouwang.web.views_exchange import filters_from, xlsx_response

router = Router(tags=["imports 导入导出"])


class RowErrorOut(Schema):
    sheet: str
    row: int | None
    column: str
    value: str
    code: str
    message_zh: str
    message_en: str


class SheetOut(Schema):
    name: str
    rows: int
    level: str


class ImportResultOut(Schema):
    import_id: str
    applied_at: str
    rows: int
    people: int
    updated: int
    households: int
    tags: int
    compounds: int | None = None
    buildings: int | None = None
    units: int | None = None


class ImportOut(Schema):
    import_id: str
    kind: str
    kind_label: str
    area_id: int
    area_name: str
    file_name: str
    sha256: str
    update_existing: bool
    created_at: str
    total_rows: int
    valid_rows: int
    bad_rows: int
    error_count: int
    errors: list[RowErrorOut]
    sheets: list[SheetOut]
    can_apply: bool
    applied: bool
    result: ImportResultOut | None


class ExportParams(Schema):
    q: str = ""
    area_id: int | None = None
    tag: str = ""
    address: str = ""
    full: bool = False


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


@router.post("/imports", response={201: ImportOut},
             summary="上传并试导入 Upload a workbook and check every row (nothing is imported)")
def import_upload(request, kind: Form[str], area_id: Form[int], file: File[UploadedFile],
                  update_existing: Form[bool] = False):
    return Status(201, import_dry_run(actor=request.auth, kind=kind, area_id=area_id, upload=file, file_name=file.name,
                               update_existing=update_existing))


@router.get("/imports/{import_id}", response=ImportOut, summary="试导入报告 A dry-run report (and result)")
def import_report(request, import_id: str):
    return import_get(import_id=import_id, actor=request.auth)


@router.post("/imports/{import_id}/apply", response=ImportOut,
             summary="确认导入 Apply a clean dry run, all rows or none; a retry answers the same result")
def import_confirm(request, import_id: str):
    return import_apply(import_id=import_id, actor=request.auth, ip_address=_ip(request))


@router.get("/people/export.xlsx", summary="导出人员名单 Export a person search to Excel (audited)")
def export_people(request, params: Query[ExportParams]):
    export = people_export(user=request.auth, filters=filters_from({
        "q": params.q, "tag": params.tag, "address": params.address,
        "area_id": str(params.area_id or "")}), full=params.full, ip_address=_ip(request))
    return xlsx_response(export.file, export.filename, f"people_{export.filename[-13:]}")
