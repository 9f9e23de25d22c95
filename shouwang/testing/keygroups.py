"""Periodic testing of key groups (重点人群定期检测, protocol-rules §5.4): who is overdue, and the status flag.

A person tagged with a key-group tag (people.enums.KEY_GROUP_TAGS) must have a PCR test at least every n days while
in the post. n comes from the policy in force for the person's area, as the open-ended phase (`until =
"leaves_post"`, `test_every_days`) of the person category their tag belongs to:

* cold-chain workers and isolation-site staff → `arrival_facing_worker` (P8, V9 [NAT]: in direct contact with
  arrivals, their goods or environment, PCR daily: n = 1);
* every other key group → `key_group_worker` (P8b, [LOC]: twice a week at least 3 days apart, so at most 4 days
  between two tests: n = 4). V10 (新十条) removes P8b: only high-risk posts keep their testing.

A person with several tags follows the strictest (smallest n). A category the version does not have (or has
removed) asks for nothing, so nobody of it is overdue and their flags are withdrawn on the next run.

A person's last test is the latest sample (TubeMember.added_at, any round or recheck tube, not removed) taken on
or before the day whose tube is negative or still pending. A positive tube does not count (the person is under
recheck or a first-screen positive, with their own facts); an invalid tube frees its members (removed), so it does
not count either. Antigen results do not count: the policy asks for PCR and names antigen a supplement (P8,
§5.3 "antigen adds to PCR").

Due and overdue, in calendar days (Asia/Shanghai): the next test is due by last day + n; from the day after, the
person is overdue by (day − due day) days. A key person with no test in the records is overdue from the first run
("key persons in the local database without a PCR test", §9.1: yellow), with no day count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation

from shouwang.areas.models import Area
from shouwang.core.audit import audit_record
from shouwang.core.errors import NotFound
from shouwang.core.models import AuditAction
from shouwang.people.enums import KEY_GROUP_TAGS, PersonTag
from shouwang.people.models import PersonTagging
from shouwang.policy.rules import Ruleset
from shouwang.policy.rules.load import in_force
from shouwang.policy.selectors import policy_rulesets
from shouwang.status.enums import FactKind
from shouwang.status.models import StatusFact
from shouwang.status.services import fact_publish, fact_withdraw
from shouwang.testing.enums import Result
from shouwang.testing.models import TubeMember

SOURCE = "testing.key_group"  # the status facts published here (source id "": one flag per person)
FLAG = "key_person_untested"  # a flag of the policy's code rules (V9: K6, yellow)

DAILY_CATEGORY = "arrival_facing_worker"  # P8
OTHER_CATEGORY = "key_group_worker"  # P8b
DAILY_TAGS = frozenset({PersonTag.COLD_CHAIN, PersonTag.QUARANTINE_STAFF})
# Which policy category sets the testing interval of each key-group tag.
TAG_CATEGORY: dict[str, str] = {str(tag): DAILY_CATEGORY if tag in DAILY_TAGS else OTHER_CATEGORY
                                for tag in KEY_GROUP_TAGS}
COUNTED_RESULTS = ("", Result.NEGATIVE)  # pending or negative tubes count as a test


@dataclass(frozen=True)
class Requirement:
    """How often a category of the ruleset asks for a PCR test while in the post, and where it says so."""

    category: str
    rule: str
    every_days: int
    policy_version: str
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class OverdueKeyPerson:
    person_id: int
    name: str
    id_number: str
    area_id: int
    area_name: str
    area_path: str
    tag: str  # the tag whose requirement applies (the strictest of the person's key-group tags)
    tags: tuple[str, ...]  # all the person's key-group tags
    requirement: Requirement
    last_test: dt.datetime | None  # the latest counted sample
    due_on: dt.date | None  # the last day of the interval: tested by then, the person was on time
    days_overdue: int | None  # None: never tested (in the records)

    @property
    def overdue_since(self) -> dt.date | None:
        return self.due_on + dt.timedelta(days=1) if self.due_on else None

    @property
    def tag_label(self) -> str:
        """The group's name in Chinese, whatever the request's language (reasons and fact notes are per language)."""
        with translation.override("zh-hans"):
            return str(PersonTag(self.tag).label)

    @property
    def tag_label_en(self) -> str:
        with translation.override("en"):
            return str(PersonTag(self.tag).label)

    @property
    def reason_zh(self) -> str:
        r = self.requirement
        head = f"{self.tag_label}：按{r.policy_version} {r.rule}每{r.every_days}天核酸一次"
        if self.last_test is None:
            return f"{head}，无核酸检测记录"
        return (f"{head}，最近一次采样{timezone.localdate(self.last_test).isoformat()}，"
                f"应于{self.due_on.isoformat()}前再检，已逾期{self.days_overdue}天")

    @property
    def reason_en(self) -> str:
        r = self.requirement
        head = f"{self.tag_label_en}: {r.policy_version} {r.rule} asks for a PCR test every {r.every_days} day(s)"
        if self.last_test is None:
            return f"{head}; no PCR test on record"
        return (f"{head}; last sampled {timezone.localdate(self.last_test).isoformat()}, next test due by "
                f"{self.due_on.isoformat()}, {self.days_overdue} day(s) overdue")


def requirement(rules: Ruleset, category: str) -> Requirement | None:
    """The category's periodic test interval in this ruleset, or None (no such category, or no periodic test)."""
    spec = rules.categories.get(category)
    if spec is None:
        return None
    for phase in spec.phases:
        if phase.days is None and phase.test_every_days > 0:
            return Requirement(category=category, rule=spec.rule, every_days=phase.test_every_days,
                               policy_version=rules.id, label_zh=spec.label_zh, label_en=spec.label_en)
    return None


def _rulesets_by_area(area_paths: dict[int, str], on: dt.date) -> dict[int, Ruleset]:
    """The ruleset in force on the day for each area: the national one, or a county override of an ancestor."""
    rulesets = policy_rulesets()

    def at(chain: tuple[str, ...]) -> Ruleset:
        found = in_force(rulesets, on, chain)
        if found is None:
            raise NotFound("该日期生效的政策版本", "policy version in force on that date", field="on")
        return found

    if not any(r.scope for r in rulesets.values()):
        national = at(())
        return {area_id: national for area_id in area_paths}
    prefixes = {p for path in area_paths.values() for p in Area.ancestor_paths(path)}
    codes = dict(Area.objects.filter(path__in=prefixes).values_list("path", "code"))
    out, by_chain = {}, {}
    for area_id, path in area_paths.items():
        chain = tuple(codes[p] for p in Area.ancestor_paths(path) if p in codes)
        if chain not in by_chain:
            by_chain[chain] = at(chain)
        out[area_id] = by_chain[chain]
    return out


def _end_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def overdue_key_persons(on: dt.date, area_path_prefix: str = "") -> list[OverdueKeyPerson]:
    """The key-group people living under the area path (everyone for "") who are overdue for their periodic test
    on the day, never-tested first, then most days overdue, then by area and person. Two grouped queries whatever
    the number of people (taggings with the people and areas; the last counted sample per person), plus one for
    the area codes when a county override exists."""
    taggings = PersonTagging.objects.filter(tag__in=sorted(TAG_CATEGORY), person__merged_into__isnull=True)
    if area_path_prefix:
        taggings = taggings.filter(person__area__in=Area.objects.subtree(area_path_prefix).values("id"))
    people: dict[int, dict] = {}
    for pid, tag, name, number, area_id, area_name, area_path in taggings.values_list(
            "person_id", "tag", "person__name", "person__id_number", "person__area_id", "person__area__name",
            "person__area__path"):
        row = people.setdefault(pid, {"name": name, "id_number": number, "area_id": area_id, "area_name": area_name,
                                      "area_path": area_path, "tags": []})
        row["tags"].append(tag)
    if not people:
        return []
    rules = _rulesets_by_area({r["area_id"]: r["area_path"] for r in people.values()}, on)
    last = dict(TubeMember.objects.filter(person_id__in=taggings.values("person_id"), removed_at__isnull=True,
                                          added_at__lt=_end_of(on))
                .filter(tube__result__in=COUNTED_RESULTS)
                .values("person_id").annotate(last=Max("added_at")).values_list("person_id", "last"))
    out = []
    for pid, row in people.items():
        ruleset = rules[row["area_id"]]
        needs = [(req, tag) for tag in sorted(row["tags"])
                 if (req := requirement(ruleset, TAG_CATEGORY[tag])) is not None]
        if not needs:
            continue
        req, tag = min(needs, key=lambda x: (x[0].every_days, x[1]))
        last_test = last.get(pid)
        due_on = days = None
        if last_test is not None:
            due_on = timezone.localdate(last_test) + dt.timedelta(days=req.every_days)
            if on <= due_on:
                continue
            days = (on - due_on).days
        out.append(OverdueKeyPerson(
            person_id=pid, name=row["name"], id_number=row["id_number"], area_id=row["area_id"],
            area_name=row["area_name"], area_path=row["area_path"], tag=tag, tags=tuple(sorted(row["tags"])),
            requirement=req, last_test=last_test, due_on=due_on, days_overdue=days))
    out.sort(key=lambda p: (p.days_overdue is not None, -(p.days_overdue or 0), p.area_path, p.person_id))
    return out


@dataclass
class FlagsReport:
    on: dt.date
    overdue: int = 0  # people overdue on the day
    flagged: int = 0  # flags published or whose dates changed by this run
    unchanged: int = 0  # overdue people already flagged as they should be
    cleared: int = 0  # flags withdrawn: tested again, tag removed, or the policy no longer asks


def _note(p: OverdueKeyPerson) -> str:
    r = p.requirement
    if p.due_on is None:
        return f"重点人群（{p.tag_label}）无核酸记录，按{r.policy_version} {r.rule}每{r.every_days}天一次"[:200]
    return f"重点人群（{p.tag_label}）应于{p.due_on.isoformat()}前核酸，未按期（{r.policy_version} {r.rule}）"[:200]


@transaction.atomic
def key_person_flags_refresh(on: dt.date) -> FlagsReport:
    """Publish the flag key_person_untested for every key-group person overdue on the day and withdraw it from
    everyone else who has it (source testing.key_group). Idempotent: a second run on the same day changes nothing.
    The flag starts on the first overdue day (or the day of the run for a person never tested) and stays until
    withdrawn; the person's colour follows the code rules of the policy in force (V9: K6, yellow)."""
    report = FlagsReport(on=on)
    overdue = overdue_key_persons(on)
    report.overdue = len(overdue)
    current = {pid: (since, note) for pid, since, note in StatusFact.objects.filter(
        source=SOURCE, source_id="", kind=FactKind.FLAG, value=FLAG, withdrawn_at__isnull=True)
        .values_list("person_id", "since", "note")}
    groups: dict[tuple[dt.date, str], list[int]] = defaultdict(list)
    for p in overdue:
        held = current.get(p.person_id)
        since = p.overdue_since or (held[0] if held else on)
        note = _note(p)
        if held == (since, note):
            report.unchanged += 1
            continue
        groups[(since, note)].append(p.person_id)
    for (since, note), ids in sorted(groups.items()):
        fact_publish(person_ids=ids, kind=FactKind.FLAG, value=FLAG, since=since, until=None, source=SOURCE,
                     source_id="", note=note)
        report.flagged += len(ids)
    still = {p.person_id for p in overdue}
    gone = sorted(set(current) - still)
    if gone:
        report.cleared = fact_withdraw(source=SOURCE, source_id="", person_ids=gone)
    if report.flagged or report.cleared:
        audit_record(actor=None, action=AuditAction.UPDATE, object_type="testing.key_group", object_id=on.isoformat(),
                     summary=f"重点人群定期检测 {on.isoformat()}：逾期{report.overdue}人，新标记{report.flagged}人，"
                             f"撤销{report.cleared}人", row_count=report.flagged + report.cleared)
    return report
