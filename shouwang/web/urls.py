from django.contrib.auth import views as auth_views
from django.urls import path

from shouwang.web import views, views_exchange, views_policy

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("areas/", views.area_browser, name="areas"),
    path("areas/<int:area_id>/", views.area_browser, name="area"),
    path("areas/<int:area_id>/children/", views.area_children_partial, name="area_children"),
    path("people/", views.people_search, name="people"),
    path("people/<int:person_id>/", views.person_file, name="person"),
    path("people/<int:person_id>/merge/", views.person_merge_view, name="person_merge"),
    path("audit/", views.audit_search, name="audit"),
    path("imports/", views_exchange.imports_page, name="imports"),
    path("imports/template/<str:kind>.xlsx", views_exchange.import_template, name="import_template"),
    path("imports/<str:import_id>/", views_exchange.import_detail, name="import_detail"),
    path("imports/<str:import_id>/apply/", views_exchange.import_apply_view, name="import_apply"),
    path("imports/<str:import_id>/errors.xlsx", views_exchange.import_errors_xlsx, name="import_errors"),
    path("people/export.xlsx", views_exchange.people_export, name="people_export"),
    path("policy/", views_policy.policy_page, name="policy"),
    path("healthz", views.healthz, name="healthz"),
]
