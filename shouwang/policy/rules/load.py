"""Read policy files (TOML), fold a version onto its base, validate everything, and build a Ruleset.

A file is either a national version (`base` names the version it changes, "" for a complete one) or a local
override (`scope` = an area code; it applies while its `base` is the national version in force). A later file
changes only what it names: tables merge key by key, lists are replaced whole, and a category with
`removed = true` is no longer identified. A broken file raises PolicyFileError naming the file and the field;
nothing of it is used.
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from shouwang.core.errors import DomainError
from shouwang.policy.rules.model import (
    ANCHORS,
    CASE_CONTEXTS,
    CASE_STATUSES,
    CODE_FLAGS,
    COLOURS,
    CONFIDENCE,
    MEASURES,
    POOL_MODES,
    RESPONSIBLE_ROLES,
    UNTIL,
    ZONE_KINDS,
    CategorySpec,
    CodeRule,
    Param,
    PhaseSpec,
    PoolingSpec,
    Ruleset,
    ZoneSpec,
    ZoneStep,
)

# Parameters every complete version must define, with their type.
REQUIRED_PARAMS = {
    "lookback_days": int,
    "day1_offset": int,
    "secondary_contacts": bool,
    "reclassify_first_tests": int,
    "late_intake_test": bool,
    "min_test_gap_hours": int,
    "pool_recheck_deadline_hours": int,
    "lab_repooling_allowed": bool,
    "regional_testing_hours": int,
    "code_checks_required": bool,
    "uncounted_case_contexts": list,
    "site_reset_floors": int,
    "responsible_roles": list,
    "district_mass_testing": str,
    "max_tests_per_day": int,
    "investigation_hours": int,
    "contact_transfer_hours": int,
}
MASS_TESTING = ("allowed", "outbreak_only", "no")


class PolicyFileError(DomainError):
    def __init__(self, file: str, field: str, zh: str, en: str):
        super().__init__(code="policy_invalid", field=field, status=422,
                         message_zh=f"政策文件 {file} 的 {field}：{zh}", message_en=f"policy file {file}, {field}: {en}")
        self.file = file


@dataclass(frozen=True)
class VersionFile:
    id: str
    base: str
    scope: str
    effective_from: dt.date
    name: str  # file name, for messages
    data: dict
    sha256: str = ""

    @property
    def is_local(self) -> bool:
        return bool(self.scope)


def parse_file(name: str, text: str, sha256: str = "") -> VersionFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(name, "(toml)", f"不是有效的TOML：{exc}", f"not valid TOML: {exc}") from None
    head = data.get("version")
    if not isinstance(head, dict):
        raise PolicyFileError(name, "version", "缺少 [version] 表", "the [version] table is missing")
    for key in ("id", "effective_from"):
        if key not in head:
            raise PolicyFileError(name, f"version.{key}", "缺少此项", "missing")
    if not isinstance(head["effective_from"], dt.date) or isinstance(head["effective_from"], dt.datetime):
        raise PolicyFileError(name, "version.effective_from", "应为日期，如 2022-06-28",
                              "must be a date such as 2022-06-28")
    for key in ("id", "base", "scope"):
        if not isinstance(head.get(key, ""), str):
            raise PolicyFileError(name, f"version.{key}", "应为文字", "must be text")
    return VersionFile(id=head["id"], base=head.get("base", ""), scope=head.get("scope", ""),
                       effective_from=head["effective_from"], name=name, data=data, sha256=sha256)


def read_dir(directory: Path) -> list[tuple[str, str]]:
    """(file name, text) of every *.toml in the directory, in name order."""
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.toml"))]


def merge(base: dict, change: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not value.get("removed"):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def chain_of(file: VersionFile, by_id: dict[str, VersionFile]) -> list[VersionFile]:
    chain, seen = [file], {file.id}
    while chain[0].base:
        parent = by_id.get(chain[0].base)
        if parent is None:
            raise PolicyFileError(chain[0].name, "version.base", f"基础版本 {chain[0].base} 不存在",
                                  f"base version {chain[0].base} does not exist")
        if parent.id in seen:
            raise PolicyFileError(chain[0].name, "version.base", "版本循环引用", "versions refer to each other in a loop")
        if parent.effective_from > chain[0].effective_from:
            raise PolicyFileError(chain[0].name, "version.effective_from", f"早于其基础版本 {parent.id} 的生效日期",
                                  f"is earlier than its base version {parent.id}")
        chain.insert(0, parent)
        seen.add(parent.id)
    return chain


def build(file: VersionFile, by_id: dict[str, VersionFile]) -> Ruleset:
    """Fold the file onto its bases and validate the result."""
    chain = chain_of(file, by_id)
    data: dict = {}
    origin: dict[str, str] = {}
    for f in chain:
        data = merge(data, {k: v for k, v in f.data.items() if k != "version"})
        for section in ("params", "categories", "zones", "pooling"):
            for key in f.data.get(section, {}):
                origin[f"{section}.{key}"] = f.id
        if "codes" in f.data:
            origin["codes"] = f.id
    return _Validator(file, chain, data, origin).ruleset()


class _Validator:
    def __init__(self, file: VersionFile, chain: list[VersionFile], data: dict, origin: dict[str, str]):
        self.file, self.chain, self.data, self.origin = file, chain, data, origin

    def fail(self, field: str, zh: str, en: str):
        # Name the file that set the field when it is not the one being loaded.
        owner = self.origin.get(".".join(field.split(".")[:2]))
        name = self.file.name
        if owner and owner != self.file.id:
            name = f"{self.file.name}（{owner}）"
        raise PolicyFileError(name, field, zh, en)

    def get(self, table: dict, key: str, path: str, kind, default=...):
        if key not in table:
            if default is ...:
                self.fail(f"{path}.{key}", "缺少此项", "missing")
            return default
        value = table[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(f"{path}.{key}", "应为整数", "must be a whole number")
        if kind is not int and not isinstance(value, kind):
            names = {str: ("文字", "text"), bool: ("true 或 false", "true or false"), list: ("列表", "a list"),
                     dict: ("表", "a table")}
            zh, en = names.get(kind, ("正确类型", "of the right type"))
            self.fail(f"{path}.{key}", f"应为{zh}", f"must be {en}")
        return value

    def choice(self, value: str, allowed, path: str):
        if value not in allowed:
            self.fail(path, f"“{value}”不在允许的取值中（{'、'.join(allowed)}）",
                      f"'{value}' is not one of {', '.join(allowed)}")
        return value

    def sources(self, table: dict, path: str) -> tuple[str, ...]:
        return tuple(str(s) for s in self.get(table, "sources", path, list, []))

    def confidence(self, table: dict, path: str) -> str:
        return self.choice(self.get(table, "confidence", path, str), CONFIDENCE, f"{path}.confidence")

    def ruleset(self) -> Ruleset:
        head = self.file.data["version"]
        params = self.params()
        categories, removed = self.categories()
        top = self.chain[-1]
        national = [f for f in self.chain if not f.scope]
        title_source = national[-1].data["version"] if national else head
        return Ruleset(
            id=self.file.id, chain=tuple(f.id for f in self.chain),
            title_zh=head.get("title_zh", title_source.get("title_zh", self.file.id)),
            title_en=head.get("title_en", title_source.get("title_en", self.file.id)),
            document=head.get("document", ""), effective_from=top.effective_from, scope=top.scope,
            params=params, categories=categories, removed=removed, zones=self.zones(), pooling=self.pooling(),
            codes=self.codes(), sources=tuple(head.get("sources", [])), summary_zh=head.get("summary_zh", ""),
            summary_en=head.get("summary_en", ""), rule_origin=self.origin,
        )

    def params(self) -> dict[str, Param]:
        table = self.get(self.data, "params", "", dict, {})
        out = {}
        for key, kind in REQUIRED_PARAMS.items():
            path = f"params.{key}"
            entry = self.get(table, key, "params", dict)
            value = self.get(entry, "value", path, kind)
            if kind is int and value < 0:
                self.fail(f"{path}.value", "不能为负数", "must not be negative")
            out[key] = Param(key=key, value=tuple(value) if isinstance(value, list) else value,
                             rule=self.get(entry, "rule", path, str), confidence=self.confidence(entry, path),
                             sources=self.sources(entry, path), note_zh=entry.get("note_zh", ""),
                             note_en=entry.get("note_en", ""))
        for context in out["uncounted_case_contexts"].value:
            self.choice(context, tuple(CASE_CONTEXTS), "params.uncounted_case_contexts.value")
        self.choice(out["district_mass_testing"].value, MASS_TESTING, "params.district_mass_testing.value")
        roles = out["responsible_roles"].value
        for role in roles:
            self.choice(role, tuple(RESPONSIBLE_ROLES), "params.responsible_roles.value")
        if not roles or len(set(roles)) != len(roles):
            self.fail("params.responsible_roles.value", "至少一个角色且不得重复", "at least one role, none repeated")
        unknown = set(table) - set(REQUIRED_PARAMS)
        if unknown:
            self.fail(f"params.{sorted(unknown)[0]}", "未知参数", "unknown parameter")
        return out

    def phase(self, table: dict, path: str) -> PhaseSpec:
        measure = self.choice(self.get(table, "measure", path, str), tuple(MEASURES), f"{path}.measure")
        days = self.get(table, "days", path, int, None)
        until = self.get(table, "until", path, str, "")
        if (days is None) == (not until):
            self.fail(f"{path}.days", "须给出天数（days）或结束条件（until）之一",
                      "give either a number of days (days) or an end condition (until)")
        if until:
            self.choice(until, tuple(UNTIL), f"{path}.until")
        if days is not None and days < 1:
            self.fail(f"{path}.days", "至少为1天", "must be at least 1")
        tests = tuple(self.get(table, "tests", path, list, []))
        antigen = tuple(self.get(table, "antigen_tests", path, list, []))
        for key, values in (("tests", tests), ("antigen_tests", antigen)):
            for day in values:
                if isinstance(day, bool) or not isinstance(day, int) or day < 1 or (days is not None and day > days):
                    span = f"1–{days}" if days is not None else "≥1"
                    self.fail(f"{path}.{key}", f"检测日 {day} 不在本阶段内（第{span}天）",
                              f"test day {day} lies outside the phase (days {span})")
            if list(values) != sorted(set(values)):
                self.fail(f"{path}.{key}", "检测日须递增且不重复", "test days must increase and not repeat")
        every = self.get(table, "test_every_days", path, int, 0)
        colour = self.choice(self.get(table, "colour", path, str, "green"), COLOURS, f"{path}.colour")
        return PhaseSpec(measure=measure, days=days, until=until, tests=tests, antigen_tests=antigen,
                         test_every_days=every, colour=colour, note_zh=table.get("note_zh", ""),
                         note_en=table.get("note_en", ""))

    def categories(self) -> tuple[dict[str, CategorySpec], dict[str, tuple[str, str, str]]]:
        table = self.get(self.data, "categories", "", dict)
        out, removed = {}, {}
        for key, entry in table.items():
            path = f"categories.{key}"
            if not isinstance(entry, dict):
                self.fail(path, "应为表", "must be a table")
            if entry.get("removed"):
                removed[key] = (self.get(entry, "rule", path, str), entry.get("note_zh", ""), entry.get("note_en", ""))
                continue
            follows = self.get(entry, "follows", path, str, "")
            phases_raw = self.get(entry, "phases", path, list, [])
            if not follows and not phases_raw:
                self.fail(f"{path}.phases", "至少需要一个阶段", "needs at least one phase")
            phases = tuple(self.phase(p, f"{path}.phases[{i}]") for i, p in enumerate(phases_raw))
            gap = self.data.get("params", {}).get("min_test_gap_hours", {}).get("value", 0)
            for i, p in enumerate(phases):
                if p.measure == "three_days_two_tests" and any((b - a) * 24 < gap for a, b in zip(p.tests, p.tests[1:], strict=False)):
                    self.fail(f"{path}.phases[{i}].tests", f"两次检测间隔须不少于 min_test_gap_hours（{gap}小时）",
                              f"the tests must be at least min_test_gap_hours ({gap} h) apart")
            open_ended = [i for i, p in enumerate(phases) if p.days is None]
            if open_ended and open_ended != [len(phases) - 1]:
                self.fail(f"{path}.phases", "只有最后一个阶段可以不定天数", "only the last phase may be open-ended")
            replace = self.get(entry, "replace_measures", path, dict, {})
            for old, new in replace.items():
                self.choice(old, tuple(MEASURES), f"{path}.replace_measures")
                self.choice(new, tuple(MEASURES), f"{path}.replace_measures.{old}")
            alternative = self.get(entry, "alternative_measure", path, str, "")
            if alternative:
                self.choice(alternative, tuple(MEASURES), f"{path}.alternative_measure")
            out[key] = CategorySpec(
                key=key, rule=self.get(entry, "rule", path, str), label_zh=self.get(entry, "label_zh", path, str),
                label_en=self.get(entry, "label_en", path, str),
                anchor=self.choice(self.get(entry, "anchor", path, str), tuple(ANCHORS), f"{path}.anchor"),
                confidence=self.confidence(entry, path), sources=self.sources(entry, path),
                release_zh=self.get(entry, "release_zh", path, str), release_en=self.get(entry, "release_en", path, str),
                phases=phases, follows=follows, replace_measures=tuple(replace.items()),
                alternative_zh=entry.get("alternative_zh", ""), alternative_en=entry.get("alternative_en", ""),
                alternative_measure=alternative, note_zh=entry.get("note_zh", ""), note_en=entry.get("note_en", ""))
        for key, spec in out.items():
            if spec.follows and spec.follows not in out:
                self.fail(f"categories.{key}.follows", f"类别 {spec.follows} 在本版本中不存在",
                          f"category {spec.follows} does not exist in this version")
        return out, removed

    def zones(self) -> dict[str, ZoneSpec]:
        table = self.get(self.data, "zones", "", dict)
        out = {}
        for kind, entry in table.items():
            path = f"zones.{kind}"
            self.choice(kind, ZONE_KINDS, path)
            if entry.get("removed"):
                continue
            steps = []
            for i, step in enumerate(self.get(entry, "steps", path, list, [])):
                spath = f"{path}.steps[{i}]"
                quiet = self.get(step, "quiet_days", spath, int)
                round_day = self.get(step, "round_on_day", spath, int, 0)
                if round_day > quiet:
                    self.fail(f"{spath}.round_on_day", f"筛查日 {round_day} 超出连续无新增的 {quiet} 天",
                              f"screening day {round_day} lies beyond the {quiet} quiet days")
                steps.append(ZoneStep(
                    to=self.choice(self.get(step, "to", spath, str), (*ZONE_KINDS, "lifted"), f"{spath}.to"),
                    quiet_days=quiet, rule=self.get(step, "rule", spath, str), confidence=self.confidence(step, spath),
                    sources=self.sources(step, spath), round_on_day=round_day,
                    final_round_within_hours=self.get(step, "final_round_within_hours", spath, int, 0),
                    note_zh=step.get("note_zh", ""), note_en=step.get("note_en", "")))
            out[kind] = ZoneSpec(
                kind=kind, label_zh=self.get(entry, "label_zh", path, str), label_en=self.get(entry, "label_en", path, str),
                measure=self.choice(self.get(entry, "measure", path, str), tuple(MEASURES), f"{path}.measure"),
                unit_zh=entry.get("unit_zh", ""), unit_en=entry.get("unit_en", ""), steps=tuple(steps),
                rule=self.get(entry, "rule", path, str), confidence=self.confidence(entry, path),
                sources=self.sources(entry, path))
        return out

    def pooling(self) -> dict[str, PoolingSpec]:
        table = self.get(self.data, "pooling", "", dict)
        out = {}
        for setting, entry in table.items():
            path = f"pooling.{setting}"
            out[setting] = PoolingSpec(
                setting=setting, label_zh=self.get(entry, "label_zh", path, str),
                label_en=self.get(entry, "label_en", path, str),
                mode=self.choice(self.get(entry, "mode", path, str), tuple(POOL_MODES), f"{path}.mode"),
                rule=self.get(entry, "rule", path, str), confidence=self.confidence(entry, path),
                sources=self.sources(entry, path))
        return out

    def codes(self) -> tuple[CodeRule, ...]:
        table = self.get(self.data, "codes", "", dict)
        rules = []
        for i, entry in enumerate(self.get(table, "rules", "codes", list)):
            path = f"codes.rules[{i}]"
            rules.append(CodeRule(
                id=self.get(entry, "id", path, str),
                colour=self.choice(self.get(entry, "colour", path, str), COLOURS, f"{path}.colour"),
                reason_zh=self.get(entry, "reason_zh", path, str), reason_en=self.get(entry, "reason_en", path, str),
                measures=tuple(self.choice(m, tuple(MEASURES), f"{path}.measures")
                               for m in self.get(entry, "measures", path, list, [])),
                case_statuses=tuple(self.choice(s, CASE_STATUSES, f"{path}.case_statuses")
                                    for s in self.get(entry, "case_statuses", path, list, [])),
                zones=tuple(self.choice(z, ZONE_KINDS, f"{path}.zones") for z in self.get(entry, "zones", path, list, [])),
                flags=tuple(self.choice(f, CODE_FLAGS, f"{path}.flags") for f in self.get(entry, "flags", path, list, [])),
                turns_green_zh=entry.get("turns_green_zh", ""), turns_green_en=entry.get("turns_green_en", ""),
                confidence=self.confidence(entry, path), sources=self.sources(entry, path)))
        if not rules or any(r.measures or r.case_statuses or r.zones or r.flags for r in rules[-1:]):
            self.fail("codes.rules", "最后一条须为不带条件的默认规则（通常为绿码）",
                      "the last rule must be the default without conditions (usually green)")
        return tuple(rules)


def load_all(files: list[tuple[str, str]]) -> tuple[dict[str, Ruleset], dict[str, VersionFile], list[PolicyFileError]]:
    """Parse and build every file; a broken file is reported and left out, the others still load."""
    parsed: dict[str, VersionFile] = {}
    errors: list[PolicyFileError] = []
    for name, text in files:
        try:
            f = parse_file(name, text)
        except PolicyFileError as exc:
            errors.append(exc)
            continue
        if f.id in parsed:
            errors.append(PolicyFileError(name, "version.id", f"版本号 {f.id} 与 {parsed[f.id].name} 重复",
                                          f"version id {f.id} is also used by {parsed[f.id].name}"))
            continue
        parsed[f.id] = f
    rulesets: dict[str, Ruleset] = {}
    failed: set[str] = set()

    def depth(f: VersionFile) -> int:
        try:
            return len(chain_of(f, parsed))
        except PolicyFileError:
            return 0

    for f in sorted(parsed.values(), key=depth):  # bases before the versions built on them
        try:
            if f.base in failed:
                raise PolicyFileError(f.name, "version.base", f"基础版本 {f.base} 未能加载",
                                      f"base version {f.base} did not load")
            rulesets[f.id] = build(f, parsed)
        except PolicyFileError as exc:
            errors.append(exc)
            failed.add(f.id)
    valid = {k: v for k, v in parsed.items() if k not in failed}
    return rulesets, valid, errors


def in_force(rulesets: dict[str, Ruleset], on: dt.date, area_codes: tuple[str, ...] = ()) -> Ruleset | None:
    """The ruleset in force on a date for an area: the latest national version that has taken effect, or the
    latest local override of that very version whose scope is the area or one of its ancestors (area_codes)."""
    national = [r for r in rulesets.values() if not r.scope and r.effective_from <= on]
    if not national:
        return None
    current = max(national, key=lambda r: (r.effective_from, r.id))
    local = [r for r in rulesets.values()
             if r.scope and r.scope in area_codes and r.effective_from <= on and len(r.chain) >= 2
             and r.chain[-2] == current.id]
    if local:
        return max(local, key=lambda r: (len(r.scope), r.effective_from, r.id))
    return current
