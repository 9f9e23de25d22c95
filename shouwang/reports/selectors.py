"""Epidemic analytics (疫情分析) of the user's jurisdiction: the epidemic curve, the serial interval of linked pairs
and R_t by Cori et al. (`rt.py`). Read-only: cases and links are read through tracing, nothing is written.

- Cases are those of `tracing.selectors.cases_visible` (the case's home area under the user's jurisdiction),
  without the excluded ones (state "excluded").
- The epidemic curve counts cases per day by onset date — a case without onset (asymptomatic) by the date of its
  positive sample, and the count of those is given per day — or by report date (the local date of `reported_at`),
  each split into community / found in quarantine and local / imported, zero days included.
- The default range runs from the first case (its onset-or-sampling date or report date, whichever is earlier) to
  the business today (`core.clock.today()`); a given range may not end after today nor span more than MAX_DAYS.
- The serial interval uses the links whose infectee is visible, both cases not excluded: infector onset → infectee
  onset (`rt.serial_interval_from_pairs`; a pair missing an onset is skipped and counted).
- R_t: daily local and imported cases by onset-or-sampling date → `rt.estimate_rt` with weekly sliding windows and
  the parametric serial interval DEFAULT_SI_MEAN / DEFAULT_SI_SD (see docs/reports.md for the source), or one given
  by the user, or the empirical one of the linked pairs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from shouwang.core import clock
from shouwang.core.errors import ValidationFailed
from shouwang.reports import rt
from shouwang.tracing.enums import CaseState, Origin
from shouwang.tracing.models import TransmissionLink
from shouwang.tracing.selectors import cases_visible

BASES = ("onset", "report")
MAX_DAYS = 731  # two years of days: a longer range is a typing error (and a chart nobody can read)

# Parametric serial interval for Omicron (BA.2 / BA.5), the variant of 2022, in days (EpiEstim's mean_si, std_si).
# Mean: 3.0 days, the median serial interval of the Omicron BA.2 outbreak in Beijing in March 2022 (78 cases with
# known chains; Du J. et al., Chin J Epidemiol 2022;43(9):1364-1369), in line with other Omicron estimates
# (Hong Kong BA.5 2.7 days, Guo Z. et al., Influenza Other Respir Viruses 2023;17:e13105; South Korea 2.9 days,
# Song J.S. et al., Emerg Infect Dis 2022;28(3):756; the Netherlands BA.1 3.5 days, Backer J.A. et al.,
# Euro Surveill 2022;27(6):2200042). SD: 2.0 days, from the interquartile range 2.0-5.0 days of the Beijing study
# (IQR / 1.35 ≈ 2.2), rounded down. EpiEstim's own example (2.6 / 1.5) is influenza 2009, not COVID-19.
DEFAULT_SI_MEAN = 3.0
DEFAULT_SI_SD = 2.0
# The empirical serial interval replaces the default only with at least this many pairs with both onsets: fewer
# give a distribution with gaps and a standard deviation that moves with every new pair.
MIN_EMPIRICAL_PAIRS = 10
SI_CHOICES = ("parametric", "empirical")


@dataclass(frozen=True)
class Note:
    """A warning about an estimate, in both languages."""

    code: str
    zh: str
    en: str

    def message(self, language: str | None) -> str:
        return self.en if (language or "").startswith("en") else self.zh


# ---- range ---------------------------------------------------------------------------------------------------------


def _cases(user):
    return cases_visible(user).exclude(state=CaseState.EXCLUDED).order_by()


def _local_date(value: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(value) if value is not None else None


def date_range(user, start: dt.date | None = None, end: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The range asked for, or from the first case of the jurisdiction to the business today; checked."""
    today = clock.today()
    if end is None:
        end = today
    if end > today:
        raise ValidationFailed(field="end", code="in_future", message_zh=f"结束日期不能晚于今天（{today}）",
                               message_en=f"the end date cannot be after today ({today})")
    if start is None:
        first = _cases(user).aggregate(anchor=Min(Coalesce("onset_date", "sampling_date")),
                                       reported=Min("reported_at"))
        dates = [d for d in (first["anchor"], _local_date(first["reported"])) if d is not None]
        start = min(min(dates), end) if dates else end
    if start > end:
        raise ValidationFailed(field="start", code="after_end", message_zh="开始日期不能晚于结束日期",
                               message_en="the start date cannot be after the end date")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(field="start", code="too_long", message_zh=f"日期范围最长 {MAX_DAYS} 天",
                               message_en=f"the range may span at most {MAX_DAYS} days")
    return start, end


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


# ---- epidemic curve ------------------------------------------------------------------------------------------------


@dataclass
class Counts:
    """Cases of one day (or a total): community + quarantine = local + imported = total."""

    total: int = 0
    community: int = 0  # not found in quarantine (社会面)
    quarantine: int = 0  # found in quarantine or under control (隔离管控中发现)
    local: int = 0
    imported: int = 0
    no_onset: int = 0  # without onset (asymptomatic), counted by sampling date; onset basis only

    def add(self, *, n: int, in_quarantine: bool, origin: str, no_onset: bool = False) -> None:
        self.total += n
        if in_quarantine:
            self.quarantine += n
        else:
            self.community += n
        if origin == Origin.IMPORTED:
            self.imported += n
        else:
            self.local += n
        if no_onset:
            self.no_onset += n

    def as_dict(self) -> dict:
        return {"total": self.total, "community": self.community, "quarantine": self.quarantine,
                "local": self.local, "imported": self.imported, "no_onset": self.no_onset}


@dataclass
class CurveDay:
    day: dt.date
    counts: Counts


@dataclass
class EpiCurve:
    basis: str  # "onset" (onset, or sampling date without onset) or "report"
    start: dt.date
    end: dt.date
    days: list[CurveDay]
    total: Counts


def _onset_rows(user, start: dt.date, end: dt.date):
    """(date, in quarantine, origin, no onset, n): cases with onset by onset date, the others by sampling date."""
    qs = _cases(user)
    with_onset = (qs.filter(onset_date__isnull=False, onset_date__range=(start, end))
                  .values_list("onset_date", "found_in_quarantine", "origin").annotate(n=Count("id")))
    without = (qs.filter(onset_date__isnull=True, sampling_date__range=(start, end))
               .values_list("sampling_date", "found_in_quarantine", "origin").annotate(n=Count("id")))
    for day, quarantine, origin, n in with_onset:
        yield day, quarantine, origin, False, n
    for day, quarantine, origin, n in without:
        yield day, quarantine, origin, True, n


def _report_rows(user, start: dt.date, end: dt.date):
    tz = timezone.get_current_timezone()
    lo = timezone.make_aware(dt.datetime.combine(start, dt.time.min), tz)
    hi = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min), tz)
    rows = (_cases(user).filter(reported_at__gte=lo, reported_at__lt=hi)
            .annotate(day=TruncDate("reported_at", tzinfo=tz))
            .values_list("day", "found_in_quarantine", "origin").annotate(n=Count("id")))
    for day, quarantine, origin, n in rows:
        yield day, quarantine, origin, False, n


def epicurve(user, *, basis: str = "onset", start: dt.date | None = None, end: dt.date | None = None) -> EpiCurve:
    """Daily cases of the jurisdiction from start to end (zero days included) by onset or report date."""
    if basis not in BASES:
        raise ValidationFailed(field="basis", code="invalid", message_zh="统计口径须为发病日期或报告日期",
                               message_en="basis must be onset or report")
    start, end = date_range(user, start, end)
    by_day = {d: Counts() for d in _days(start, end)}
    total = Counts()
    rows = _onset_rows(user, start, end) if basis == "onset" else _report_rows(user, start, end)
    for day, quarantine, origin, no_onset, n in rows:
        for counts in (by_day[day], total):
            counts.add(n=n, in_quarantine=quarantine, origin=origin, no_onset=no_onset)
    return EpiCurve(basis=basis, start=start, end=end, days=[CurveDay(d, c) for d, c in by_day.items()], total=total)


# ---- serial interval -----------------------------------------------------------------------------------------------


@dataclass
class SerialIntervalView:
    n: int  # pairs with both onsets
    skipped: int  # pairs missing an onset (an asymptomatic case has none)
    mean: float | None
    sd: float | None
    counts: dict[int, int]  # interval in days -> pairs (negative: the infectee fell ill first)
    distribution: tuple[float, ...] | None  # share per day 0..max; None with a negative interval

    @property
    def same_day(self) -> int:
        return self.counts.get(0, 0)

    @property
    def negative(self) -> int:
        return sum(v for k, v in self.counts.items() if k < 0)

    @property
    def rows(self) -> list[tuple[int, int, float]]:
        """(days, pairs, share) from day 0 (or the most negative interval) to the largest, zero counts included."""
        if not self.counts:
            return []
        lo, hi = min(min(self.counts), 0), max(self.counts)
        return [(k, self.counts.get(k, 0), self.counts.get(k, 0) / self.n) for k in range(lo, hi + 1)]


def link_pairs(user, *, start: dt.date | None = None, end: dt.date | None = None) -> list[tuple]:
    """(infector onset, infectee onset) of the links into the jurisdiction (the infectee visible), both cases not
    excluded; with a range, the links whose infectee fell ill (or, without onset, was sampled) in it."""
    infectees = _cases(user)
    if start is not None:
        infectees = infectees.filter(Q(onset_date__gte=start) | Q(onset_date__isnull=True, sampling_date__gte=start))
    if end is not None:
        infectees = infectees.filter(Q(onset_date__lte=end) | Q(onset_date__isnull=True, sampling_date__lte=end))
    return list(TransmissionLink.objects.filter(infectee__in=infectees.values("id"))
                .exclude(infector__state=CaseState.EXCLUDED)
                .order_by("infectee_id").values_list("infector__onset_date", "infectee__onset_date"))


def serial_interval(user, *, start: dt.date | None = None, end: dt.date | None = None) -> SerialIntervalView:
    si = rt.serial_interval_from_pairs(link_pairs(user, start=start, end=end))
    return SerialIntervalView(n=si.n, skipped=si.skipped, mean=si.mean, sd=si.sd, counts=dict(si.counts),
                              distribution=si.distribution)


# ---- R_t -----------------------------------------------------------------------------------------------------------


@dataclass
class SiUsed:
    """The serial interval the estimate used."""

    choice: str  # what was asked: "parametric" or "empirical"
    source: str  # "default", "custom", "empirical" (the pairs' distribution), "empirical_parametric" (their mean/sd)
    mean: float  # the parametric mean, or the distribution's Σ k·w(k)
    sd: float
    distribution: tuple[float, ...] | None  # the empirical distribution used (w(0) = 0), else None
    pairs: int  # linked pairs with both onsets (whatever the choice)


@dataclass
class RtWindowView:
    t_start: dt.date
    t_end: dt.date
    cases: int  # local cases in the window
    mean: float | None
    std: float | None
    median: float | None
    q025: float | None
    q975: float | None


@dataclass
class RtView:
    start: dt.date
    end: dt.date
    days: list[dt.date]
    local: list[int]
    imported: list[int]
    si: SiUsed
    windows: list[RtWindowView]
    warnings: list[Note] = field(default_factory=list)

    @property
    def latest(self) -> RtWindowView | None:
        """The last window with an estimate."""
        return next((w for w in reversed(self.windows) if w.mean is not None), None)


def incidence(user, *, start: dt.date, end: dt.date) -> tuple[list[dt.date], list[int], list[int]]:
    """Days start..end with the local and imported cases of each, by onset date (or sampling date without onset)."""
    days = _days(start, end)
    index = {d: i for i, d in enumerate(days)}
    local, imported = [0] * len(days), [0] * len(days)
    for day, _quarantine, origin, _no_onset, n in _onset_rows(user, start, end):
        (imported if origin == Origin.IMPORTED else local)[index[day]] += n
    return days, local, imported


def _check_si(mean_si, std_si) -> None:
    if mean_si is not None and not (1 < mean_si <= 30):
        raise ValidationFailed(field="mean_si", code="out_of_range", message_zh="序列间隔均值须大于 1 天、不超过 30 天",
                               message_en="the serial interval's mean must be above 1 day and at most 30 days")
    if std_si is not None and not (0 < std_si <= 30):
        raise ValidationFailed(field="std_si", code="out_of_range", message_zh="序列间隔标准差须大于 0、不超过 30 天",
                               message_en="the serial interval's sd must be above 0 and at most 30 days")


def _choose_si(user, si: str, mean_si: float | None, std_si: float | None) -> tuple[SiUsed, list[Note]]:
    if si not in SI_CHOICES:
        raise ValidationFailed(field="si", code="invalid", message_zh="序列间隔须为参数分布或实测分布",
                               message_en="si must be parametric or empirical")
    _check_si(mean_si, std_si)
    empirical = serial_interval(user)
    notes: list[Note] = []
    if si == "parametric":
        custom = mean_si is not None or std_si is not None
        mean = DEFAULT_SI_MEAN if mean_si is None else mean_si
        sd = DEFAULT_SI_SD if std_si is None else std_si
        return SiUsed(si, "custom" if custom else "default", mean, sd, None, empirical.n), notes
    default = SiUsed(si, "default", DEFAULT_SI_MEAN, DEFAULT_SI_SD, None, empirical.n)
    if empirical.n < MIN_EMPIRICAL_PAIRS:
        notes.append(Note(
            "si_few_pairs",
            f"有发病日期的传播关系只有 {empirical.n} 对（少于 {MIN_EMPIRICAL_PAIRS} 对），改用默认序列间隔"
            f"（均值 {DEFAULT_SI_MEAN:g} 天，标准差 {DEFAULT_SI_SD:g} 天）",
            f"only {empirical.n} linked pairs with both onsets (fewer than {MIN_EMPIRICAL_PAIRS}); the default serial "
            f"interval was used (mean {DEFAULT_SI_MEAN:g} days, sd {DEFAULT_SI_SD:g} days)"))
        return default, notes
    if empirical.distribution is not None and empirical.same_day == 0:
        w = empirical.distribution
        mean = sum(k * p for k, p in enumerate(w))
        sd = max(sum(k * k * p for k, p in enumerate(w)) - mean * mean, 0.0) ** 0.5
        return SiUsed(si, "empirical", mean, sd, w, empirical.n), notes
    why_zh = "有同一天发病的传播对" if empirical.same_day else "有被传染者先于传染者发病的传播对"
    why_en = "some pairs fell ill on the same day" if empirical.same_day else "some infectees fell ill first"
    if empirical.mean is not None and empirical.sd and 1 < empirical.mean <= 30 and empirical.sd <= 30:
        notes.append(Note(
            "si_parametric_from_pairs",
            f"{why_zh}（EpiEstim 要求第 0 天的概率为 0），改用实测的均值 {empirical.mean:.2f} 天、"
            f"标准差 {empirical.sd:.2f} 天作为参数分布",
            f"{why_en} (EpiEstim needs w(0) = 0): the pairs' mean {empirical.mean:.2f} days and sd "
            f"{empirical.sd:.2f} days were used as a parametric serial interval"))
        return SiUsed(si, "empirical_parametric", empirical.mean, empirical.sd, None, empirical.n), notes
    notes.append(Note(
        "si_pairs_unusable",
        f"{why_zh}，实测均值不大于 1 天，改用默认序列间隔（均值 {DEFAULT_SI_MEAN:g} 天，标准差 {DEFAULT_SI_SD:g} 天）",
        f"{why_en} and their mean is not above 1 day; the default serial interval was used "
        f"(mean {DEFAULT_SI_MEAN:g} days, sd {DEFAULT_SI_SD:g} days)"))
    return default, notes


_TOO_EARLY = re.compile(r"\(([\d.]+) cases in the first window, fewer than (\d+)\)")


def _rt_note(text: str, days: list[dt.date], local: list[int]) -> Note:
    """rt's warnings (EpiEstim's, in English) with a Chinese text."""
    if text.startswith("local[1]"):
        return Note("first_day_imported",
                    f"第 1 天（{days[0]}）的 {local[0]} 例本土病例按 EpiEstim 的约定计为输入病例：此前没有病例可传染他们",
                    f"the {local[0]} local case(s) of day 1 ({days[0]}) were counted as imported, as EpiEstim does: "
                    "no earlier case could have infected them")
    found = _TOO_EARLY.search(text)
    if found:
        n, least = found.groups()
        return Note("too_early",
                    f"第一个窗口只有 {float(n):g} 例（少于 {least} 例），疫情初期的估计很不确定",
                    f"only {float(n):g} cases in the first window (fewer than {least}): an estimate this early in "
                    "the epidemic is very uncertain")
    return Note("rt", text, text)


def rt_estimate(user, *, start: dt.date | None = None, end: dt.date | None = None, si: str = "parametric",
                mean_si: float | None = None, std_si: float | None = None) -> RtView:
    """R_t of the jurisdiction over weekly sliding windows (EpiEstim's default), from the daily local and imported
    cases by onset date (sampling date without onset). A window gets no estimate (None) where EpiEstim gives none
    (ending on or before the serial interval's mean day) or without any infectivity before it (see rt.py)."""
    used, notes = _choose_si(user, si, mean_si, std_si)
    start, end = date_range(user, start, end)
    days, local, imported = incidence(user, start=start, end=end)
    view = RtView(start=start, end=end, days=days, local=local, imported=imported, si=used, windows=[],
                  warnings=notes)
    if len(days) < rt.DEFAULT_WINDOW_DAYS + 1:
        view.warnings.append(Note(
            "too_short", f"按周滑动窗口估计至少需要 {rt.DEFAULT_WINDOW_DAYS + 1} 天的数据（现有 {len(days)} 天）",
            f"weekly windows need at least {rt.DEFAULT_WINDOW_DAYS + 1} days of data (the range has {len(days)})"))
        return view
    if used.distribution is not None:
        est = rt.estimate_rt(local=local, imported=imported, si_distr=used.distribution)
    else:
        est = rt.estimate_rt(local=local, imported=imported, mean_si=used.mean, std_si=used.sd)
    view.windows = [RtWindowView(t_start=days[w.t_start - 1], t_end=days[w.t_end - 1], cases=int(w.cases),
                                 mean=w.mean, std=w.std, median=w.median, q025=w.q025, q975=w.q975)
                    for w in est.windows]
    view.warnings.extend(_rt_note(text, days, local) for text in est.warnings)
    return view
