"""Planning aid for a round of mass pooled PCR testing: which pool size, and can the round finish in 24 hours.

Pure functions (standard library only), so the numbers can be checked by hand and tested without a database.

Pool size (Dorfman two-stage pooling)
-------------------------------------
Swabs of ``n`` people go into one tube, and the tube is tested once. A negative tube clears all ``n`` people; a
positive tube ("混管阳性") sends every member to a single-tube recheck ("单管复核"), i.e. ``n`` more tests. If each
person is positive independently with probability ``p`` and the test is perfect, a tube is positive with probability
``1 - (1 - p)**n`` and the expected number of tests per person is::

    E(n, p) = 1/n + 1 - (1 - p)**n     for n >= 2
    E(1, p) = 1                         single-tube testing (单采单检) has no second stage

Source: R. Dorfman, "The Detection of Defective Members of Large Populations", Annals of Mathematical Statistics
14(4):436-440 (1943). The reference table ``../shared/data/pooled_testing/dorfman_reference.csv`` (E for pools of 5,
10 and 20 and at the optimal size, at prevalences from 0.01% to 30%) is reproduced to all six printed decimals
by :func:`dorfman_tests_per_person`, and the tests check it. The model ignores the dilution of a positive swab in
a large pool (lower sensitivity), which is one reason why smaller pools win ties here.

National pooling rules (../shared/docs/protocol-rules.md, section 5.2, sources S20, S21 and the NHC clinical
laboratory centre): single tubes (or one tube per household) for isolation sites, key persons and high-risk areas;
10合1 in medium-risk areas; 20合1 at most elsewhere; the laboratory must not pool pooled tubes again (for example
3 or 5 tubes of 10 into 30 or 50 in 1). Pools larger than 20 are therefore refused here (``MAX_POOL_SIZE``).

Round duration
--------------
Section 5.1 of the same document (source S19): the testing of a delimited area must finish within 24 hours.
:func:`round_hours` estimates a round from four numbers:

* sampling hours = people / people swabbed per hour (summed over all sampling sites);
* tubes = ceil(people / pool size); laboratory hours = tubes * 24 / tubes the laboratories test per day;
* sampling and testing overlap (tubes leave the sites in batches while sampling goes on), so the round takes the
  longer of the two: total hours = max(sampling hours, laboratory hours); the slower stage is the bottleneck. The
  transport and PCR run of the last batch, and the rechecks themselves, are not counted;
* positive pools = ceil(tubes * (1 - (1 - p)**pool size)), 0 when p = 0; rechecks = positive pools * pool size
  (at most the number of people), the people to isolate where they are and re-swab in single tubes.
"""

import math
from dataclasses import dataclass

MAX_POOL_SIZE = 20
"""The national cap: at most 20 swabs in one tube (20合1), and no re-pooling of pooled tubes in the laboratory."""

TARGET_HOURS = 24
"""Regional testing must finish within 24 hours (protocol-rules.md 5.1, source S19)."""

DEFAULT_SIZES = (1, 5, 10, 20)
"""Single tube, 5合1, 10合1 and 20合1: the modes in use."""

TIE_TOLERANCE = 1e-12
"""Expected tests per person closer than this (relative) count as equal: floating-point noise, not a difference."""


@dataclass(frozen=True)
class PoolAdvice:
    """The pool size with the fewest expected tests per person at a given positivity, and the whole comparison."""

    positivity: float
    size: int
    tests_per_person: float
    table: tuple[tuple[int, float], ...]  # (pool size, expected tests per person) for every size considered
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class RoundEstimate:
    """How long a round takes with the given sampling and laboratory capacity, and what holds it up."""

    people: int
    sampling_per_hour: int
    pool_size: int
    lab_tubes_per_day: int
    positivity: float
    sampling_hours: float
    tubes: int
    lab_hours: float
    positive_pools: int
    rechecks: int
    total_hours: float
    meets_24h: bool
    bottleneck: str  # "sampling" or "testing"
    reason_zh: str
    reason_en: str


def _check_positivity(p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:  # NaN fails the comparison
        raise ValueError(
            f"positivity must be a number between 0 and 1 (a fraction, not a percentage), got {p!r}"
        )


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def _check_pool_size(name: str, n: int) -> None:
    _check_positive_int(name, n)
    if n > MAX_POOL_SIZE:
        raise ValueError(
            f"{name} must be at most {MAX_POOL_SIZE} (national rule: at most 20 in 1, no re-pooling in the "
            f"laboratory), got {n}"
        )


def dorfman_tests_per_person(p: float, n: int) -> float:
    """Expected tests per person with Dorfman two-stage pooling of ``n`` swabs at positivity ``p``.

    ``1/n + 1 - (1 - p)**n`` for ``n >= 2``; exactly 1.0 for ``n == 1`` (single tubes, no recheck stage).
    Any ``n >= 1`` is accepted here, so that the formula can be studied beyond the national cap of 20.
    """
    _check_positivity(p)
    _check_positive_int("pool size n", n)
    if n == 1:
        return 1.0
    return 1 / n + 1 - (1 - p) ** n


def _percent(p: float) -> str:
    return f"{p * 100:.6g}%"


def _pool_name_zh(n: int) -> str:
    return "单采单检" if n == 1 else f"{n}合1"


def _pool_name_en(n: int) -> str:
    return "single-tube testing" if n == 1 else f"{n}-in-1"


def best_pool_size(p: float, sizes: tuple[int, ...] = DEFAULT_SIZES) -> PoolAdvice:
    """The pool size among ``sizes`` with the fewest expected tests per person at positivity ``p``.

    Ties (within ``TIE_TOLERANCE``) go to the smaller pool: fewer people isolated and re-swabbed per positive
    tube, and less dilution of a positive swab. Sizes must be whole numbers from 1 to 20: the national rule caps
    pools at 20 in 1 and forbids re-pooling pooled tubes in the laboratory, so larger sizes raise ValueError.
    ``table`` lists every size considered, smallest first (duplicates removed).
    """
    _check_positivity(p)
    sizes = tuple(sizes)
    if not sizes:
        raise ValueError("sizes must name at least one pool size")
    for n in sizes:
        _check_pool_size("pool size", n)
    table = tuple((n, dorfman_tests_per_person(p, n)) for n in sorted(set(sizes)))
    best_size, best_tests = table[0]
    for n, tests in table[1:]:  # ascending sizes: a later size wins only if clearly better
        if tests < best_tests and not math.isclose(tests, best_tests, rel_tol=TIE_TOLERANCE):
            best_size, best_tests = n, tests
    pooling_lost = best_size == 1 and len(table) > 1
    reason_zh = f"阳性率{_percent(p)}时，{_pool_name_zh(best_size)}每人平均{best_tests:.2f}次检测，最省"
    reason_en = (
        f"at {_percent(p)} positivity, {_pool_name_en(best_size)} needs {best_tests:.2f} tests per person, "
        "the fewest"
    )
    if pooling_lost:
        reason_zh += "（混管不划算）"
        reason_en += " (pooling does not pay)"
    return PoolAdvice(
        positivity=p,
        size=best_size,
        tests_per_person=best_tests,
        table=table,
        reason_zh=reason_zh,
        reason_en=reason_en,
    )


def _hours(h: float) -> str:
    return f"{h:.2f}".rstrip("0").rstrip(".")


def round_hours(
    *, people: int, sampling_per_hour: int, pool_size: int, lab_tubes_per_day: int, positivity: float = 0.0
) -> RoundEstimate:
    """Estimate one round: sampling hours, tubes, laboratory hours, rechecks, and whether it fits in 24 hours.

    ``sampling_per_hour`` is the number of people swabbed per hour over all sites together; ``lab_tubes_per_day``
    the tubes all receiving laboratories test per 24 hours. Sampling and testing overlap, so the total is the
    longer of the two stages, which is named as the bottleneck (sampling on an exact tie). See the module docstring
    for the formulas and what they leave out.
    """
    _check_positive_int("people", people)
    _check_positive_int("sampling_per_hour", sampling_per_hour)
    _check_pool_size("pool_size", pool_size)
    _check_positive_int("lab_tubes_per_day", lab_tubes_per_day)
    _check_positivity(positivity)

    sampling_hours = people / sampling_per_hour
    tubes = -(-people // pool_size)  # ceil without floating point
    lab_hours = tubes * 24 / lab_tubes_per_day
    if positivity == 0:
        positive_pools = 0
    else:
        expected = tubes * (1 - (1 - positivity) ** pool_size)
        positive_pools = math.ceil(round(expected, 9))  # 100.00000000000001 is 100 pools, not 101
    rechecks = min(positive_pools * pool_size, people)  # the last tube may hold fewer than pool_size people
    total_hours = max(sampling_hours, lab_hours)
    meets_24h = total_hours <= TARGET_HOURS
    bottleneck = "testing" if lab_hours > sampling_hours else "sampling"

    stage_zh = "检测" if bottleneck == "testing" else "采样"
    verdict_zh = f"可在{TARGET_HOURS}小时内完成" if meets_24h else f"超过{TARGET_HOURS}小时"
    reason_zh = (
        f"采样{_hours(sampling_hours)}小时、检测{_hours(lab_hours)}小时，瓶颈在{stage_zh}，"
        f"共需{_hours(total_hours)}小时，{verdict_zh}"
    )
    verdict_en = f"within the {TARGET_HOURS} h target" if meets_24h else f"over the {TARGET_HOURS} h target"
    reason_en = (
        f"sampling takes {_hours(sampling_hours)} h and testing {_hours(lab_hours)} h; the bottleneck is "
        f"{bottleneck}; {_hours(total_hours)} h in total, {verdict_en}"
    )
    return RoundEstimate(
        people=people,
        sampling_per_hour=sampling_per_hour,
        pool_size=pool_size,
        lab_tubes_per_day=lab_tubes_per_day,
        positivity=positivity,
        sampling_hours=sampling_hours,
        tubes=tubes,
        lab_hours=lab_hours,
        positive_pools=positive_pools,
        rechecks=rechecks,
        total_hours=total_hours,
        meets_24h=meets_24h,
        bottleneck=bottleneck,
        reason_zh=reason_zh,
        reason_en=reason_en,
    )


# ---- the planning aid as asked for (the API and the planning page) ------------------------------------------------

POOL_LABELS = {1: ("单采单检", "single tube"), 10: ("10合1混采", "10-in-1 pooled"), 20: ("20合1混采", "20-in-1 pooled")}
FORMULAS = (
    ("每人平均检测次数 E(n,p) = 1/n + 1 − (1−p)^n（n≥2，Dorfman两阶段：混管阳性则每人单管复核）；单采单检 E = 1",
     "tests per person E(n,p) = 1/n + 1 − (1−p)^n for n ≥ 2 (Dorfman two-stage: a positive pool is rechecked "
     "one tube per person); single tubes E = 1"),
    ("采样小时 = 人数 ÷ 每小时采样人数；管数 = ⌈人数 ÷ n⌉；检测小时 = 管数 × 24 ÷ 实验室日检测管数；"
     "总时长 = 两者较大者（边采边送边检）",
     "sampling hours = people ÷ people swabbed per hour; tubes = ⌈people ÷ n⌉; lab hours = tubes × 24 ÷ tubes "
     "tested per day; total = the longer of the two (sampling and testing overlap)"),
    ("阳性混管数 = ⌈管数 × (1−(1−p)^n)⌉；待复核人数 = 阳性混管数 × n（不超过总人数）；未计转运和复核本身的时间",
     "positive pools = ⌈tubes × (1−(1−p)^n)⌉; rechecks = positive pools × n (at most everyone); transport and "
     "the rechecks themselves are not counted"),
)


def pool_label(n: int) -> tuple[str, str]:
    """How a pool size is named (Chinese, English): 单采单检 / single tube, 10合1混采 / 10-in-1 pooled."""
    return POOL_LABELS.get(n, (f"{n}合1混采", f"{n}-in-1 pooled"))


class PlanInputError(ValueError):
    """A planning input out of range: the input at fault, a code and the reason in Chinese and English."""

    def __init__(self, field: str, code: str, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.field, self.code, self.message_zh, self.message_en = field, code, message_zh, message_en


@dataclass(frozen=True)
class PoolRow:
    size: int
    label_zh: str
    label_en: str
    tests_per_person: float
    best: bool


@dataclass(frozen=True)
class Plan:
    """The answer of the planning aid: the pool sizes compared, the advice, and the round estimate when the
    people and both capacities were given (with the chosen pool size, or the advised one)."""

    advice: PoolAdvice
    rows: tuple[PoolRow, ...]
    estimate: RoundEstimate | None


def _positive_whole(field: str, value: int | None, zh: str, en: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise PlanInputError(field, "out_of_range", f"{zh}应为正整数", f"{en} must be a positive whole number")


def plan(positivity: float, *, people: int | None = None, sampling_per_hour: int | None = None,
         lab_tubes_per_day: int | None = None, pool_size: int | None = None) -> Plan:
    """The planning aid: the pool sizes in use (and `pool_size` if another) compared at `positivity` (a fraction),
    and, when people and both capacities are given, how long the round takes with `pool_size` or the advised size.
    The round's three numbers go together: one or two of them alone is refused. Inputs out of range raise
    PlanInputError naming the input (the API's parameter names)."""
    if isinstance(positivity, bool) or not isinstance(positivity, int | float) or not 0 <= positivity <= 1:
        raise PlanInputError("positivity", "out_of_range", "阳性率应为0到1之间的小数（如0.001表示千分之一，不是百分数）",
                             "positivity must be a fraction between 0 and 1 (0.001 is one in a thousand, not a "
                             "percentage)")
    _positive_whole("people", people, "人数", "people")
    _positive_whole("sampling_per_hour", sampling_per_hour, "每小时采样人数", "sampling_per_hour")
    _positive_whole("lab_tubes_per_day", lab_tubes_per_day, "实验室日检测管数", "lab_tubes_per_day")
    if pool_size is not None and (isinstance(pool_size, bool) or not isinstance(pool_size, int)
                                  or not 1 <= pool_size <= MAX_POOL_SIZE):
        raise PlanInputError("pool_size", "out_of_range",
                             f"每管人数应为1到{MAX_POOL_SIZE}（最多20合1，实验室不得再次混管）",
                             f"pool_size must be 1 to {MAX_POOL_SIZE} (at most 20 in 1; the lab must not pool pooled "
                             "tubes again)")
    given = {"people": people, "sampling_per_hour": sampling_per_hour, "lab_tubes_per_day": lab_tubes_per_day}
    missing = [k for k, v in given.items() if v is None]
    if 0 < len(missing) < len(given):
        raise PlanInputError(missing[0], "required", "估算轮次用时需同时填写人数、每小时采样人数和实验室日检测管数",
                             "a round estimate needs people, sampling_per_hour and lab_tubes_per_day")
    advice = best_pool_size(positivity, tuple(sorted(set(DEFAULT_SIZES) | ({pool_size} if pool_size else set()))))
    estimate = None
    if not missing:
        estimate = round_hours(people=people, sampling_per_hour=sampling_per_hour, pool_size=pool_size or advice.size,
                               lab_tubes_per_day=lab_tubes_per_day, positivity=positivity)
    rows = tuple(PoolRow(n, *pool_label(n), e, n == advice.size) for n, e in advice.table)
    return Plan(advice=advice, rows=rows, estimate=estimate)
