"""`manage.py area_shapes_load FILE.geojson --user NAME`: load real area boundaries, matched to areas by code."""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from shouwang.areas.services import area_shapes_load
from shouwang.core.errors import DomainError


class Command(BaseCommand):
    help = ("按代码导入区域边界（GeoJSON，经纬度）Load area boundaries from a GeoJSON FeatureCollection (lon/lat), "
            "matching each feature to an area by its code.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="a GeoJSON FeatureCollection (WGS 84 lon/lat; GCJ-02 or CGCS2000 are close)")
        parser.add_argument("--user", required=True,
                            help="the account the change is made as (needs area.edit over the areas; audit log)")
        parser.add_argument("--code-property", default="code",
                            help="the feature property holding the area code (default code; else the feature id)")

    def handle(self, *args, file: str, user: str, code_property: str, **options):
        actor = get_user_model().objects.filter(username=user, is_active=True).first()
        if actor is None:
            raise CommandError(f"没有账号 {user} / no active account {user}")
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"读不了 {file} / cannot read {file}: {exc}") from exc
        features = data.get("features") if isinstance(data, dict) and data.get("type") == "FeatureCollection" else None
        if not isinstance(features, list):
            raise CommandError("文件不是GeoJSON FeatureCollection / the file is not a GeoJSON FeatureCollection")
        try:
            report = area_shapes_load(actor=actor, features=features, code_property=code_property,
                                      source=Path(file).name)
        except DomainError as exc:
            raise CommandError(f"{exc.message_zh}\n{exc.message_en}（未导入任何边界 / nothing loaded）") from exc
        self.stdout.write(f"匹配 matched: {len(report.matched)}，更新 changed: {report.changed}")
        if report.unmatched:
            self.stdout.write(f"辖区内没有这些代码 no area with these codes: {', '.join(report.unmatched)}")
        if report.without_shape:
            self.stdout.write(f"仍无边界 still without a boundary: {', '.join(report.without_shape)}")
