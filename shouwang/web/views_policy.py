"""The policy page: versions, two versions side by side, and "what would happen" for a category and a date."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import get_language

from shouwang.core import clock
from shouwang.core.errors import DomainError
from shouwang.policy.api import area_codes
from shouwang.policy.rules import MEASURES, Ruleset, measure_plan
from shouwang.policy.rules.model import CASE_CONTEXTS, CONFIDENCE
from shouwang.policy.rules.zones import LEVEL_NAMES
from shouwang.policy.selectors import policy_rulesets, policy_versions, ruleset_in_force


def _en() -> bool:
    return (get_language() or "").startswith("en")


def _pick(zh: str, en: str) -> str:
    return en if _en() and en else zh


def _days(days: tuple[int, ...], antigen: tuple[int, ...]) -> str:
    if not days and not antigen:
        return ""
    if _en():
        parts = [f"PCR day {', '.join(map(str, days))}" if days else "", f"antigen day {', '.join(map(str, antigen))}"
                 if antigen else ""]
    else:
        parts = [f"第{'、'.join(map(str, days))}天核酸" if days else "", f"第{'、'.join(map(str, antigen))}天抗原"
                 if antigen else ""]
    return "; ".join(p for p in parts if p) if _en() else "，".join(p for p in parts if p)


def category_summary(rules: Ruleset, key: str) -> tuple[str, str]:
    """(rule id, a one-line summary of the phases) for the comparison table."""
    if key in rules.removed:
        rule, zh, en = rules.removed[key]
        return rule, _pick("不再判定", "no longer identified")
    spec = rules.categories.get(key)
    if spec is None:
        return "", "—"
    source = rules.categories[spec.follows] if spec.follows else spec
    replace = dict(spec.replace_measures)
    parts = []
    for p in source.phases:
        measure = MEASURES[replace.get(p.measure, p.measure)]
        name = _pick(*measure)
        length = (f"{p.days} days" if _en() else f"{p.days}天") if p.days else ""
        tests = _days(p.tests, p.antigen_tests)
        if p.test_every_days:
            tests = _pick(f"每{p.test_every_days}天核酸", f"PCR every {p.test_every_days} day(s)")
        parts.append(" ".join(x for x in (name, length) if x) + (f"（{tests}）" if tests and not _en() else
                                                                  f" ({tests})" if tests else ""))
    return spec.rule, " → ".join(parts)


def zone_summary(rules: Ruleset, kind: str) -> tuple[str, str]:
    spec = rules.zones.get(kind)
    if spec is None:
        return "", _pick("不再划定", "no longer designated")
    if not spec.steps:
        return spec.rule, _pick("县内高、中风险区全部解除后恢复常态", "routine once all high and medium zones are lifted")
    parts = []
    for s in spec.steps:
        extra = ""
        if s.round_on_day:
            extra = _pick(f"，第{s.round_on_day}天全员核酸阴性", f", negative whole-area round on day {s.round_on_day}")
        elif s.final_round_within_hours:
            extra = _pick(f"，解除前{s.final_round_within_hours}小时内全员核酸阴性",
                          f", negative round within {s.final_round_within_hours} h before lifting")
        parts.append(_pick(f"连续{s.quiet_days}天无新增{extra} → {LEVEL_NAMES[s.to][0]}",
                           f"{s.quiet_days} quiet days{extra} → {LEVEL_NAMES[s.to][1]}"))
    return ", ".join(dict.fromkeys(s.rule for s in spec.steps)), "；".join(parts) if not _en() else "; ".join(parts)


def param_text(value) -> str:
    if isinstance(value, bool):
        return _pick("是", "yes") if value else _pick("否", "no")
    if isinstance(value, tuple | list):
        if not value:
            return _pick("无", "none")
        return ("、" if not _en() else ", ").join(_pick(*CASE_CONTEXTS[v]) if v in CASE_CONTEXTS else str(v)
                                                  for v in value)
    return str(value)


def _comparison(left: Ruleset, right: Ruleset) -> dict:
    keys = list(dict.fromkeys([*left.categories, *left.removed, *right.categories, *right.removed]))
    rows = []
    for key in keys:
        spec = left.categories.get(key) or right.categories.get(key)
        label = _pick(spec.label_zh, spec.label_en) if spec else key
        a, b = category_summary(left, key), category_summary(right, key)
        rows.append({"label": label, "left": a, "right": b, "changed": a[1] != b[1]})
    zones = []
    for kind in ("high", "medium", "low"):
        a, b = zone_summary(left, kind), zone_summary(right, kind)
        zones.append({"label": _pick(*LEVEL_NAMES[kind]), "left": a, "right": b, "changed": a[1] != b[1]})
    params = []
    for key in left.params:
        pa, pb = left.params[key], right.params[key]
        params.append({"key": key, "left": pa, "right": pb, "changed": pa.value != pb.value,
                       "left_text": param_text(pa.value), "right_text": param_text(pb.value),
                       "note": _pick(pb.note_zh or pa.note_zh, pb.note_en or pa.note_en)})
    return {"rows": rows, "zones": zones, "params": params}


@login_required
def policy_page(request):
    rulesets = policy_rulesets()
    national = sorted((r for r in rulesets.values() if not r.scope), key=lambda r: r.effective_from)
    today = clock.today()
    try:
        current = ruleset_in_force(today, area_codes(request.user)).id
    except DomainError:
        current = None
    ids = [r.id for r in national]
    left_id = request.GET.get("left") or ("V9" if "V9" in ids else ids[0])
    right_id = request.GET.get("right") or ("V20" if "V20" in ids else ids[-1])
    left, right = rulesets.get(left_id, national[0]), rulesets.get(right_id, national[-1])
    categories = [(k, _pick(s.label_zh, s.label_en)) for k, s in national[0].categories.items()]
    context = {
        "versions": [{"row": row, "rules": rulesets.get(row.version_id),
                      "title": _pick(rulesets[row.version_id].title_zh, rulesets[row.version_id].title_en)
                      if row.version_id in rulesets else row.title,
                      "summary": _pick(rulesets[row.version_id].summary_zh, rulesets[row.version_id].summary_en)
                      if row.version_id in rulesets else ""} for row in policy_versions()],
        "current": current, "today": today, "ids": list(rulesets), "left": left, "right": right,
        "compare": _comparison(left, right), "categories": categories, "confidence": CONFIDENCE,
        "whatif": whatif_context(request, national) if request.GET.get("category") else None,
        "category": request.GET.get("category", "close_contact"),
        "anchor": request.GET.get("anchor_date", today.isoformat()),
    }
    template = "web/_policy_whatif.html" if request.headers.get("HX-Request") and "category" in request.GET \
        else "web/policy.html"
    return render(request, template, context)


def whatif_context(request, national: list[Ruleset]) -> dict:
    """The plan under each national version, as if it were in force on the date."""
    category = request.GET.get("category", "")
    try:
        anchor = dt.date.fromisoformat(request.GET.get("anchor_date", ""))
    except ValueError:
        return {"error": _pick("请填写有效日期", "enter a valid date")}
    plans = []
    for rules in national:
        try:
            plan = measure_plan(rules, category, anchor, hypothetical=True)
            plans.append({"rules": rules, "plan": plan, "error": "",
                          "release": _pick(plan.release_zh, plan.release_en),
                          "because": [(b.rule, _pick(b.zh, b.en)) for b in plan.because],
                          "phases": [{"label": _pick(p.label_zh, p.label_en), "start": p.start, "end": p.end,
                                      "tests": p.tests, "colour": p.colour, "until": p.until} for p in plan.phases],
                          "before": anchor < rules.effective_from})
        except DomainError as exc:
            plans.append({"rules": rules, "plan": None, "error": exc.message(request.LANGUAGE_CODE)})
    return {"plans": plans, "anchor": anchor}
