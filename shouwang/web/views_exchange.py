"""Excel import and export pages (filled in by the import/export work)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def imports_page(request):
    return HttpResponse("导入 (to be built)")


@login_required
def people_export(request):
    return HttpResponse("导出 (to be built)")
