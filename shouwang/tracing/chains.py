"""Transmission links and chains (传播链): pure functions, no Django, no database.

The tracing domain stores links "infector → infectee" between cases; this module checks a new link against the
existing ones (`check_link`), groups cases into chains with generations (`chains`), computes serial intervals
(`serial_intervals`) and checks the order of onset dates on a link (`onset_order_problem`).

The links form a forest (a transmission tree per chain):

* one infector per infectee. A second infector is refused (code ``two_infectors``): the tracer removes the
  existing link first. Allowing it "with a lower confidence" would make generations and roots ambiguous (two
  paths to a root) and a chain chart draws a tree; an uncertain source is better recorded on the case than as
  a second link;
* no case is its own infector (``self_link``) and no link closes a cycle (``cycle``).

With at most one infector per case and no directed cycle, every connected component is a tree with exactly one
root, so "the chain of a case" is well defined. `check_link` keeps that invariant one link at a time; the
services should also make it hold under concurrent writes (a unique constraint on the infectee of a link, and
link writes serialised, e.g. by locking the rows of the two cases, since two concurrent links A → B and B → A
each pass `check_link` alone). `chains` refuses input that breaks it with the same error codes rather than
guessing.

Case ids are whatever the caller uses (primary keys or case numbers), hashable and mutually comparable (all int
or all str): the smallest id breaks ties. Dates are `datetime.date` (calendar days); a `datetime` is refused
rather than silently cut to its day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from shouwang.core.errors import DomainError

CaseId = Hashable
Link = tuple[CaseId, CaseId]  # (infector, infectee)

# Longest incubation period (潜伏期 1–14 天, 多为 3–7 天 in the national diagnosis and treatment protocol):
# an infector whose exposure is unknown was infected at the earliest this many days before their onset.
MAX_INCUBATION_DAYS = 14


class ChainError(DomainError):
    """A link (or a set of links) that would not be a transmission tree.

    Codes: ``self_link``, ``duplicate_link``, ``two_infectors``, ``cycle`` (from `check_link` and `chains`) and
    ``onset_before_exposure`` (from `onset_order_problem`). ``details`` carries the case ids involved.
    """


# ---- one new link ------------------------------------------------------------------------------------------


def check_link(links: Iterable[Link], infector: CaseId, infectee: CaseId) -> None:
    """Refuse the link ``infector → infectee`` if adding it to ``links`` would not leave a transmission tree.

    ``links`` are the existing (infector, infectee) pairs; the links of the chains of the two cases are enough.
    Checked in this order, the first failure raised as a `ChainError`:

    1. ``self_link`` (field ``infectee``, 422): the infectee is the infector;
    2. ``duplicate_link`` (field ``infectee``, 409): this very link exists already;
    3. ``cycle`` (field ``infector``, 409): the infector descends from the infectee (the infectee is reached
       by following infectors up from the infector), so the new link would close a loop. Checked before (4)
       because a cycle cannot be fixed by removing a link of the infectee;
    4. ``two_infectors`` (field ``infectee``, 409): the infectee already has another infector. Refused, not
       kept with a lower confidence: remove the existing link first.

    Returns None when the link may be added.
    """
    if infector == infectee:
        raise ChainError(
            code="self_link", field="infectee", status=422,
            message_zh=f"病例 {infectee} 不能是自己的传染源",
            message_en=f"case {infectee} cannot be its own infector",
            details=[{"infector": infector, "infectee": infectee}],
        )
    infectors_of: dict[CaseId, list[CaseId]] = {}
    for a, b in links:
        infectors_of.setdefault(b, []).append(a)
    existing = infectors_of.get(infectee, [])
    if infector in existing:
        raise ChainError(
            code="duplicate_link", field="infectee", status=409,
            message_zh=f"传播关系 {infector} → {infectee} 已存在",
            message_en=f"the link {infector} → {infectee} exists already",
            details=[{"infector": infector, "infectee": infectee}],
        )
    path = _upward_path(infectors_of, start=infector, target=infectee)
    if path is not None:
        shown = " → ".join(str(c) for c in path)
        raise ChainError(
            code="cycle", field="infector", status=409,
            message_zh=f"病例 {infector} 已在病例 {infectee} 的下游（{shown}），添加 {infector} → {infectee} 会形成循环",
            message_en=f"case {infector} is already downstream of case {infectee} ({shown}); "
                       f"the link {infector} → {infectee} would make a cycle",
            details=[{"infector": infector, "infectee": infectee, "path": path}],
        )
    if existing:
        other = existing[0]
        raise ChainError(
            code="two_infectors", field="infectee", status=409,
            message_zh=f"病例 {infectee} 已有传染源 {other}；一个病例只能有一个传染源，请先删除原有传播关系",
            message_en=f"case {infectee} already has an infector ({other}); a case has one infector, "
                       f"remove the existing link first",
            details=[{"infector": infector, "infectee": infectee, "existing_infector": other}],
        )


def _upward_path(infectors_of: Mapping[CaseId, list[CaseId]], *, start: CaseId, target: CaseId) -> list | None:
    """The path target → … → start along links if ``target`` is an ancestor of ``start``, else None.

    Breadth-first over infectors (more than one per case is tolerated here, so a broken input still terminates).
    """
    if start == target:
        return [start]
    came_from: dict[CaseId, CaseId] = {start: start}
    queue = [start]
    i = 0
    while i < len(queue):
        case = queue[i]
        i += 1
        for up in infectors_of.get(case, ()):
            if up in came_from:
                continue
            came_from[up] = case
            if up == target:
                path = [up]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path
            queue.append(up)
    return None


# ---- chains ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Chain:
    """One transmission chain: a connected component of the link graph (a tree).

    ``number`` is the 1-based position in the order of `chains` (first case date, then smallest case id):
    deterministic for the same input, but it moves when cases or links change; to name a chain durably use its
    root case.
    """

    number: int
    roots: tuple[CaseId, ...]  # cases without an infector in the chain: exactly one in a tree
    cases: tuple[CaseId, ...]  # by generation, then case id
    generation: dict[CaseId, int]  # root = 1, infectee = infector + 1
    size: int
    max_generation: int
    smallest_case: CaseId
    first_case: CaseId | None  # earliest date (ties: smallest id); None when no case of the chain has a date
    first_date: dt.date | None
    latest_case: CaseId | None  # latest date (ties: smallest id)
    latest_date: dt.date | None


def chains(
    cases: Iterable[CaseId],
    links: Iterable[Link],
    dates: Mapping[CaseId, dt.date | None] | None = None,
) -> list[Chain]:
    """Group cases into transmission chains: the connected components of the (undirected) link graph.

    ``cases`` are the case ids to cover; a case without links is a chain of size 1. The cases named by
    ``links`` are covered too (a link to a case left out of ``cases`` would otherwise make its infectee look
    like a root). ``dates`` gives one date per case (onset or report date, the caller chooses); a missing key
    or None means unknown, and such cases are not first or latest.

    For each chain: the root(s), the generation of each case (root = 1, infectee = infector's generation + 1),
    the first and latest case by date, the size and the largest generation. Chains are ordered by the date of
    their first case (chains without any date last), then by their smallest case id, and numbered from 1.

    The links must form a forest: a self link, an infectee with two different infectors or a cycle raises
    `ChainError` (codes as in `check_link`); an exact duplicate link is ignored. Iterative and linear (one
    breadth-first pass from the roots, then a sort): 100,000 cases and links take a fraction of a second.
    """
    dates = dates or {}
    infector_of: dict[CaseId, CaseId] = {}
    infectees_of: dict[CaseId, list[CaseId]] = {}
    nodes: dict[CaseId, None] = dict.fromkeys(cases)
    for a, b in links:
        if a == b:
            raise ChainError(
                code="self_link", field="infectee", status=422,
                message_zh=f"病例 {a} 是自己的传染源", message_en=f"case {a} is linked to itself",
                details=[{"infector": a, "infectee": b}],
            )
        if b in infector_of:
            known = infector_of[b]
            if known == a:
                continue  # the same link twice
            raise ChainError(
                code="two_infectors", field="infectee", status=409,
                message_zh=f"病例 {b} 有两个传染源（{known} 和 {a}）",
                message_en=f"case {b} has two infectors ({known} and {a})",
                details=[{"infectee": b, "infectors": [known, a]}],
            )
        infector_of[b] = a
        infectees_of.setdefault(a, []).append(b)
        nodes[a] = None
        nodes[b] = None

    # One breadth-first pass down from each root. A case without links (most cases, early on) takes the short
    # path: its chain is itself.
    get_below = infectees_of.get
    get_date = dates.get
    reached = 0
    result: list[Chain] = []
    for root in nodes:
        if root in infector_of:
            continue
        if root not in infectees_of:
            reached += 1
            one = (root,)
            d = get_date(root)
            if d is None:
                result.append(Chain(0, one, one, {root: 1}, 1, 1, root, None, None, None, None))
            else:
                if type(d) is not dt.date:
                    _check_date(d)
                result.append(Chain(0, one, one, {root: 1}, 1, 1, root, root, d, root, d))
            continue
        # Level by level: each level sorted by id, so the chain's cases come out by (generation, id).
        gens = {root: 1}
        ordered = [root]
        level = ordered
        g = 1
        while True:
            below = []
            for case in level:
                infectees = get_below(case)
                if infectees:
                    below.extend(infectees)
            if not below:
                break
            g += 1
            below.sort()
            gens.update(dict.fromkeys(below, g))
            ordered.extend(below)
            level = below
        reached += len(ordered)
        first = latest = first_date = latest_date = None
        for case in ordered:
            d = get_date(case)
            if d is None:
                continue
            if type(d) is not dt.date:
                _check_date(d)
            if first_date is None or d < first_date or (d == first_date and case < first):
                first, first_date = case, d
            if latest_date is None or d > latest_date or (d == latest_date and case < latest):
                latest, latest_date = case, d
        result.append(
            Chain(0, (root,), tuple(ordered), gens, len(ordered), g, min(ordered),
                  first, first_date, latest, latest_date)
        )

    if reached != len(nodes):  # cases never reached from a root sit on a cycle (or below one)
        reachable = _reachable_from_roots(nodes, infector_of, infectees_of)
        start = min(c for c in nodes if c not in reachable)
        seen: dict[CaseId, int] = {}
        walk = [start]
        while walk[-1] not in seen:
            seen[walk[-1]] = len(walk) - 1
            walk.append(infector_of[walk[-1]])
        loop = walk[seen[walk[-1]]:]
        loop.reverse()  # infector first: a → b → … → a
        shown = " → ".join(str(c) for c in loop)
        raise ChainError(
            code="cycle", field="infector", status=409,
            message_zh=f"传播关系形成循环：{shown}", message_en=f"the links make a cycle: {shown}",
            details=[{"cycle": loop}],
        )

    no_date = dt.date.max
    result.sort(key=lambda c: (c.first_date is None, c.first_date or no_date, c.smallest_case))
    for number, chain in enumerate(result, start=1):
        chain.number = number
    return result


def _reachable_from_roots(nodes, infector_of, infectees_of) -> set:
    seen = {c for c in nodes if c not in infector_of}
    stack = list(seen)
    while stack:
        for child in infectees_of.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


# ---- serial intervals --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SerialIntervals:
    """Serial intervals (infectee onset − infector onset, in days) of the pairs with both onsets known."""

    intervals: tuple[int, ...]  # in the order of the pairs; negative = infectee fell ill first (pre-symptomatic)
    n: int
    mean: float | None  # None when n = 0
    sd: float | None  # sample standard deviation (ddof = 1); None when n < 2
    skipped: int  # pairs with a missing onset


def serial_intervals(pairs: Iterable[tuple[dt.date | None, dt.date | None]]) -> SerialIntervals:
    """Serial intervals from (infector onset, infectee onset) pairs: the list in days, n, mean and sample sd.

    A pair with either date missing (None) is skipped and counted in ``skipped``. Negative intervals
    (the infectee's onset before the infector's: transmission before symptoms) are kept and counted.
    Mean and sd are computed exactly on the integer days and rounded once (the sd is the correctly rounded
    square root of the exact sample variance), so they equal `statistics.mean` and `statistics.stdev`.
    """
    intervals: list[int] = []
    skipped = 0
    for infector_onset, infectee_onset in pairs:
        if infector_onset is None or infectee_onset is None:
            skipped += 1
            continue
        _check_date(infector_onset)
        _check_date(infectee_onset)
        intervals.append((infectee_onset - infector_onset).days)
    n = len(intervals)
    mean = sd = None
    if n:
        total = sum(intervals)
        mean = total / n  # one correctly rounded division of two integers
        if n > 1:
            # variance = (n Σx² − (Σx)²) / (n (n − 1)), exact in integers
            numerator = n * sum(x * x for x in intervals) - total * total
            sd = _sqrt_of_fraction(numerator, n * (n - 1))
    return SerialIntervals(intervals=tuple(intervals), n=n, mean=mean, sd=sd, skipped=skipped)


_SQRT_BITS = 2 * 53 + 6  # the root keeps 3 bits more than a float mantissa, enough for round-to-odd


def _sqrt_of_fraction(n: int, m: int) -> float:
    """√(n/m) as the nearest float (round-to-odd on an integer square root with spare bits, then one rounding)."""
    if n == 0:
        return 0.0
    q, _ = divmod(n.bit_length() - m.bit_length() - _SQRT_BITS, 2)
    if q >= 0:
        num, den = n, m << (2 * q)
        scale_up = True
    else:
        num, den = n << (-2 * q), m
        scale_up = False
    root = math.isqrt(num // den)
    root |= root * root * den != num  # round to odd: a sticky bit if inexact
    return float(root << q) if scale_up else root / (1 << -q)


# ---- onset order on a link ---------------------------------------------------------------------------------


def onset_order_problem(
    infector_exposure_or_onset: dt.date | None,
    infectee_onset: dt.date | None,
    *,
    basis: Literal["exposure", "onset"] = "exposure",
    max_incubation_days: int = MAX_INCUBATION_DAYS,
) -> ChainError | None:
    """The error of a link whose infectee fell ill before their infector could have been infected, or None.

    The infectee was infected by the infector, so after the infector's own infection, and fell ill after that:
    an infectee onset strictly before the infector's first possible exposure is impossible
    (code ``onset_before_exposure``, field ``infectee``, 422). The same day is accepted.

    ``basis`` says what the first date is: ``"exposure"`` (default): the first day of the infector's exposure
    window; ``"onset"``: the infector's onset, in which case the earliest exposure is taken as
    onset − ``max_incubation_days`` (14). Do not pass the infector's onset (or the start of their infectious
    period) as an exposure: an infectee may fall ill days before the infector (pre-symptomatic transmission, a
    negative serial interval: 54 of the 679 pairs of Ali et al., 30 of them by more than 2 days, down to −11).
    Either date unknown (None): no problem can be shown, None.
    """
    if infector_exposure_or_onset is None or infectee_onset is None:
        return None
    _check_date(infector_exposure_or_onset)
    _check_date(infectee_onset)
    if basis == "exposure":
        earliest = infector_exposure_or_onset
        why_zh, why_en = "传染源最早可能的暴露日期", "the infector's first possible exposure"
    elif basis == "onset":
        earliest = infector_exposure_or_onset - dt.timedelta(days=max_incubation_days)
        why_zh = f"传染源发病日期 {infector_exposure_or_onset.isoformat()} 减去最长潜伏期 {max_incubation_days} 天"
        why_en = (f"the infector's onset {infector_exposure_or_onset.isoformat()} minus the longest incubation "
                  f"period of {max_incubation_days} days")
    else:
        raise ValueError(f"basis must be 'exposure' or 'onset', not {basis!r}")
    if infectee_onset >= earliest:
        return None
    return ChainError(
        code="onset_before_exposure", field="infectee", status=422,
        message_zh=f"被感染者发病日期 {infectee_onset.isoformat()} 早于{why_zh}（{earliest.isoformat()}），"
                   f"传播关系不成立，请核对日期或传染源",
        message_en=f"the infectee's onset {infectee_onset.isoformat()} is before {why_en} "
                   f"({earliest.isoformat()}): check the dates or the infector",
        details=[{"infectee_onset": infectee_onset.isoformat(), "earliest_exposure": earliest.isoformat()}],
    )


def _check_date(value: object) -> None:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"expected a datetime.date, got {type(value).__name__}")
