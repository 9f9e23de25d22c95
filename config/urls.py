from django.contrib import admin
from django.urls import include, path

from shouwang.web import door
from shouwang.web.api import api

urlpatterns = [
    path("api/v1/scans", door.scan, name="door_scan"),  # before the API: see shouwang/web/door.py
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("shouwang.web.urls")),
]
