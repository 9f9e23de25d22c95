"""The release certificate: the PDF for staff (a released stay of their jurisdiction, logged as an export of the
person's document) and the public check a checkpoint opens from the certificate's QR code, with no login.

The public page answers from the code alone (shouwang.quarantine.certificate.certificate_verify: one query by code,
masked name and ID number), is kept out of search engines (meta robots and X-Robots-Tag), out of caches (the
answer changes when the person becomes a case) and sends no referrer (the code is in the address)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from shouwang.core.errors import DomainError
from shouwang.quarantine.certificate import certificate_export, certificate_verify
from shouwang.web.views import _error_page, _ip


def _public_base(request) -> str:
    """Where the public verification page is reached: SHOUWANG_PUBLIC_URL when the staff's address is an internal
    one, else the address this request came to."""
    return getattr(settings, "SHOUWANG_PUBLIC_URL", "") or request.build_absolute_uri("/")


@login_required
@require_GET
def certificate_download(request, stay_id: int):
    """/quarantine/stays/<id>/certificate.pdf: shown in the browser, to print or save."""
    try:
        cert = certificate_export(actor=request.user, stay_id=stay_id, base_url=_public_base(request),
                                  ip_address=_ip(request))
    except DomainError as exc:
        return _error_page(request, exc)
    response = HttpResponse(cert.content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, cert.filename)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def verify_certificate(request, code: str):
    """/verify/<code>/: is this certificate genuine and still valid? 404 for a code that is not one."""
    answer = certificate_verify(code, ip_address=_ip(request))
    english = (request.LANGUAGE_CODE or "").startswith("en")
    context = {"answer": answer, "code": code[:40]}
    if answer:
        context |= {"title": answer["title_en" if english else "title_zh"],
                    "measure": answer["measure_en" if english else "measure_zh"]}
    response = render(request, "web/quarantine/certificate_verify.html", context, status=200 if answer else 404)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
