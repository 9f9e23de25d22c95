"""Excel import and export pages: thin views over shouwang.people.imports and shouwang.people.exports."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import PurePath
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl import Workbook

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.areas.enums import AreaLevel
from shouwang.core.errors import DomainError, ValidationFailed
from shouwang.people.excel import COLUMN_EN, ImportKind, template_workbook
from shouwang.people.exports import people_export as export_people
from shouwang.people.imports import import_apply, import_dry_run, import_get, import_targets
from shouwang.people.selectors import PersonFilter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERRORS_SHOWN = 500


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _error_page(request, exc: DomainError):
    return render(request, "web/error.html", {"error": exc, "message": exc.message(request.LANGUAGE_CODE)},
                  status=exc.status)


def attachment(filename: str, ascii_fallback: str) -> str:
    """Content-Disposition with an ASCII filename and the real one per RFC 5987/6266 (filename*)."""
    return f"attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def xlsx_response(file, filename: str, ascii_fallback: str) -> FileResponse | HttpResponse:
    if isinstance(file, bytes):
        response = HttpResponse(file, content_type=XLSX)
    else:
        response = FileResponse(file, content_type=XLSX)
    response["Content-Disposition"] = attachment(filename, ascii_fallback)
    response["Cache-Control"] = "no-store"
    return response


def filters_from(query) -> PersonFilter:
    area = query.get("area_id", "")
    return PersonFilter(q=query.get("q", ""), tag=query.get("tag", ""), address=query.get("address", ""),
                        area_id=int(area) if area.isdigit() else None)


@login_required
@require_GET
def people_export(request):
    try:
        export = export_people(user=request.user, filters=filters_from(request.GET),
                               full=request.GET.get("full") == "1", ip_address=_ip(request))
    except DomainError as exc:
        return _error_page(request, exc)
    return xlsx_response(export.file, export.filename, f"people_{export.filename[-13:]}")


def _form_context(request, **extra) -> dict:
    return {"targets": import_targets(request.user), "kinds": ImportKind.choices,
            "chosen_kind": request.POST.get("kind", ImportKind.RESIDENTS),
            "chosen_area": request.POST.get("area_id", ""), **extra}


@login_required
@require_http_methods(["GET", "POST"])
def imports_page(request):
    try:
        require(request.user, Capability.PERSON_IMPORT, "导入人员名单", "import people")
        if request.method == "GET":
            return render(request, "web/imports.html", _form_context(request))
    except DomainError as exc:
        return _error_page(request, exc)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationFailed(field="file", code="required", message_zh="请选择要上传的Excel文件",
                                   message_en="choose an Excel file to upload")
        area = request.POST.get("area_id", "")
        if not area.isdigit():
            raise ValidationFailed(field="area_id", code="required", message_zh="请选择要导入到的网格",
                                   message_en="choose the grid to import into")
        report = import_dry_run(actor=request.user, kind=request.POST.get("kind", ""), area_id=int(area),
                                upload=upload, file_name=upload.name,
                                update_existing=request.POST.get("update_existing") == "1")
    except DomainError as exc:
        return render(request, "web/imports.html", _form_context(
            request, error=exc.message(request.LANGUAGE_CODE), error_field=exc.field), status=exc.status)
    return redirect("import_detail", import_id=report["import_id"])


def _report_context(report: dict, **extra) -> dict:
    return {"report": report, "errors": report["errors"][:ERRORS_SHOWN],
            "errors_cut": len(report["errors"]) > ERRORS_SHOWN, "level_labels": dict(AreaLevel.choices),
            "column_en": COLUMN_EN, **extra}


@login_required
@require_GET
def import_detail(request, import_id: str):
    try:
        report = import_get(import_id=import_id, actor=request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    template = "web/imports_result.html" if report["applied"] else "web/imports_report.html"
    applied_at = dt.datetime.fromisoformat(report["result"]["applied_at"]) if report["applied"] else None
    return render(request, template, _report_context(report, applied_at=applied_at))


@login_required
@require_POST
def import_apply_view(request, import_id: str):
    try:
        import_apply(import_id=import_id, actor=request.user, ip_address=_ip(request))
    except DomainError as exc:
        if exc.code != "import_has_errors" and exc.code != "import_empty":
            return _error_page(request, exc)
        report = import_get(import_id=import_id, actor=request.user)
        return render(request, "web/imports_report.html",
                      _report_context(report, error=exc.message(request.LANGUAGE_CODE)), status=exc.status)
    return redirect("import_detail", import_id=import_id)


@login_required
@require_GET
def import_errors_xlsx(request, import_id: str):
    """Every bad row of a dry run, as a workbook to work through."""
    try:
        report = import_get(import_id=import_id, actor=request.user)
    except DomainError as exc:
        return _error_page(request, exc)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误清单")
    ws.append(["工作表", "行号", "列", "内容", "错误代码", "原因", "Reason"])
    for e in report["errors"]:
        ws.append([e["sheet"], e["row"], e["column"], e["value"], e["code"], e["message_zh"], e["message_en"]])
    out = io.BytesIO()
    wb.save(out)
    stem = PurePath(report["file_name"]).stem
    return xlsx_response(out.getvalue(), f"错误清单_{stem}.xlsx", f"errors_{import_id}.xlsx")


@login_required
@require_GET
def import_template(request, kind: str):
    if kind not in ImportKind.values:
        raise Http404
    try:
        require(request.user, Capability.PERSON_IMPORT, "导入人员名单", "import people")
    except DomainError as exc:
        return _error_page(request, exc)
    label = ImportKind(kind).label
    return xlsx_response(template_workbook(kind), f"{label}模板.xlsx", f"template_{kind}.xlsx")
