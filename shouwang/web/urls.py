from django.contrib.auth import views as auth_views
from django.urls import path

from shouwang.web import views, views_exchange, views_policy, views_venues

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
    path("people/<int:person_id>/code/", views_venues.person_code_card, name="person_code"),
    path("audit/", views.audit_search, name="audit"),
    path("imports/", views_exchange.imports_page, name="imports"),
    path("imports/template/<str:kind>.xlsx", views_exchange.import_template, name="import_template"),
    path("imports/<str:import_id>/", views_exchange.import_detail, name="import_detail"),
    path("imports/<str:import_id>/apply/", views_exchange.import_apply_view, name="import_apply"),
    path("imports/<str:import_id>/errors.xlsx", views_exchange.import_errors_xlsx, name="import_errors"),
    path("people/export.xlsx", views_exchange.people_export, name="people_export"),
    path("policy/", views_policy.policy_page, name="policy"),
    # Place codes: the registry, posters and QR files, the inspectors' page, the staff's reverse scan.
    path("venues/", views_venues.venue_list, name="venues"),
    path("venues/new/", views_venues.venue_new, name="venue_new"),
    path("venues/inspect/", views_venues.venue_inspect, name="venue_inspect"),
    path("venues/<int:venue_id>/", views_venues.venue_detail, name="venue"),
    path("venues/<int:venue_id>/poster/", views_venues.venue_poster, name="venue_poster"),
    path("venues/<int:venue_id>/qr.png", views_venues.venue_qr, {"kind": "png"}, name="venue_qr_png"),
    path("venues/<int:venue_id>/qr.pdf", views_venues.venue_qr, {"kind": "pdf"}, name="venue_qr_pdf"),
    path("venues/<int:venue_id>/reissue/", views_venues.venue_reissue_view, name="venue_reissue"),
    path("venues/<int:venue_id>/close/", views_venues.venue_close_view, name="venue_close"),
    path("scan/", views_venues.staff_scan, name="staff_scan"),
    # Residents, no login: a place code's QR opens /s/<token>; /me/<token> is a person's own code.
    path("s/<str:token>", views_venues.resident_scan, name="resident_scan"),
    path("s/<str:token>/done/<int:scan_id>", views_venues.resident_scan_done, name="resident_scan_done"),
    path("me/", views_venues.resident_me, name="resident_me_home"),
    path("me/forget/", views_venues.resident_forget, name="resident_forget"),
    path("me/<str:token>", views_venues.resident_me, name="resident_me"),
    path("healthz", views.healthz, name="healthz"),
]
