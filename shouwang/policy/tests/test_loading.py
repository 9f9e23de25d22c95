"""Broken policy files give a clear error naming the file and the field; a county override changes only what it
names; the previous valid version stays in force in the database."""

import datetime as dt
import shutil
from pathlib import Path

import pytest

from shouwang.core.models import AuditEvent
from shouwang.policy.models import PolicyVersion
from shouwang.policy.rules import load_all, measure_plan
from shouwang.policy.rules.load import in_force, read_dir
from shouwang.policy.selectors import policy_rulesets, ruleset_in_force
from shouwang.policy.services import policy_sync

VERSIONS = Path(__file__).resolve().parents[1] / "versions"
LOCAL = """
[version]
id = "141027-L1"
title_zh = "浮山县本地规则"
effective_from = 2022-07-15
base = "V9"
scope = "141027"

[params.lookback_days]
value = 4
rule = "C1-L"
confidence = "LOC"
note_zh = "浮山县：发病前4天"

[params.min_test_gap_hours]
value = 24
rule = "P6-L"
confidence = "LOC"
"""


def texts(**replace) -> list[tuple[str, str]]:
    files = dict(read_dir(VERSIONS))
    files.update(replace)
    return list(files.items())


def test_a_county_override_changes_only_what_it_names_and_applies_while_its_base_is_in_force():
    rules, _, errors = load_all(texts(**{"local-141027.toml": LOCAL}))
    assert errors == []
    local = rules["141027-L1"]
    assert (local.value("lookback_days"), local.param("lookback_days").rule) == (4, "C1-L")
    assert local.categories == rules["V9"].categories
    area = ("140000", "141000", "141027", "141027100")
    assert in_force(rules, dt.date(2022, 7, 20), area).id == "141027-L1"
    assert in_force(rules, dt.date(2022, 7, 10), area).id == "V9"  # before the override took effect
    assert in_force(rules, dt.date(2022, 7, 20), ("140000", "141000", "141022")).id == "V9"  # another county
    assert in_force(rules, dt.date(2022, 11, 12), area).id == "V20"  # written for V9: not applied under V20


@pytest.mark.parametrize(("change", "file", "field", "zh"), [
    (("days = 7\ntests = [1, 2, 3, 5, 7]", "days = 7\ntests = [1, 2, 3, 5, 8]"), "v09.toml",
     "categories.close_contact.phases[0].tests", "检测日 8 不在本阶段内（第1–7天）"),
    (('rule = "C1"\n', ""), "v09.toml", "params.lookback_days.rule", "缺少此项"),
    (('anchor = "arrival"', 'anchor = "landing"'), "v09.toml", "categories.international_arrival.anchor",
     "“landing”不在允许的取值中"),
    (("effective_from = 2022-06-28", "effective_from = 2022-06-31"), "v09.toml", "(toml)", "不是有效的TOML"),
])
def test_broken_files_name_the_file_and_the_field(change, file, field, zh):
    original = dict(read_dir(VERSIONS))[file]
    assert change[0] in original
    rules, _, errors = load_all(texts(**{file: original.replace(change[0], change[1], 1)}))
    assert [(e.file, e.field) for e in errors][:1] == [(file, field)]
    assert zh in errors[0].message_zh
    assert "V9" not in rules  # a broken file never half-loads ...
    assert "V20" not in rules  # ... and nothing built on it loads either


def test_a_test_day_outside_its_phase_in_a_later_version_names_that_file():
    v20 = dict(read_dir(VERSIONS))["v20.toml"].replace("tests = [1, 2, 3, 5]", "tests = [1, 2, 3, 6]", 1)
    rules, _, errors = load_all(texts(**{"v20.toml": v20}))
    assert [(e.file, e.field) for e in errors] == [("v20.toml", "categories.close_contact.phases[0].tests"),
                                                   ("v20a.toml", "version.base"), ("v10.toml", "version.base")]
    assert errors[0].message_en == ("policy file v20.toml, categories.close_contact.phases[0].tests: "
                                    "test day 6 lies outside the phase (days 1–5)")
    assert sorted(rules) == ["V9"]


@pytest.mark.django_db
def test_sync_keeps_the_previous_valid_version_in_force_when_a_file_breaks(tmp_path):
    directory = tmp_path / "versions"
    shutil.copytree(VERSIONS, directory)
    report = policy_sync(directories=[directory])
    assert sorted(report.unchanged) == ["V10", "V20", "V20a", "V9"]  # loaded at migrate already
    (directory / "local-141027.toml").write_text(LOCAL, encoding="utf-8")
    report = policy_sync(directories=[directory])
    assert report.loaded == ["141027-L1"]
    assert AuditEvent.objects.filter(object_type="policy.version", object_id="141027-L1", action="create").count() == 1

    broken = LOCAL.replace("value = 4", 'value = "four"')
    (directory / "local-141027.toml").write_text(broken, encoding="utf-8")
    report = policy_sync(directories=[directory])
    assert report.kept == ["141027-L1"]
    row = PolicyVersion.objects.get(version_id="141027-L1")
    assert row.error.startswith("政策文件 local-141027.toml 的 params.lookback_days.value：应为整数")
    assert "value = 4" in row.content  # the last valid content stays
    rules = ruleset_in_force(dt.date(2022, 7, 20), ("141027",))
    assert (rules.id, rules.value("lookback_days")) == ("141027-L1", 4)
    assert sorted(policy_rulesets()) == ["141027-L1", "V10", "V20", "V20a", "V9"]

    (directory / "local-141027.toml").write_text(LOCAL.replace("value = 4", "value = 3"), encoding="utf-8")
    report = policy_sync(directories=[directory])
    assert report.loaded == ["141027-L1"]
    assert PolicyVersion.objects.get(version_id="141027-L1").error == ""
    assert ruleset_in_force(dt.date(2022, 7, 20), ("141027",)).value("lookback_days") == 3
    assert measure_plan(ruleset_in_force(dt.date(2022, 7, 20), ("141027",)), "close_contact",
                        dt.date(2022, 7, 20)).version == "141027-L1"


LOCAL_FIVE = """
[version]
id = "141027-L2"
effective_from = 2022-08-01
base = "V9"
scope = "141027"

[params.responsible_roles]
value = ["township_cadre", "village_cadre", "group_head", "family", "medical"]
rule = "R1-L"
confidence = "LOC"
note_zh = "醴陵式五包一"

[params.min_test_gap_hours]
value = 48
rule = "P6-L"
confidence = "LOC"

[categories.low_risk_area_traveller]
[[categories.low_risk_area_traveller.phases]]
measure = "three_days_two_tests"
days = 3
tests = [1, 3]
"""


def test_a_county_sets_its_own_five_for_one_roles_and_48_hours_between_the_two_tests():
    rules, _, errors = load_all(texts(**{"local-141027-2.toml": LOCAL_FIVE}))
    assert errors == []
    local = rules["141027-L2"]
    assert local.value("responsible_roles") == ("township_cadre", "village_cadre", "group_head", "family", "medical")
    assert rules["V9"].value("responsible_roles") == ("village_cadre", "grid_worker", "medical", "police", "volunteer")
    plan = measure_plan(local, "low_risk_area_traveller", dt.date(2022, 8, 2))
    assert [t.on for t in plan.tests] == [dt.date(2022, 8, 3), dt.date(2022, 8, 5)]
    assert ("P6-L", "两次检测间隔不少于48小时") in [(b.rule, b.zh) for b in plan.because]


def test_a_gap_the_test_days_cannot_keep_is_refused():
    broken = LOCAL_FIVE.replace("tests = [1, 3]", "tests = [1, 2]")
    _, _, errors = load_all(texts(**{"local-141027-2.toml": broken}))
    assert [(e.file, e.field) for e in errors] == [("local-141027-2.toml",
                                                    "categories.low_risk_area_traveller.phases[0].tests")]
    assert errors[0].message_zh.endswith("两次检测间隔须不少于 min_test_gap_hours（48小时）")
    unknown = LOCAL_FIVE.replace('"family"', '"neighbour"')
    _, _, errors = load_all(texts(**{"local-141027-2.toml": unknown}))
    assert errors[0].field == "params.responsible_roles.value"


@pytest.mark.django_db
def test_the_sync_command_reports_and_fails_on_a_broken_file(tmp_path, settings, capsys):
    from django.core.management import call_command

    (tmp_path / "local.toml").write_text(LOCAL.replace("value = 4", "value = -4"), encoding="utf-8")
    settings.SHOUWANG_POLICY_DIRS = [VERSIONS, tmp_path]
    with pytest.raises(SystemExit):
        call_command("policy_sync")
    err = capsys.readouterr().err
    assert "政策文件 local.toml 的 params.lookback_days.value：不能为负数" in err
    (tmp_path / "local.toml").write_text(LOCAL, encoding="utf-8")
    call_command("policy_sync")
    assert "已加载 loaded: 141027-L1" in capsys.readouterr().out
