"""`manage.py policy_sync` (`shouwang policy-sync`): reload the policy files after a county edits its overrides."""

from django.core.management.base import BaseCommand

from shouwang.policy.services import policy_directories, policy_sync


class Command(BaseCommand):
    help = "重新加载政策版本文件 Reload the policy version files (national versions and local overrides)."

    def handle(self, *args, **options):
        report = policy_sync()
        dirs = "、".join(str(d) for d in policy_directories())
        self.stdout.write(f"目录 directories: {dirs}")
        self.stdout.write(f"已加载 loaded: {', '.join(report.loaded) or '—'}；未变 unchanged: "
                          f"{', '.join(report.unchanged) or '—'}")
        for exc in report.errors:
            self.stderr.write(f"{exc.message_zh}\n  {exc.message_en}")
        if report.kept:
            self.stderr.write(f"沿用上一有效内容 previous valid content kept: {', '.join(report.kept)}")
        if report.errors:
            raise SystemExit(1)
