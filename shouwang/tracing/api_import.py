"""The line-list import endpoint: one POST, a dry run by default; dry_run=false imports all or nothing."""

from __future__ import annotations

import datetime as dt

from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from shouwang.core.idempotency import idempotent
from shouwang.tracing.imports import line_list_apply, line_list_dry_run

router = Router(tags=["tracing 流调溯源"])


class RowErrorOut(Schema):
    sheet: str
    row: int | None
    column: str
    value: str
    code: str
    message_zh: str
    message_en: str


class CasePreviewOut(Schema):
    sheet: str
    row: int
    external_id: str
    name: str
    id_number: str  # masked
    classification: str
    clinical_type: str
    onset_date: dt.date | None
    sampling_date: dt.date | None
    reported_at: dt.datetime | None
    origin: str
    state: str


class LinkPreviewOut(Schema):
    sheet: str
    row: int
    infector: str
    infectee: str
    setting: str
    confidence: str
    evidence: str


class DryRunOut(Schema):
    sha256: str
    file_name: str
    links_file_name: str
    case_count: int
    link_count: int
    error_count: int
    bad_rows: int
    examples_skipped: int
    already_imported: bool
    can_apply: bool
    errors: list[RowErrorOut]
    cases: list[CasePreviewOut]
    links: list[LinkPreviewOut]


class AppliedOut(Schema):
    import_id: int
    sha256: str
    file_name: str
    links_file_name: str
    applied_at: str
    cases: int
    closed_cases: int
    links: int
    case_codes: list[str]


@router.post("/tracing/import", response={200: DryRunOut, 201: AppliedOut},
             summary="导入病例名单 Import a line list of cases and links (CSV or .xlsx): dry_run=true (default) checks "
                     "every row; dry_run=false imports all rows or none, once per file")
def import_line_list(request, file: File[UploadedFile], links_file: File[UploadedFile | None] = None,
                     dry_run: bool = True):
    links_name = links_file.name if links_file else ""
    if dry_run:
        return 200, line_list_dry_run(actor=request.auth, upload=file, file_name=file.name,
                                      links_upload=links_file, links_file_name=links_name)

    def produce():
        result = line_list_apply(actor=request.auth, upload=file, file_name=file.name,
                                 links_upload=links_file, links_file_name=links_name,
                                 ip_address=request.META.get("REMOTE_ADDR", ""))
        return 201, AppliedOut.model_validate(result).model_dump(mode="json")

    return Status(*idempotent(request, produce))
