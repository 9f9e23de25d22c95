"""How the pages show a person's status: the colour, its reasons with their dates, and what turns it back."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import get_language

from shouwang.core import clock
from shouwang.core.errors import DomainError
from shouwang.policy.rules.model import MEASURES
from shouwang.policy.rules.zones import LEVEL_NAMES
from shouwang.policy.selectors import ruleset_in_force
from shouwang.status.enums import Colour, FactKind
from shouwang.status.services import StatusView

RECENT_DAYS = 14  # the scans a person page lists
# Labels of fact values the policy model does not name itself (measures and zones it does).
VALUE_LABELS = {
    "confirmed": ("确诊病例", "confirmed case"), "asymptomatic": ("无症状感染者", "asymptomatic infection"),
    "suspected": ("疑似病例", "suspected case"), "first_screen_positive": ("初筛阳性", "first-screen positive"),
    "close_contact": ("密切接触者", "close contact"), "secondary_contact": ("次密切接触者", "secondary contact"),
    "spatio_temporal_companion": ("时空伴随者", "spatio-temporal companion"),
    "regional_check": ("区域协查", "regional data check"), "fever_uncleared": ("发热未排除", "fever not cleared"),
    "key_person_untested": ("重点人员未按期检测", "key person overdue for a test"),
    "pool_recheck_pending": ("混管阳性待复核", "positive pool awaiting recheck"),
    "landing_tests_due": ("落地检未完成", "arrival tests not done"),
}


def _en() -> bool:
    return (get_language() or "").startswith("en")


def _pick(zh: str, en: str) -> str:
    return en if _en() and en else zh


def status_context(view: StatusView) -> dict:
    """A status as the pages show it: colour, label, the deciding reason, every reason with its dates, and what
    turns it back."""
    turns = ""
    try:
        rule = next((r for r in ruleset_in_force(clock.today()).codes if r.id == view.rule), None)
        if rule is not None:
            turns = _pick(rule.turns_green_zh, rule.turns_green_en)
    except DomainError:
        pass
    reasons = []
    for r in view.reasons:
        kind, value = r.get("kind"), r.get("value", "")
        if kind == FactKind.MEASURE and value in MEASURES:
            label = _pick(*MEASURES[value])
        elif kind == FactKind.ZONE and value in LEVEL_NAMES:
            label = _pick(*LEVEL_NAMES[value])
        else:
            label = _pick(*VALUE_LABELS.get(value, (value, value)))
        reasons.append({"colour": r.get("colour", ""), "label": label, "rule": r.get("rule", ""),
                        "reason": _pick(r.get("reason_zh", ""), r.get("reason_en", "")),
                        "since": dt.date.fromisoformat(r["since"]) if r.get("since") else None,
                        "until": dt.date.fromisoformat(r["until"]) if r.get("until") else None,
                        "note": r.get("note", "")})
    return {"colour": view.colour, "label": Colour(view.colour).label if view.colour in Colour.values else view.colour,
            "rule": view.rule, "reason": _pick(view.reason_zh, view.reason_en), "changes_on": view.changes_on,
            "turns": turns if view.colour != "green" else "", "reasons": reasons}
