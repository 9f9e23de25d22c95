"""Named domain errors: a code, the field at fault and a message in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field


@dataclass
class DomainError(Exception):
    code: str
    message_zh: str
    message_en: str
    field: str | None = None
    status: int = 400
    details: list[dict] = dc_field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"

    def message(self, language: str | None) -> str:
        return self.message_en if (language or "").startswith("en") else self.message_zh

    def as_dict(self, language: str | None = None) -> dict:
        body = {
            "code": self.code,
            "message": self.message(language),
            "field": self.field,
            "messages": {"zh-hans": self.message_zh, "en": self.message_en},
        }
        if self.details:
            body["details"] = self.details
        return body


class NotFound(DomainError):
    """Not found and not yours answer the same, so a user cannot probe other jurisdictions."""

    def __init__(self, what_zh: str = "记录", what_en: str = "record", field: str | None = None):
        super().__init__(
            code="not_found",
            message_zh=f"{what_zh}不存在或不在您的辖区内",
            message_en=f"{what_en} not found or outside your jurisdiction",
            field=field,
            status=404,
        )


class PermissionDenied(DomainError):
    def __init__(self, action_zh: str, action_en: str):
        super().__init__(
            code="permission_denied",
            message_zh=f"您的角色无权{action_zh}",
            message_en=f"your role may not {action_en}",
            status=403,
        )


class ValidationFailed(DomainError):
    def __init__(self, *, field: str, message_zh: str, message_en: str, code: str = "invalid"):
        super().__init__(code=code, message_zh=message_zh, message_en=message_en, field=field, status=422)
