"""Replay the stored answer when a field device retries a request with the same Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction

from shouwang.core.errors import ValidationFailed
from shouwang.core.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"


def idempotent(request, produce: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    """Run produce() once per (user, key); a retry gets the first answer back without running it again."""
    key = request.META.get(HEADER, "").strip()
    if not key:
        return produce()
    if len(key) > 100:
        raise ValidationFailed(field="Idempotency-Key", code="too_long", message_zh="幂等键不能超过100个字符",
                               message_en="Idempotency-Key must be at most 100 characters")
    user_id = request.auth.id if getattr(request, "auth", None) is not None else request.user.id
    found = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
    if found is not None:
        return found.status_code, found.body
    with transaction.atomic():
        status, body = produce()
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(user_id=user_id, key=key, method=request.method,
                                                 path=request.path[:300], status_code=status, body=body)
        except IntegrityError:
            # A concurrent retry won the race: undo ours and answer as it did.
            transaction.set_rollback(True)
            found = IdempotencyRecord.objects.get(user_id=user_id, key=key)
            return found.status_code, found.body
    return status, body
