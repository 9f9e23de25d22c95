"""API authentication: browser sessions (with CSRF) and device bearer tokens."""

from ninja.security import APIKeyCookie, HttpBearer

from shouwang.accounts.services import api_token_authenticate


class DeviceToken(HttpBearer):
    openapi_description = "设备令牌 Device token: Authorization: Bearer sw_…"

    def authenticate(self, request, token):
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class BrowserSession(APIKeyCookie):
    """The logged-in browser session; unsafe methods need the CSRF token."""

    param_name = "sessionid"
    openapi_description = "浏览器会话 Browser session cookie"

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


AUTH = [DeviceToken(), BrowserSession(csrf=True)]
