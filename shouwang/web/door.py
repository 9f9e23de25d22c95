"""POST /api/v1/scans, the busiest request of an outbreak, served without the API framework's per-request work.

A district in 2022 scanned at tens of thousands of doors at once (Hainan's code system peaked at 60,000 requests a
second), and the door waits for the answer. The API framework resolves its routes, builds the arguments, checks
the answer against its schema and renders it: about 0.15 ms here, as much as the scan's own three queries. This
view does the same steps directly with the same pieces: the API's authenticators in the same order (device token,
then the browser session with its CSRF check), the same input schema (ScanIn, by pydantic), the same function
(shouwang.venues.api.door_scan, with the Idempotency-Key replay) and the same error bodies. The ninja operation
at the same path documents it in the OpenAPI schema; tests check both give the same answers.
"""

from __future__ import annotations

import pydantic
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja.errors import HttpError

from shouwang.accounts.auth import AUTH
from shouwang.core.errors import DomainError
from shouwang.venues.api import ScanIn, door_scan
from shouwang.web.api import UNAUTHENTICATED, invalid_input, lang

_JSON = {"ensure_ascii": False}


def _error(request, exc: DomainError) -> JsonResponse:
    return JsonResponse(exc.as_dict(lang(request)), status=exc.status, json_dumps_params=_JSON)


def _user(request):
    """The first authenticator that accepts the request, in the API's order; ninja's HttpError (a failed CSRF
    check) propagates."""
    for auth in AUTH:
        user = auth(request)
        if user:
            return user
    return None


@csrf_exempt  # the session authenticator checks CSRF itself; a device token needs none
def scan(request):
    if request.method != "POST":
        exc = DomainError(code="http_405", status=405, message_zh="只接受POST请求", message_en="only POST is allowed")
        response = _error(request, exc)
        response["Allow"] = "POST"
        return response
    try:
        user = _user(request)
    except HttpError as exc:  # the session's CSRF check failed: answered as the API's handler does
        return _error(request, DomainError(code=f"http_{exc.status_code}", status=exc.status_code,
                                           message_zh=str(exc), message_en=str(exc)))
    if user is None:
        return _error(request, UNAUTHENTICATED)
    request.auth = user
    try:
        payload = ScanIn.model_validate_json(request.body or b"{}")
    except pydantic.ValidationError as exc:
        return _error(request, invalid_input(exc.errors(include_url=False)))
    try:
        status, body = door_scan(request, payload)
    except DomainError as exc:
        return _error(request, exc)
    return JsonResponse(body, status=status, json_dumps_params=_JSON)
