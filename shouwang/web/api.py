"""The REST API at /api/v1/: one NinjaAPI, the domains' routers, errors as {code, message, field}."""

from django.utils.translation import get_language
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from shouwang.accounts.auth import AUTH
from shouwang.areas.api import router as areas_router
from shouwang.core.errors import DomainError
from shouwang.people.api import router as people_router
from shouwang.policy.api import router as policy_router
from shouwang.quarantine.api import router as quarantine_router
from shouwang.quarantine.api_care import router as quarantine_care_router
from shouwang.reports.api import router as reports_router
from shouwang.status.api import router as status_router
from shouwang.testing.api import router as testing_router
from shouwang.testing.api_more import router as testing_more_router
from shouwang.tracing.api import router as tracing_router
from shouwang.tracing.api_import import router as tracing_import_router
from shouwang.venues.api import router as venues_router
from shouwang.web.imports_api import router as imports_router
from shouwang.zones.api import router as zones_router

api = NinjaAPI(
    title="守望 Shouwang API",
    version="1",
    description="县市疫情防控指挥平台接口。Errors: {code, message, field, messages{zh-hans,en}}.",
    auth=AUTH,
    urls_namespace="api",
)
api.add_router("", areas_router)
api.add_router("", people_router)
api.add_router("", imports_router)
api.add_router("", policy_router)
api.add_router("", status_router)
api.add_router("", venues_router)
api.add_router("", testing_router)
api.add_router("", testing_more_router)
api.add_router("", tracing_import_router)
api.add_router("", reports_router)
api.add_router("", tracing_router)
api.add_router("", quarantine_router)
api.add_router("", quarantine_care_router)
api.add_router("", zones_router)


def lang(request) -> str:
    return getattr(request, "LANGUAGE_CODE", None) or get_language() or "zh-hans"


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return api.create_response(request, exc.as_dict(lang(request)), status=exc.status)


def invalid_input(errors: list[dict]) -> DomainError:
    """Pydantic's errors as our 422: the first one names the field, all are listed in details."""
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", [])]
    if loc[:1] in (["form"], ["file"]):  # multipart sources (the import upload): ["file", "file"] -> "file"
        loc = loc[1:]
    loc = [p for p in loc if p not in ("body", "payload", "query", "path", "params")]
    field = ".".join(loc) or None
    reason = first.get("msg", "invalid")
    return DomainError(code="invalid", status=422, field=field, message_zh=f"字段{field or ''}不合法：{reason}",
                       message_en=f"field {field or ''} is invalid: {reason}", details=[
                           {"field": ".".join(str(p) for p in e.get("loc", [])), "reason": e.get("msg")}
                           for e in errors])


UNAUTHENTICATED = DomainError(code="unauthenticated", status=401, message_zh="请先登录或提供有效的设备令牌",
                              message_en="log in or send a valid device token")


@api.exception_handler(NinjaValidationError)
def validation_error(request, exc: NinjaValidationError):
    err = invalid_input(exc.errors)
    return api.create_response(request, err.as_dict(lang(request)), status=422)


@api.exception_handler(AuthenticationError)
def auth_error(request, exc):
    return api.create_response(request, UNAUTHENTICATED.as_dict(lang(request)), status=401)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    err = DomainError(code=f"http_{exc.status_code}", status=exc.status_code, message_zh=str(exc), message_en=str(exc))
    return api.create_response(request, err.as_dict(lang(request)), status=exc.status_code)
