"""Load the policy files into the database. A broken file never half-loads: its previous content stays in force."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shouwang.core.audit import audit_record
from shouwang.core.models import AuditAction
from shouwang.policy.models import PolicyVersion
from shouwang.policy.rules import PolicyFileError, load_all
from shouwang.policy.rules.load import parse_file

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    loaded: list[str] = field(default_factory=list)  # version ids now in force from their current file
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # broken files whose previous content stays in force
    errors: list[PolicyFileError] = field(default_factory=list)


def policy_directories() -> list[Path]:
    return [Path(d) for d in settings.SHOUWANG_POLICY_DIRS]


def _read(directories: list[Path]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for directory in directories:
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                texts[path.name] = path.read_text(encoding="utf-8")
    return texts


@transaction.atomic
def policy_sync(*, directories: list[Path] | None = None, actor=None) -> SyncReport:
    """Read every policy file, validate them together and store the valid ones; for a broken file keep the last
    valid content (if any) and record the error."""
    texts = _read(directories if directories is not None else policy_directories())
    previous = {row.file_name: row for row in PolicyVersion.objects.all()}
    report = SyncReport()
    _, _, errors = load_all(list(texts.items()))
    broken = {e.file.split("（")[0] for e in errors}
    report.errors = errors
    candidates = dict(texts)
    for name in broken:
        old = previous.get(name)
        if old is not None and old.content:
            candidates[name] = old.content
            report.kept.append(old.version_id)
        else:
            candidates.pop(name, None)
    rulesets, files, second = load_all(list(candidates.items()))
    for exc in second:  # an old content that no longer fits (e.g. its base is gone): drop it
        candidates.pop(exc.file.split("（")[0], None)
    if second:
        rulesets, files, _ = load_all(list(candidates.items()))
    now = timezone.now()
    error_of = {}
    for exc in errors:
        error_of.setdefault(exc.file.split("（")[0], f"{exc.message_zh}\n{exc.message_en}")
    for name, text in texts.items():
        row = previous.get(name)
        valid = next((f for f in files.values() if f.name == name), None)
        message = error_of.get(name, "")
        if valid is None:
            if row is None:
                try:
                    head = parse_file(name, text)
                    vid, eff = head.id, head.effective_from
                except PolicyFileError:
                    vid, eff = name.removesuffix(".toml"), now.date()
                PolicyVersion.objects.create(version_id=vid[:40], title=name, file_name=name, sha256="",
                                             content="", loaded_at=now, error=message, effective_from=eff)
            elif row.error != message:
                row.error = message
                row.save(update_fields=["error", "updated_at"])
            continue
        ruleset = rulesets[valid.id]
        digest = hashlib.sha256(candidates[name].encode()).hexdigest()
        fields = dict(version_id=valid.id, title=ruleset.title_zh, base=valid.base, scope=valid.scope,
                      effective_from=valid.effective_from, sha256=digest, content=candidates[name], error=message)
        if row is None:
            row = PolicyVersion.objects.create(file_name=name, loaded_at=now, **fields)
            report.loaded.append(valid.id)
            audit_record(actor=actor, action=AuditAction.CREATE, object_type="policy.version", object_id=valid.id,
                         summary=f"加载政策版本 {valid.id}（{name}）")
        elif row.sha256 != digest or row.error != message or row.version_id != valid.id:
            changed = row.sha256 != digest
            for key, value in fields.items():
                setattr(row, key, value)
            if changed:
                row.loaded_at = now
                report.loaded.append(valid.id)
                audit_record(actor=actor, action=AuditAction.UPDATE, object_type="policy.version",
                             object_id=valid.id, summary=f"更新政策版本 {valid.id}（{name}）")
            row.save()
        else:
            report.unchanged.append(valid.id)
    for exc in errors:
        log.error("policy file not loaded: %s", exc.message_en)
    from shouwang.policy import selectors

    selectors.forget()
    return report


def policy_sync_after_migrate(**kwargs) -> None:
    policy_sync()
