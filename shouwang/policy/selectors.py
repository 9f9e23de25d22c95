"""Reads of the policy versions: the rulesets built from the stored files, and the one in force."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max

from shouwang.core.errors import NotFound
from shouwang.policy.models import PolicyVersion
from shouwang.policy.rules import Ruleset, load_all
from shouwang.policy.rules.load import in_force

_cache: dict = {"key": None, "rulesets": {}}


def forget() -> None:
    _cache["key"] = None


def policy_rulesets() -> dict[str, Ruleset]:
    """Every valid version, built from the stored content (rebuilt only when a row changed)."""
    key = PolicyVersion.objects.aggregate(n=Max("updated_at"), c=Max("id"))
    key = (key["n"], key["c"], PolicyVersion.objects.count())
    if _cache["key"] != key:
        rows = PolicyVersion.objects.exclude(content="")
        rulesets, _, _ = load_all([(r.file_name, r.content) for r in rows])
        _cache.update(key=key, rulesets=rulesets)
    return _cache["rulesets"]


def policy_versions() -> list[PolicyVersion]:
    return list(PolicyVersion.objects.all())


def ruleset_get(version_id: str) -> Ruleset:
    rulesets = policy_rulesets()
    if version_id not in rulesets:
        raise NotFound("政策版本", "policy version", field="version")
    return rulesets[version_id]


def ruleset_in_force(on: dt.date, area_codes: tuple[str, ...] = ()) -> Ruleset:
    """The version in force on a date for an area, given as its code and its ancestors' codes (a local override
    of any of them applies)."""
    found = in_force(policy_rulesets(), on, area_codes)
    if found is None:
        raise NotFound("该日期生效的政策版本", "policy version in force on that date", field="anchor_date")
    return found
