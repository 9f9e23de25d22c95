"""The line-list import page: upload → the dry run's report (kept by the file's sha256, re-checked when shown) →
确认导入, all rows or none; and the template workbook. Thin views over shouwang.tracing.imports."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.tracing.enums import CaseState, Classification, ClinicalType, Confidence, Origin, Setting
from shouwang.tracing.imports import (
    COLUMN_EN,
    line_list_apply,
    line_list_dry_run,
    line_list_get,
    template_workbook,
)
from shouwang.web.views_exchange import xlsx_response

ROWS_SHOWN = 500
# The refusals the report page explains itself (the report is shown again with the reason on top).
REPORT_ERRORS = {"import_has_errors", "import_empty", "already_imported"}


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _error_page(request, exc: DomainError):
    return render(request, "web/error.html", {"error": exc, "message": exc.message(request.LANGUAGE_CODE)},
                  status=exc.status)


def _allowed(request) -> None:
    require(request.user, Capability.CASE_MANAGE, "导入病例名单", "import line lists")


def _page(request, *, report: dict | None = None, error: str = "", error_field: str = "", status: int = 200):
    context = {"report": report, "error": error, "error_field": error_field, "column_en": COLUMN_EN,
               "labels": {**dict(Classification.choices), **dict(ClinicalType.choices),
                          **dict(Origin.choices), **dict(CaseState.choices)},
               "link_labels": {**dict(Setting.choices), **dict(Confidence.choices)}}
    if report is not None and not report.get("applied"):
        context.update(cases=report["cases"][:ROWS_SHOWN], links=report["links"][:ROWS_SHOWN],
                       errors=report["errors"][:ROWS_SHOWN], rows_cut=max(
                           len(report["cases"]), len(report["links"]), len(report["errors"])) > ROWS_SHOWN)
    return render(request, "web/tracing/import.html", context, status=status)


def _report_url(sha256: str) -> str:
    return f"{reverse('tracing_import')}?file={sha256}"


@login_required
@require_http_methods(["GET", "POST"])
def tracing_import(request):
    try:
        _allowed(request)
    except DomainError as exc:
        return _error_page(request, exc)
    if request.method == "GET":
        sha256 = request.GET.get("file", "")
        if not sha256:
            return _page(request)
        try:
            return _page(request, report=line_list_get(actor=request.user, sha256=sha256))
        except DomainError as exc:
            return _error_page(request, exc)
    sha256 = request.POST.get("sha256", "")
    if sha256 and not request.FILES:
        return _confirm(request, sha256)
    upload = request.FILES.get("file")
    links = request.FILES.get("links_file")
    try:
        if upload is None:
            raise ValidationFailed(field="file", code="required", message_zh="请选择要上传的病例名单文件",
                                   message_en="choose the line list file to upload")
        report = line_list_dry_run(actor=request.user, upload=upload, file_name=upload.name,
                                   links_upload=links, links_file_name=links.name if links else "", keep=True)
    except DomainError as exc:
        return _page(request, error=exc.message(request.LANGUAGE_CODE), error_field=exc.field or "",
                     status=exc.status)
    return redirect(_report_url(report["sha256"]))


def _confirm(request, sha256: str):
    try:
        line_list_apply(actor=request.user, sha256=sha256, ip_address=_ip(request))
    except DomainError as exc:
        if exc.code not in REPORT_ERRORS:
            return _error_page(request, exc)
        try:
            report = line_list_get(actor=request.user, sha256=sha256)
        except DomainError as again:
            return _error_page(request, again)
        return _page(request, report=report, error=exc.message(request.LANGUAGE_CODE), status=exc.status)
    return redirect(_report_url(sha256))


@login_required
@require_GET
def tracing_import_template(request):
    try:
        _allowed(request)
    except DomainError as exc:
        return _error_page(request, exc)
    return xlsx_response(template_workbook(), "病例名单导入模板.xlsx", "line_list_template.xlsx")
