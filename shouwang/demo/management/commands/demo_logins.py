"""`manage.py demo_logins`: the demo accounts, their roles and jurisdictions, and the shared password."""

from django.core.management.base import BaseCommand

from shouwang.demo.generator import DEMO_PASSWORD, DEMO_USER_NOTES, demo_users

URL = "http://127.0.0.1:8000"


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = "列出演示账号 List the demo accounts and their password."

    def handle(self, *args, **options):
        users = demo_users()
        if not users:
            self.stdout.write("还没有演示账号：先运行 manage.py demo_data。 No demo accounts yet: run manage.py demo_data.")
            return
        rows = [("账号 username", "角色 role", "辖区 jurisdiction")]
        for u in users:
            role = str(u.get_role_display())
            if u.username in DEMO_USER_NOTES:
                role += f"（{DEMO_USER_NOTES[u.username]}）"
            rows.append((u.username, role, u.jurisdiction.name if u.jurisdiction else "—"))
        widths = [max(_width(r[i]) for r in rows) + 2 for i in range(3)]
        self.stdout.write("演示账号 Demo accounts")
        for i, row in enumerate(rows):
            self.stdout.write("  " + "".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if i == 0:
                self.stdout.write("  " + "-" * (sum(widths) - 2))
        self.stdout.write(f"密码 password（所有账号相同 for all）: {DEMO_PASSWORD}")
        self.stdout.write(f"地址 URL: {URL}")
