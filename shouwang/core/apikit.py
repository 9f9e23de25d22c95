"""Small helpers every domain's API router uses: times in and out in Beijing time, choice parameters checked with
a named field, answers as JSON values (so an idempotent replay answers exactly what the first call did)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from shouwang.core.errors import ValidationFailed


def iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A time sent without an offset is Beijing time (TIME_ZONE), not an error deep in a service."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def values_of(choices) -> list[str]:
    """The values of a TextChoices class, or of a collection (a dict's keys)."""
    return list(choices.values if isinstance(choices, type) else choices)


def one_of(choices) -> str:
    return "one of: " + ", ".join(values_of(choices))


def choice_filter(value: str, choices, field: str, zh: str, en: str) -> str:
    """A choice query parameter: "" (no filter) or one of the choices (TextChoices or a collection of values)."""
    if value and value not in values_of(choices):
        raise ValidationFailed(field=field, code="invalid_choice", message_zh=f"{zh}不存在",
                               message_en=f"unknown {en}")
    return value


def as_json(schema, data: dict) -> dict:
    return schema.model_validate(data).model_dump(mode="json")


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")
