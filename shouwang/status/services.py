"""Publish and withdraw facts about people, and keep their derived status current."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from shouwang.areas.models import Area
from shouwang.core import clock
from shouwang.core.errors import ValidationFailed
from shouwang.policy.rules import Ruleset
from shouwang.policy.rules.model import CASE_STATUSES, CODE_FLAGS, MEASURES, ZONE_KINDS, CodeRule
from shouwang.policy.selectors import policy_rulesets, ruleset_in_force
from shouwang.status.enums import FactKind
from shouwang.status.models import PersonStatus, StatusFact

ALLOWED_VALUES = {FactKind.MEASURE: tuple(MEASURES), FactKind.CASE: CASE_STATUSES, FactKind.ZONE: ZONE_KINDS,
                  FactKind.FLAG: CODE_FLAGS}


@dataclass(frozen=True)
class StatusView:
    colour: str
    rule: str
    reason_zh: str
    reason_en: str
    changes_on: dt.date | None
    policy_version: str
    reasons: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"colour": self.colour, "rule": self.rule, "reason_zh": self.reason_zh, "reason_en": self.reason_en,
                "changes_on": self.changes_on.isoformat() if self.changes_on else None,
                "policy_version": self.policy_version, "reasons": self.reasons}


def _matches(rule: CodeRule, fact) -> bool:
    return ((fact.kind == FactKind.MEASURE and fact.value in rule.measures)
            or (fact.kind == FactKind.CASE and fact.value in rule.case_statuses)
            or (fact.kind == FactKind.ZONE and fact.value in rule.zones)
            or (fact.kind == FactKind.FLAG and fact.value in rule.flags))


def derive(facts: list, rules: Ruleset, on: dt.date) -> StatusView:
    """The colour on a date from a person's facts: the first code rule any active fact matches (pure)."""
    active = [f for f in facts if f.withdrawn_at is None and f.since <= on and (f.until is None or f.until >= on)]
    reasons = []
    for f in active:
        rule = next((r for r in rules.codes if _matches(r, f)), None)
        if rule is not None:
            reasons.append({"rule": rule.id, "colour": rule.colour, "kind": f.kind, "value": f.value,
                            "since": f.since.isoformat(), "until": f.until.isoformat() if f.until else None,
                            "source": f.source, "note": f.note, "reason_zh": rule.reason_zh,
                            "reason_en": rule.reason_en})
    for rule in rules.codes:
        conditions = rule.measures or rule.case_statuses or rule.zones or rule.flags
        deciding = [f for f in active if _matches(rule, f)]
        if conditions and not deciding:
            continue
        changes_on = None
        if deciding and all(f.until is not None for f in deciding):
            changes_on = max(f.until for f in deciding) + dt.timedelta(days=1)
        order = {"red": 0, "yellow": 1, "green": 2}
        reasons.sort(key=lambda r: (order[r["colour"]], r["since"]))
        return StatusView(rule.colour, rule.id, rule.reason_zh, rule.reason_en, changes_on, rules.id, reasons)
    raise AssertionError("the policy loader guarantees a default rule")  # pragma: no cover


def _rules_for(person_area_ids: dict[int, int], on: dt.date) -> dict[int, Ruleset]:
    """The ruleset per person: the national one, unless a county override exists for their area."""
    rulesets = policy_rulesets()
    national = ruleset_in_force(on)
    if not any(r.scope for r in rulesets.values()):
        return {pid: national for pid in person_area_ids}
    paths = dict(Area.objects.filter(id__in=set(person_area_ids.values())).values_list("id", "path"))
    step = Area.steplen
    prefixes = {p[: i * step] for p in paths.values() for i in range(1, len(p) // step + 1)}
    codes = dict(Area.objects.filter(path__in=prefixes).values_list("path", "code"))
    out = {}
    for pid, area_id in person_area_ids.items():
        path = paths.get(area_id, "")
        chain = tuple(codes[path[: i * step]] for i in range(1, len(path) // step + 1) if path[: i * step] in codes)
        out[pid] = ruleset_in_force(on, chain)
    return out


def status_refresh(person_ids, *, on: dt.date | None = None) -> dict[int, StatusView]:
    """Recompute and store the status of these people for the day; people without any current or future fact lose
    their row (they are green)."""
    from shouwang.people.models import Person

    on = on or clock.today()
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    facts: dict[int, list] = {pid: [] for pid in ids}
    for f in StatusFact.objects.filter(person_id__in=ids, withdrawn_at__isnull=True):
        facts[f.person_id].append(f)
    rules = _rules_for(dict(Person.objects.filter(id__in=ids).values_list("id", "area_id")), on)
    views, keep, drop = {}, [], []
    for pid in ids:
        view = derive(facts[pid], rules[pid], on)
        views[pid] = view
        if any(f.until is None or f.until >= on for f in facts[pid]):
            keep.append(PersonStatus(person_id=pid, colour=view.colour, rule=view.rule, reason_zh=view.reason_zh,
                                     reason_en=view.reason_en, reasons=view.reasons, changes_on=view.changes_on,
                                     policy_version=view.policy_version, computed_for=on))
        else:
            drop.append(pid)
    with transaction.atomic():
        PersonStatus.objects.filter(person_id__in=drop).delete()
        PersonStatus.objects.bulk_create(keep, update_conflicts=True, unique_fields=["person"],
                                         update_fields=["colour", "rule", "reason_zh", "reason_en", "reasons",
                                                        "changes_on", "policy_version", "computed_for"])
    return views


def status_get(person_id: int, *, on: dt.date | None = None) -> StatusView:
    """A person's status today: the stored row if it is today's, else recomputed (one row read in the common case)."""
    on = on or clock.today()
    row = PersonStatus.objects.filter(person_id=person_id).first()
    if row is None:
        national = ruleset_in_force(on)
        default = national.codes[-1]
        return StatusView(default.colour, default.id, default.reason_zh, default.reason_en, None, national.id, [])
    if row.computed_for != on:
        return status_refresh([person_id], on=on)[person_id]
    return StatusView(row.colour, row.rule, row.reason_zh, row.reason_en, row.changes_on, row.policy_version,
                      row.reasons)


def _check(kind: str, value: str) -> None:
    if kind not in FactKind.values:
        raise ValidationFailed(field="kind", code="invalid_choice", message_zh=f"事实类别“{kind}”不存在",
                               message_en=f"fact kind '{kind}' does not exist")
    if value not in ALLOWED_VALUES[kind]:
        raise ValidationFailed(field="value", code="invalid_choice", message_zh=f"“{value}”不是{kind}的可选值",
                               message_en=f"'{value}' is not a value of {kind}")


@transaction.atomic
def fact_publish(*, person_ids, kind: str, value: str, since: dt.date, until: dt.date | None, source: str,
                 source_id: str = "", note: str = "") -> int:
    """Say something about these people (idempotent per person, kind, value, source and source id): a repeated
    publish updates the dates. Returns how many facts are now active for it."""
    _check(kind, value)
    if until is not None and until < since:
        raise ValidationFailed(field="until", code="until_before_since", message_zh="结束日期不能早于开始日期",
                               message_en="until cannot be before since")
    ids = sorted(set(person_ids))
    existing = {f.person_id: f for f in StatusFact.objects.filter(person_id__in=ids, kind=kind, value=value,
                                                                   source=source, source_id=source_id,
                                                                   withdrawn_at__isnull=True)}
    changed = []
    for f in existing.values():
        if (f.since, f.until, f.note) != (since, until, note):
            f.since, f.until, f.note = since, until, note
            changed.append(f)
    StatusFact.objects.bulk_update(changed, ["since", "until", "note", "updated_at"])
    StatusFact.objects.bulk_create([StatusFact(person_id=pid, kind=kind, value=value, since=since, until=until,
                                               source=source, source_id=source_id, note=note)
                                    for pid in ids if pid not in existing])
    status_refresh(ids)
    return len(ids)


@transaction.atomic
def fact_withdraw(*, source: str, source_id: str = "", person_ids=None) -> int:
    """Withdraw the facts a source published (e.g. a zone lifted, a recheck negative)."""
    qs = StatusFact.objects.filter(source=source, source_id=source_id, withdrawn_at__isnull=True)
    if person_ids is not None:
        qs = qs.filter(person_id__in=list(person_ids))
    ids = list(qs.values_list("person_id", flat=True))
    qs.update(withdrawn_at=timezone.now())
    status_refresh(ids)
    return len(ids)


def status_refresh_stale(*, on: dt.date | None = None, batch: int = 2000) -> int:
    """The daily run: recompute every stored status not computed for today (facts start and end with the day)."""
    on = on or clock.today()
    done = 0
    while True:
        ids = list(PersonStatus.objects.exclude(computed_for=on).values_list("person_id", flat=True)[:batch])
        if not ids:
            return done
        status_refresh(ids, on=on)
        done += len(ids)
