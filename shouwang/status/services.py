"""Publish and withdraw facts about people, and keep their derived status current."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from shouwang.areas.models import Area
from shouwang.areas.selectors import area_code_chains
from shouwang.core import clock
from shouwang.core.db import chunks, fetch_one
from shouwang.core.errors import NotFound, ValidationFailed
from shouwang.policy.models import PolicyVersion
from shouwang.policy.rules import Ruleset
from shouwang.policy.rules.model import CASE_STATUSES, CODE_FLAGS, MEASURES, ZONE_KINDS, CodeRule
from shouwang.policy.selectors import policy_rulesets, ruleset_in_force
from shouwang.status.enums import FactKind
from shouwang.status.models import PersonStatus, StatusFact

ALLOWED_VALUES = {FactKind.MEASURE: tuple(MEASURES), FactKind.CASE: CASE_STATUSES, FactKind.ZONE: ZONE_KINDS,
                  FactKind.FLAG: CODE_FLAGS}
CHUNK = 900  # ids per IN (...) query: under SQLite's oldest limit of 999 variables


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
    chains = area_code_chains(paths.values())
    out = {}
    for pid, area_id in person_area_ids.items():
        out[pid] = ruleset_in_force(on, chains.get(paths.get(area_id, ""), ()))
    return out


def _facts_of(ids) -> dict[int, list]:
    facts: dict[int, list] = {pid: [] for pid in ids}
    for f in StatusFact.objects.filter(person_id__in=list(ids), withdrawn_at__isnull=True):
        facts[f.person_id].append(f)
    return facts


def _area_ids(ids) -> dict[int, int]:
    from shouwang.people.models import Person

    return dict(Person.objects.filter(id__in=list(ids)).values_list("id", "area_id"))


def _default_view(rules: Ruleset) -> StatusView:
    default = rules.codes[-1]
    return StatusView(default.colour, default.id, default.reason_zh, default.reason_en, None, rules.id, [])


def status_refresh(person_ids, *, on: dt.date | None = None) -> dict[int, StatusView]:
    """Recompute and store the status of these people for the business day; people without any current or future
    fact lose their row (they are green). Status for a past day (a late scan) is `status_on`, which stores nothing."""
    on = on or clock.today()
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    views, keep, drop = {}, [], []
    for chunk in chunks(ids, CHUNK):
        facts = _facts_of(chunk)
        rules = _rules_for(_area_ids(chunk), on)
        for pid in chunk:
            if pid not in rules:  # no such person (any more): nothing to store
                drop.append(pid)
                continue
            view = derive(facts[pid], rules[pid], on)
            views[pid] = view
            if any(f.until is None or f.until >= on for f in facts[pid]):
                keep.append(PersonStatus(person_id=pid, colour=view.colour, rule=view.rule, reason_zh=view.reason_zh,
                                         reason_en=view.reason_en, reasons=view.reasons, changes_on=view.changes_on,
                                         policy_version=view.policy_version, computed_for=on))
            else:
                drop.append(pid)
    with transaction.atomic():
        for chunk in chunks(drop, CHUNK):
            PersonStatus.objects.filter(person_id__in=chunk).delete()
        PersonStatus.objects.bulk_create(keep, batch_size=500, update_conflicts=True, unique_fields=["person"],
                                         update_fields=["colour", "rule", "reason_zh", "reason_en", "reasons",
                                                        "changes_on", "policy_version", "computed_for",
                                                        "computed_at"])
    return views


def status_on(pairs) -> dict[tuple[int, dt.date], StatusView]:
    """The status of people on given days, derived from their facts and stored nowhere (a scan uploaded late is
    stamped with the colour of its own day). `pairs` are (person id, date); a person that does not exist, or a day
    no policy version covers, is left out of the answer."""
    by_day: dict[dt.date, set[int]] = {}
    for pid, day in pairs:
        by_day.setdefault(day, set()).add(pid)
    out: dict[tuple[int, dt.date], StatusView] = {}
    everyone = sorted(set().union(*by_day.values())) if by_day else []
    for chunk in chunks(everyone, CHUNK):
        facts = _facts_of(chunk)
        areas = _area_ids(chunk)
        for day, pids in by_day.items():
            wanted = {pid: areas[pid] for pid in chunk if pid in pids and pid in areas}
            if not wanted:
                continue
            try:
                rules = _rules_for(wanted, day)
            except NotFound:  # a day before any policy version took effect: no colour to give
                continue
            defaults: dict[str, StatusView] = {}
            for pid in wanted:
                if facts[pid]:
                    out[(pid, day)] = derive(facts[pid], rules[pid], day)
                else:
                    ruleset = rules[pid]
                    if ruleset.id not in defaults:
                        defaults[ruleset.id] = _default_view(ruleset)
                    out[(pid, day)] = defaults[ruleset.id]
    return out


def status_sql(person_id_sql: str, alias: str = "ps") -> tuple[str, str]:
    """The SQL a busy read adds to its own query to get today's status in the same round trip: (the select list,
    the LEFT JOIN clause) for the person whose id is the SQL expression `person_id_sql`. The row it selects goes to
    status_from_row(). The select list has the person's stored row and the freshness of the policy versions (the
    same key policy_rulesets() checks), so a person without a row (green) costs no further query."""
    ps, pv = PersonStatus._meta, PolicyVersion._meta
    cols = ", ".join(f"{alias}.{ps.get_field(f).column}" for f in ROW_FIELDS)
    return (f"{cols}, (SELECT MAX(updated_at) FROM {pv.db_table}), (SELECT MAX(id) FROM {pv.db_table}), "
            f"(SELECT COUNT(*) FROM {pv.db_table})",
            f"LEFT JOIN {ps.db_table} {alias} ON {alias}.{ps.get_field('person').column} = {person_id_sql}")


def _status_sql() -> str:
    columns, join = status_sql("%s")
    return f"SELECT {columns} FROM (SELECT 1 AS one) one {join}"


ROW_FIELDS = ("colour", "rule", "reason_zh", "reason_en", "changes_on", "policy_version", "reasons", "computed_for")
_STATUS_SQL: list[str] = []
_defaults: dict = {"key": None, "views": {}}  # the default (green) view per day, for one state of the policy table


def _as_date(value) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _default_for(person_id: int, on: dt.date, policy_key: tuple) -> StatusView:
    if _defaults["key"] != policy_key:
        _defaults.update(key=policy_key, views={})
    views = _defaults["views"]
    if on not in views:
        overrides = any(r.scope for r in policy_rulesets().values())
        views[on] = None if overrides else _default_view(ruleset_in_force(on))
    if views[on] is not None:
        return views[on]
    rules = _rules_for(_area_ids([person_id]), on)  # a county override may have its own default rule
    return _default_view(rules[person_id] if person_id in rules else ruleset_in_force(on))


def status_get(person_id: int, *, on: dt.date | None = None) -> StatusView:
    """A person's status: today's from the stored row (one query, also for a green person without a row), recomputed
    and stored when the row is from an earlier day; another day's is derived from the facts and not stored."""
    today = clock.today()
    on = on or today
    if on != today:
        view = status_on([(person_id, on)]).get((person_id, on))
        return view if view is not None else _default_view(ruleset_in_force(on))
    if not _STATUS_SQL:
        _STATUS_SQL.append(_status_sql())
    return status_from_row(person_id, fetch_one(_STATUS_SQL[0], [person_id]))


def status_from_row(person_id: int, row) -> StatusView:
    """Today's status from the columns of status_sql() (recomputed and stored if the row is from an earlier day)."""
    on = clock.today()
    *row, max_updated, max_id, count = row
    colour, rule, reason_zh, reason_en, changes_on, version, reasons, computed_for = row
    if colour is None:  # no current or future fact: the default rule (green)
        return _default_for(person_id, on, (str(max_updated), max_id, count))
    if _as_date(computed_for) != on:
        return status_refresh([person_id], on=on)[person_id]
    return StatusView(colour, rule, reason_zh, reason_en, _as_date(changes_on), version,
                      json.loads(reasons) if isinstance(reasons, str | bytes) else reasons)


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
    existing: dict[int, StatusFact] = {}
    for chunk in chunks(ids, CHUNK):
        existing.update((f.person_id, f) for f in StatusFact.objects.filter(
            person_id__in=chunk, kind=kind, value=value, source=source, source_id=source_id,
            withdrawn_at__isnull=True))
    now = timezone.now()
    changed = []
    for f in existing.values():
        if (f.since, f.until, f.note) != (since, until, note):
            f.since, f.until, f.note, f.updated_at = since, until, note, now
            changed.append(f)
    StatusFact.objects.bulk_update(changed, ["since", "until", "note", "updated_at"], batch_size=500)
    StatusFact.objects.bulk_create([StatusFact(person_id=pid, kind=kind, value=value, since=since, until=until,
                                               source=source, source_id=source_id, note=note)
                                    for pid in ids if pid not in existing], batch_size=500)
    status_refresh(ids)
    return len(ids)


def has_active_fact(*, person_id: int, kind: str, values) -> bool:
    """Whether one of these values is said about the person and not withdrawn."""
    return StatusFact.objects.filter(person_id=person_id, kind=kind, value__in=list(values),
                                     withdrawn_at__isnull=True).exists()


@transaction.atomic
def fact_withdraw(*, source: str, source_id: str = "", person_ids=None) -> int:
    """Withdraw the facts a source published (e.g. a zone lifted, a recheck negative)."""
    qs = StatusFact.objects.filter(source=source, source_id=source_id, withdrawn_at__isnull=True)
    if person_ids is not None:
        wanted = sorted(set(person_ids))
        if len(wanted) > CHUNK:
            return sum(fact_withdraw(source=source, source_id=source_id, person_ids=chunk)
                       for chunk in chunks(wanted, CHUNK))
        qs = qs.filter(person_id__in=wanted)
    ids = list(qs.values_list("person_id", flat=True))
    now = timezone.now()
    qs.update(withdrawn_at=now, updated_at=now)
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
