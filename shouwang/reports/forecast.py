"""The 7-day forecast of quarantine rooms (issue 7): how many places the county's central quarantine needs each day
from the stays already open (they leave on their last day), the close contacts still to decide (at the recent
acceptance rate) and the close contacts the tracers have been identifying per day (the last three days' mean,
carried forward), each staying the policy's days of central quarantine; against the places of active sites and
the reserve of standby sites. Every figure says where it comes from."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.db.models import Count
from django.db.models.functions import TruncDate

from shouwang.areas.selectors import area_codes_chain
from shouwang.core import clock
from shouwang.policy.rules.plans import measure_plan
from shouwang.policy.selectors import ruleset_in_force
from shouwang.quarantine.enums import CENTRAL_MEASURES
from shouwang.quarantine.selectors import central_load
from shouwang.tracing.selectors import contacts_visible

TREND_DAYS = 3  # the mean of close contacts identified per day over the last full days
RATE_DAYS = 7  # the acceptance rate of proposed contacts over the last days


@dataclass
class ForecastDay:
    day: dt.date
    staying: int  # open stays still there that day
    pending: float  # proposed close contacts expected to be accepted, arriving today
    new: float  # close contacts expected from the trend, arrived since tomorrow and still there
    needed: int
    places: int
    shortfall: int


@dataclass
class Forecast:
    today: dt.date
    days: list[ForecastDay]
    central_days: int
    policy_version: str
    per_day: float
    proposed: int
    acceptance: float
    places_active: int
    places_standby: int
    open_ended: int
    because: list[tuple[str, str]] = field(default_factory=list)  # (zh, en)


def _central_days(user, today: dt.date) -> tuple[int, str]:
    area = user.jurisdiction
    rules = ruleset_in_force(today, area_codes_chain(area) if area is not None else [])
    plan = measure_plan(rules, "close_contact", today - dt.timedelta(days=1), hypothetical=True)
    days = sum((p.end - p.start).days + 1 for p in plan.phases if p.measure in CENTRAL_MEASURES and p.end)
    return days, plan.version


def rooms_forecast(user, *, days: int = 7, today: dt.date | None = None) -> Forecast:
    today = today or clock.today()
    load = central_load(user)
    central_days, version = _central_days(user, today)
    close = contacts_visible(user, kind="close")
    since = today - dt.timedelta(days=TREND_DAYS)
    per_day_rows = dict(close.filter(identified_at__date__gte=since, identified_at__date__lt=today)
                        .annotate(d=TruncDate("identified_at")).values_list("d").annotate(n=Count("id")).order_by())
    per_day = sum(per_day_rows.values()) / TREND_DAYS
    window = today - dt.timedelta(days=RATE_DAYS)
    accepted = close.filter(identified_at__date__gte=window).count()
    rejected = close.filter(state="rejected", closed_at__date__gte=window).count()
    acceptance = accepted / (accepted + rejected) if accepted + rejected else 1.0
    proposed = close.filter(state="proposed").count()
    places = load.places_active
    out = []
    for i in range(days):
        day = today + dt.timedelta(days=i)
        staying = load.open_ended + sum(n for end, n in load.ending.items() if end >= day)
        pending = proposed * acceptance if i < central_days else 0.0
        new = per_day * sum(1 for j in range(1, i + 1) if i - j < central_days)
        needed = math.ceil(staying + pending + new - 1e-9)
        out.append(ForecastDay(day=day, staying=staying, pending=round(pending, 1), new=round(new, 1), needed=needed,
                               places=places, shortfall=max(0, needed - places)))
    because = [
        (f"已在管的集中隔离人员按各自解除日期离开（{sum(load.ending.values()) + load.open_ended}人）",
         f"people in central quarantine leave on their last day ({sum(load.ending.values()) + load.open_ended})"),
        (f"待确认密接{proposed}人，按近{RATE_DAYS}天确认率{acceptance:.0%}计入今天",
         f"{proposed} proposed close contacts at the last {RATE_DAYS} days' acceptance rate {acceptance:.0%}, today"),
        (f"近{TREND_DAYS}天平均每天新判定密接{per_day:.1f}人，从明天起每天新增",
         f"{per_day:.1f} close contacts identified per day over the last {TREND_DAYS} days, from tomorrow"),
        (f"每人集中隔离{central_days}天（{version}）", f"{central_days} days of central quarantine each ({version})"),
        (f"可用床位：启用隔离点{load.places_active}个，备用隔离点{load.places_standby}个",
         f"places: {load.places_active} in active sites, {load.places_standby} in standby sites"),
    ]
    return Forecast(today=today, days=out, central_days=central_days, policy_version=version, per_day=round(per_day, 1),
                    proposed=proposed, acceptance=round(acceptance, 3), places_active=load.places_active,
                    places_standby=load.places_standby, open_ended=load.open_ended, because=because)
