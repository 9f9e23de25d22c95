"""/api/v1/reports/…: the epidemic curve, the serial interval of linked pairs and R_t of your jurisdiction
(read-only; `selectors.py` says how each is counted); /api/v1/quarantine/forecast: the 7-day forecast of quarantine
rooms (`forecast.py`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Literal

from django.utils.translation import get_language
from ninja import Router, Schema

from shouwang.accounts.enums import Capability
from shouwang.accounts.scoping import require
from shouwang.reports import selectors
from shouwang.reports.forecast import rooms_forecast

router = Router(tags=["reports 疫情分析"])


def _require(request) -> None:
    require(request.auth, Capability.TRACING_VIEW, "查看疫情分析", "view epidemic analytics")


def _lang(request) -> str:
    return getattr(request, "LANGUAGE_CODE", None) or get_language() or "zh-hans"


class NoteOut(Schema):
    code: str
    message: str
    messages: dict[str, str]


def _notes(request, notes) -> list[dict]:
    lang = _lang(request)
    return [{"code": n.code, "message": n.message(lang), "messages": {"zh-hans": n.zh, "en": n.en}} for n in notes]


# ---- epidemic curve ------------------------------------------------------------------------------------------------


class CountsOut(Schema):
    total: int
    community: int
    quarantine: int
    local: int
    imported: int
    no_onset: int


class CurveDayOut(CountsOut):
    date: dt.date


class EpiCurveOut(Schema):
    basis: str
    start: dt.date
    end: dt.date
    note: str
    days: list[CurveDayOut]
    total: CountsOut


BASIS_NOTE = {
    "onset": ("按发病日期统计；无发病日期的无症状感染者按阳性采样日期计入（no_onset）",
              "by onset date; asymptomatic cases, without onset, are counted by the date of their positive sample "
              "(no_onset)"),
    "report": ("按报告日期统计", "by report date"),
}


@router.get("/reports/epicurve", response=EpiCurveOut,
            summary="流行曲线 Daily cases by onset (or sampling) date or report date, community / in quarantine, "
                    "local / imported")
def epicurve(request, start: dt.date | None = None, end: dt.date | None = None,
             basis: Literal["onset", "report"] = "onset"):
    _require(request)
    curve = selectors.epicurve(request.auth, basis=basis, start=start, end=end)
    zh, en = BASIS_NOTE[basis]
    return {"basis": curve.basis, "start": curve.start, "end": curve.end,
            "note": en if _lang(request).startswith("en") else zh,
            "days": [{"date": d.day, **d.counts.as_dict()} for d in curve.days], "total": curve.total.as_dict()}


# ---- serial interval -----------------------------------------------------------------------------------------------


class IntervalOut(Schema):
    days: int
    pairs: int


class SerialIntervalOut(Schema):
    n: int
    skipped: int
    mean: float | None
    sd: float | None
    same_day: int
    negative: int
    counts: list[IntervalOut]
    distribution: list[float] | None


@router.get("/reports/serial-interval", response=SerialIntervalOut,
            summary="序列间隔 Serial interval of the linked pairs (infector onset → infectee onset)")
def serial_interval(request, start: dt.date | None = None, end: dt.date | None = None):
    _require(request)
    si = selectors.serial_interval(request.auth, start=start, end=end)
    return {"n": si.n, "skipped": si.skipped, "mean": si.mean, "sd": si.sd, "same_day": si.same_day,
            "negative": si.negative, "counts": [{"days": k, "pairs": v} for k, v in sorted(si.counts.items())],
            "distribution": list(si.distribution) if si.distribution is not None else None}


# ---- R_t -----------------------------------------------------------------------------------------------------------


class SiOut(Schema):
    choice: str
    source: str
    mean: float
    sd: float
    distribution: list[float] | None
    pairs: int


class RtWindowOut(Schema):
    t_start: dt.date
    t_end: dt.date
    cases: int
    mean: float | None
    std: float | None
    median: float | None
    q025: float | None
    q975: float | None


class IncidenceOut(Schema):
    date: dt.date
    local: int
    imported: int


class RtOut(Schema):
    start: dt.date
    end: dt.date
    si: SiOut
    windows: list[RtWindowOut]
    warnings: list[NoteOut]
    incidence: list[IncidenceOut]


@router.get("/reports/rt", response=RtOut,
            summary="实时再生数 R_t (Cori et al., as EpiEstim) over weekly windows, with its 95% credible interval")
def rt_estimate(request, start: dt.date | None = None, end: dt.date | None = None,
                si: Literal["parametric", "empirical"] = "parametric", mean_si: float | None = None,
                std_si: float | None = None):
    _require(request)
    view = selectors.rt_estimate(request.auth, start=start, end=end, si=si, mean_si=mean_si, std_si=std_si)
    used = view.si
    return {"start": view.start, "end": view.end,
            "si": {"choice": used.choice, "source": used.source, "mean": used.mean, "sd": used.sd,
                   "distribution": list(used.distribution) if used.distribution is not None else None,
                   "pairs": used.pairs},
            "windows": [asdict(w) for w in view.windows], "warnings": _notes(request, view.warnings),
            "incidence": [{"date": d, "local": lo, "imported": im}
                          for d, lo, im in zip(view.days, view.local, view.imported, strict=True)]}


# ---- the 7-day forecast of quarantine rooms -------------------------------------------------------------------------


class ForecastDayOut(Schema):
    day: dt.date
    staying: int
    pending: float
    new: float
    needed: int
    places: int
    shortfall: int


class BecauseOut(Schema):
    message: str
    messages: dict[str, str]


class ForecastOut(Schema):
    today: dt.date
    central_days: int
    policy_version: str
    per_day: float
    proposed: int
    acceptance: float
    places_active: int
    places_standby: int
    open_ended: int
    days: list[ForecastDayOut]
    because: list[BecauseOut]


@router.get("/quarantine/forecast", response=ForecastOut, tags=["quarantine 隔离管控"],
            summary="隔离房间预测 The central quarantine places needed each day of the coming week (stays open, close "
                    "contacts still to decide, the recent trend) against the places of active sites, with the "
                    "shortfall and where each figure comes from")
def quarantine_forecast(request, days: int = 7):
    require(request.auth, Capability.QUARANTINE_VIEW, "查看隔离房间预测", "view the quarantine room forecast")
    f = rooms_forecast(request.auth, days=max(1, min(days, 30)))
    en = _lang(request).startswith("en")
    return {"today": f.today, "central_days": f.central_days, "policy_version": f.policy_version,
            "per_day": f.per_day, "proposed": f.proposed, "acceptance": f.acceptance,
            "places_active": f.places_active, "places_standby": f.places_standby, "open_ended": f.open_ended,
            "days": [asdict(d) for d in f.days],
            "because": [{"message": e if en else z, "messages": {"zh-hans": z, "en": e}} for z, e in f.because]}
