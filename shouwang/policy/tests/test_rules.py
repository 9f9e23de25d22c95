"""One test per row of the spec's tables (§2.1–2.4, §4) with exact dates, on the shipped version files."""

import datetime as dt
from pathlib import Path

import pytest

from shouwang.core.errors import ValidationFailed
from shouwang.policy.rules import (
    code_colour,
    contact_lookback,
    isolation_site_reset,
    load_all,
    measure_plan,
    pooling_mode,
    reclassify_secondary,
    zone_lift_eligibility,
)
from shouwang.policy.rules.load import in_force, read_dir

VERSIONS = Path(__file__).resolve().parents[1] / "versions"
RULES, FILES, ERRORS = load_all(read_dir(VERSIONS))
V9, V20, V20A, V10 = RULES["V9"], RULES["V20"], RULES["V20a"], RULES["V10"]


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def shape(plan) -> list[tuple]:
    """(measure, start, end, [(test date, kind)]) per phase, dates as MM-DD."""
    def md(d):
        return d.strftime("%m-%d") if d else None
    return [(p.measure, md(p.start), md(p.end), [(md(t.on), t.kind) for t in p.tests]) for p in plan.phases]


def test_the_shipped_files_load_without_errors():
    assert ERRORS == []
    assert sorted(RULES) == ["V10", "V20", "V20a", "V9"]
    assert V10.chain == ("V9", "V20", "V20a", "V10")


# ---- §2.1 V9 ------------------------------------------------------------------------------------------------

def test_p1_close_contact_7_plus_3_from_last_exposure():
    plan = measure_plan(V9, "close_contact", D("2022-07-01"))
    assert shape(plan) == [
        ("central_quarantine", "07-02", "07-08", [("07-02", "pcr"), ("07-03", "pcr"), ("07-04", "pcr"),
                                                  ("07-06", "pcr"), ("07-08", "pcr")]),
        ("home_health_monitoring", "07-09", "07-11", [("07-11", "pcr")]),
    ]
    assert (plan.rule, plan.ends_on, plan.version) == ("P1", D("2022-07-11"), "V9")
    assert [b.rule for b in plan.because] == ["D1", "D3", "P1", "P1"]
    assert plan.because[1].zh == "第1天为起算日后第1天：2022-07-02"


def test_p2_secondary_contact_7_days_home_tests_1_4_7():
    plan = measure_plan(V9, "secondary_contact", D("2022-07-01"))
    assert shape(plan) == [("home_quarantine", "07-02", "07-08", [("07-02", "pcr"), ("07-05", "pcr"), ("07-08", "pcr")])]


def test_p2_secondary_contact_becomes_close_contact_when_linked_contact_positive_in_first_two_tests():
    stays = reclassify_secondary(V9, D("2022-07-01"), [(D("2022-07-03"), False), (D("2022-07-04"), False),
                                                      (D("2022-07-06"), True)])
    assert (stays.becomes, stays.plan) == ("", None)
    moved = reclassify_secondary(V9, D("2022-07-01"), [(D("2022-07-04"), True), (D("2022-07-03"), False)])
    assert moved.becomes == "close_contact"
    assert (moved.plan.rule, moved.plan.phases[0].start, moved.plan.ends_on) == ("P1", D("2022-07-02"), D("2022-07-11"))
    assert moved.because[0].rule == "P2"


def test_p3_international_arrival_7_plus_3_from_arrival():
    plan = measure_plan(V9, "international_arrival", D("2022-08-10"))
    assert plan.anchor == "arrival"
    assert shape(plan) == [
        ("central_quarantine", "08-11", "08-17", [("08-11", "pcr"), ("08-12", "pcr"), ("08-13", "pcr"),
                                                  ("08-15", "pcr"), ("08-17", "pcr")]),
        ("home_health_monitoring", "08-18", "08-20", [("08-20", "pcr")]),
    ]


def test_p4_high_risk_area_traveller_7_days_central_from_departure():
    plan = measure_plan(V9, "high_risk_area_traveller", D("2022-09-01"))
    assert plan.anchor == "departure_from_area"
    assert shape(plan) == [("central_quarantine", "09-02", "09-08", [("09-02", "pcr"), ("09-03", "pcr"), ("09-04", "pcr"),
                                                                     ("09-06", "pcr"), ("09-08", "pcr")])]


def test_p5_medium_risk_area_traveller_7_days_home_or_central_without_home_conditions():
    assert shape(measure_plan(V9, "medium_risk_area_traveller", D("2022-09-01"))) == [
        ("home_quarantine", "09-02", "09-08", [("09-02", "pcr"), ("09-05", "pcr"), ("09-08", "pcr")])]
    plan = measure_plan(V9, "medium_risk_area_traveller", D("2022-09-01"), home_conditions_met=False)
    assert [p.measure for p in plan.phases] == ["central_quarantine"]
    assert plan.because[-2].zh == "不具备居家隔离条件的，集中隔离"


def test_p6_low_risk_area_traveller_two_tests_in_three_days():
    plan = measure_plan(V9, "low_risk_area_traveller", D("2022-09-01"))
    assert shape(plan) == [("three_days_two_tests", "09-02", "09-04", [("09-02", "pcr"), ("09-03", "pcr")])]
    gap = V9.param("min_test_gap_hours")
    assert (gap.value, gap.confidence) == (24, "LOC")


def test_p7_high_risk_post_worker_7_days_after_the_loop():
    plan = measure_plan(V9, "high_risk_post_worker", D("2022-10-01"))
    assert plan.anchor == "end_of_closed_loop"
    assert shape(plan) == [("home_quarantine", "10-02", "10-08", [("10-02", "pcr"), ("10-05", "pcr"), ("10-08", "pcr")])]
    assert [p.measure for p in measure_plan(V9, "high_risk_post_worker", D("2022-10-01"),
                                            home_conditions_met=False).phases] == ["central_quarantine"]


def test_p8_arrival_facing_worker_daily_pcr_while_in_post():
    (phase,) = measure_plan(V9, "arrival_facing_worker", D("2022-10-01")).phases
    assert (phase.measure, phase.start, phase.end, phase.until, phase.test_every_days) == (
        "closed_loop_work", D("2022-10-02"), None, "leaves_post", 1)


def test_p9_high_risk_zone_residents_locked_down_until_lifted_with_pcr_antigen_pcr():
    plan = measure_plan(V9, "high_risk_zone_resident", D("2022-07-01"))
    assert shape(plan) == [("lockdown", "07-02", None, [("07-02", "pcr"), ("07-03", "antigen"), ("07-04", "pcr")])]
    assert plan.phases[0].colour == "red"


def test_p10_medium_risk_zone_residents_controlled_until_lifted():
    assert shape(measure_plan(V9, "medium_risk_zone_resident", D("2022-07-01"))) == [("controlled", "07-02", None, [])]


def test_p11_low_risk_zone_residents_precaution():
    plan = measure_plan(V9, "low_risk_zone_resident", D("2022-07-01"))
    assert shape(plan) == [("precaution", "07-02", None, [])]
    assert "48小时" in plan.release_zh


def test_p12_special_group_follows_the_close_contact_schedule_at_home():
    plan = measure_plan(V9, "special_group", D("2022-07-01"))
    assert shape(plan) == [
        ("home_quarantine", "07-02", "07-08", [("07-02", "pcr"), ("07-03", "pcr"), ("07-04", "pcr"),
                                               ("07-06", "pcr"), ("07-08", "pcr")]),
        ("home_health_monitoring", "07-09", "07-11", [("07-11", "pcr")]),
    ]
    arrival = measure_plan(V9, "special_group", D("2022-07-01"), original_category="international_arrival")
    assert arrival.anchor == "arrival" and arrival.phases[0].measure == "home_quarantine"


def test_p13_discharged_case_home_health_monitoring_is_an_unconfirmed_parameter():
    plan = measure_plan(V9, "discharged_case", D("2022-07-20"))
    assert shape(plan) == [("home_health_monitoring", "07-21", "07-27", [("07-23", "pcr"), ("07-27", "pcr")])]
    assert plan.confidence == "UNCONF"


# ---- §2.2 V20 -----------------------------------------------------------------------------------------------

def test_p1_prime_close_contact_5_plus_3_home():
    assert shape(measure_plan(V20, "close_contact", D("2022-11-12"))) == [
        ("central_quarantine", "11-13", "11-17", [("11-13", "pcr"), ("11-14", "pcr"), ("11-15", "pcr"), ("11-17", "pcr")]),
        ("home_quarantine", "11-18", "11-20", [("11-18", "pcr"), ("11-20", "pcr")]),
    ]


def test_p2_prime_secondary_contacts_no_longer_identified():
    with pytest.raises(ValidationFailed) as err:
        measure_plan(V20, "secondary_contact", D("2022-11-12"))
    assert (err.value.code, err.value.field) == ("category_not_identified", "category")
    assert err.value.message_zh == "V20 不再判定此类人员（P2'）二十条：不再判定密接的密接"
    assert V20.value("secondary_contacts") is False


def test_p3_prime_arrivals_5_plus_3():
    plan = measure_plan(V20, "international_arrival", D("2022-11-15"))
    assert [(p.measure, p.days) for p in plan.phases] == [("central_quarantine", 5), ("home_quarantine", 3)]
    assert (plan.rule, plan.ends_on) == ("P3'", D("2022-11-23"))
    assert "Ct<35" in plan.release_zh


def test_p4_prime_high_risk_spillover_7_days_home_tests_1_3_5_7():
    assert shape(measure_plan(V20, "high_risk_area_traveller", D("2022-11-12"))) == [
        ("home_quarantine", "11-13", "11-19", [("11-13", "pcr"), ("11-15", "pcr"), ("11-17", "pcr"), ("11-19", "pcr")])]


def test_p5_prime_medium_risk_travellers_disappear():
    with pytest.raises(ValidationFailed) as err:
        measure_plan(V20, "medium_risk_area_traveller", D("2022-11-12"))
    assert err.value.code == "category_not_identified"


def test_p6_prime_low_risk_travellers_unchanged_local_practice():
    plan = measure_plan(V20, "low_risk_area_traveller", D("2022-11-12"))
    assert (plan.rule, plan.confidence) == ("P6'", "LOC")
    assert shape(plan) == [("three_days_two_tests", "11-13", "11-15", [("11-13", "pcr"), ("11-14", "pcr")])]


def test_p7_prime_high_risk_post_workers_5_days_monitoring():
    plan = measure_plan(V20, "high_risk_post_worker", D("2022-11-12"))
    assert shape(plan) == [("home_health_monitoring", "11-13", "11-17", [("11-13", "pcr"), ("11-15", "pcr"), ("11-17", "pcr")])]


def test_v20_general_no_mass_testing_without_an_outbreak_and_one_test_a_day():
    assert (V9.value("district_mass_testing"), V20.value("district_mass_testing"), V10.value("district_mass_testing")) \
        == ("allowed", "outbreak_only", "no")
    assert (V9.value("max_tests_per_day"), V20.value("max_tests_per_day")) == (2, 1)
    assert V20.param("max_tests_per_day").rule == "G1"


def test_v20_carries_over_what_it_does_not_change():
    assert V20.categories["special_group"] == V9.categories["special_group"]
    assert V20.value("lookback_days") == 2
    # the special group now follows V20's close-contact schedule
    assert [p.days for p in measure_plan(V20, "special_group", D("2022-11-12")).phases] == [5, 3]


# ---- §2.3 V10 -----------------------------------------------------------------------------------------------

def test_v10_close_contact_5_days_at_home_released_on_a_day_5_pcr():
    plan = measure_plan(V10, "close_contact", D("2022-12-08"))
    assert shape(plan) == [("home_quarantine", "12-09", "12-13", [("12-13", "pcr")])]
    assert [p.measure for p in measure_plan(V10, "close_contact", D("2022-12-08"), home_conditions_met=False).phases] \
        == ["central_quarantine"]


def test_v10_no_proof_or_code_checks():
    assert code_colour(V10, measure="home_quarantine").checks_required is False
    assert code_colour(V9, measure="home_quarantine").checks_required is True


def test_v10_zones_lifted_after_five_quiet_days_without_a_round():
    decision = zone_lift_eligibility(V10, "high", D("2022-12-08"), [], [], D("2022-12-13"))
    assert [(s.to, s.eligible_on, s.state, s.round_needed_on) for s in decision.steps] == [
        ("low", D("2022-12-13"), "met", ())]


def test_v10_carries_arrivals_over_from_v20():
    assert [p.days for p in measure_plan(V10, "international_arrival", D("2022-12-10")).phases] == [5, 3]


# ---- §2.4 day counting --------------------------------------------------------------------------------------

def test_d1_contacts_count_from_last_exposure_and_d2_travellers_from_departure():
    assert measure_plan(V9, "close_contact", D("2022-07-01")).because[0].zh == "密切接触者：自末次暴露（2022-07-01）起算"
    assert measure_plan(V9, "high_risk_area_traveller", D("2022-07-01")).because[0].en == (
        "traveller from a high-risk zone (7 days): counted from the departure from the risk area (2022-07-01)")


def test_d3_day_one_is_the_day_after_the_anchor_worked_example():
    # Left the area on 1 Jan: 7 days counted from 2 Jan, ending 8 Jan.
    plan = measure_plan(V9, "high_risk_area_traveller", D("2023-01-01"), hypothetical=True)
    assert (plan.day1, plan.phases[0].end) == (D("2023-01-02"), D("2023-01-08"))


def test_d4_found_late_serves_only_the_remaining_days():
    plan = measure_plan(V9, "close_contact", D("2022-07-01"), found_on=D("2022-07-05"))
    assert shape(plan) == [
        ("central_quarantine", "07-05", "07-08", [("07-05", "pcr"), ("07-06", "pcr"), ("07-08", "pcr")]),
        ("home_health_monitoring", "07-09", "07-11", [("07-11", "pcr")]),
    ]
    assert plan.phases[0].credited_days == 3
    assert plan.ends_on == D("2022-07-11")


def test_d4_found_after_central_period_goes_straight_to_monitoring_or_release():
    plan = measure_plan(V9, "close_contact", D("2022-07-01"), found_on=D("2022-07-10"))
    assert shape(plan) == [("home_health_monitoring", "07-10", "07-11", [("07-10", "pcr"), ("07-11", "pcr")])]
    late = measure_plan(V9, "close_contact", D("2022-07-01"), found_on=D("2022-07-15"))
    assert (late.phases, late.release_test_on, late.ends_on) == ((), D("2022-07-15"), D("2022-07-15"))


def test_d5_positive_in_site_restarts_the_floor_and_its_neighbours():
    assert isolation_site_reset(V9, person_floor=4, positive_floor=3, found_on=D("2022-07-05")).new_anchor == D("2022-07-05")
    assert isolation_site_reset(V9, person_floor=6, positive_floor=3, found_on=D("2022-07-05")).restarts is False
    assert isolation_site_reset(V9, person_floor=9, positive_floor=3, found_on=D("2022-07-05"),
                                environment_positive=True).restarts is True


# ---- §3 and §5 ----------------------------------------------------------------------------------------------

def test_contact_lookback_two_days_before_onset():
    window = contact_lookback(V9, D("2022-07-10"), isolated_on=D("2022-07-11"))
    assert (window.start, window.end, window.rule) == (D("2022-07-08"), D("2022-07-11"), "C1")


@pytest.mark.parametrize(("setting", "mode"), [("isolation_site", "single"), ("key_group", "single"),
                                               ("high_risk_zone", "household"), ("medium_risk_zone", "10in1"),
                                               ("other_area", "20in1"), ("routine", "10in1")])
def test_pooling_mode_per_setting(setting, mode):
    decision = pooling_mode(V9, setting)
    assert decision.mode == mode


def test_a_positive_pool_means_isolation_in_place_and_single_tube_recheck_within_the_deadline():
    decision = pooling_mode(V9, "medium_risk_zone")
    assert [b.rule for b in decision.because] == ["T4", "T6", "T7"]
    assert decision.because[1].zh == "混管阳性：管内人员原地隔离，24小时内上门单采复核"


# ---- §4 risk zones ------------------------------------------------------------------------------------------

def test_v9_high_zone_7_quiet_days_and_a_day_7_round_then_3_more_days_to_low():
    cases = [(D("2022-07-03"), "community")]
    rounds = [(D("2022-07-10"), True)]
    waiting = zone_lift_eligibility(V9, "high", D("2022-07-01"), cases, rounds, D("2022-07-09"))
    assert waiting.level_now == "high"
    decision = zone_lift_eligibility(V9, "high", D("2022-07-01"), cases, rounds, D("2022-07-13"))
    assert [(s.to, s.quiet_from, s.eligible_on, s.round_needed_on, s.state) for s in decision.steps] == [
        ("medium", D("2022-07-04"), D("2022-07-10"), (D("2022-07-10"),), "met"),
        ("low", D("2022-07-11"), D("2022-07-13"), (), "met"),
    ]
    assert decision.level_now == "low"


def test_v9_high_zone_without_the_day_7_round_stays_high():
    decision = zone_lift_eligibility(V9, "high", D("2022-07-01"), [], [(D("2022-07-07"), True)], D("2022-07-20"))
    assert (decision.level_now, [s.state for s in decision.steps]) == ("high", ["waiting", "waiting"])


def test_v9_medium_zone_7_days_and_a_round_to_low():
    decision = zone_lift_eligibility(V9, "medium", D("2022-07-01"), [], [(D("2022-07-08"), True)], D("2022-07-08"))
    assert [(s.to, s.eligible_on, s.state) for s in decision.steps] == [("low", D("2022-07-08"), "met")]


def test_v9_low_zone_has_no_steps_of_its_own():
    assert zone_lift_eligibility(V9, "low", D("2022-07-01"), [], [], D("2022-07-20")).steps == ()


def test_v20_high_zone_5_quiet_days_to_low_and_medium_zones_no_longer_exist():
    decision = zone_lift_eligibility(V20, "high", D("2022-11-12"), [(D("2022-11-13"), "community")], [], D("2022-11-18"))
    assert [(s.to, s.eligible_on, s.state) for s in decision.steps] == [("low", D("2022-11-18"), "met")]
    with pytest.raises(ValidationFailed) as err:
        zone_lift_eligibility(V20, "medium", D("2022-11-12"), [], [], D("2022-11-18"))
    assert err.value.code == "zone_kind_not_used"


def test_v20a_high_zone_needs_a_round_within_24_hours_and_uncounted_cases_do_not_reset():
    cases = [(D("2022-11-23"), "central_quarantine"), (D("2022-11-24"), "home_quarantine"),
             (D("2022-11-25"), "closed_loop"), (D("2022-11-25"), "post_discharge"),
             (D("2022-11-26"), "arrival_prior_infection")]
    decision = zone_lift_eligibility(V20A, "high", D("2022-11-22"), cases, [(D("2022-11-27"), True)], D("2022-11-27"))
    assert decision.last_counted_case is None
    assert len(decision.ignored_cases) == 5
    assert [(s.eligible_on, s.round_needed_on, s.state) for s in decision.steps] == [
        (D("2022-11-27"), (D("2022-11-26"), D("2022-11-27")), "met")]
    # the same cases count under V9
    v9 = zone_lift_eligibility(V9, "high", D("2022-07-01"), [(D("2022-07-05"), "central_quarantine")], [], D("2022-07-05"))
    assert v9.last_counted_case == D("2022-07-05")


def test_a_positive_round_blocks_the_step():
    decision = zone_lift_eligibility(V9, "medium", D("2022-07-01"), [], [(D("2022-07-08"), False)], D("2022-07-09"))
    assert decision.steps[0].state == "blocked"


# ---- §9 codes -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("facts", "colour", "rule"), [
    ({"case_status": "asymptomatic"}, "red", "K1"),
    ({"measure": "central_quarantine"}, "red", "K2"),
    ({"flags": ("close_contact",)}, "red", "K2b"),
    ({"zone": "high"}, "red", "K3"),
    ({"measure": "home_health_monitoring"}, "yellow", "K4"),
    ({"zone": "medium"}, "yellow", "K5"),
    ({"flags": ("spatio_temporal_companion",)}, "yellow", "K6"),
    ({"flags": ("pool_recheck_pending",)}, "yellow", "K6b"),
    ({}, "green", "K7"),
])
def test_code_colour_rules(facts, colour, rule):
    decision = code_colour(V9, **facts)
    assert (decision.colour, decision.rule) == (colour, rule)


# ---- versions -----------------------------------------------------------------------------------------------

def test_version_in_force_by_date():
    assert [in_force(RULES, D(d)).id for d in ("2022-06-28", "2022-11-10", "2022-11-11", "2022-11-21", "2022-12-07")] \
        == ["V9", "V9", "V20", "V20a", "V10"]
    assert in_force(RULES, D("2022-06-27")) is None


def test_a_date_before_the_version_is_refused_unless_hypothetical():
    with pytest.raises(ValidationFailed) as err:
        measure_plan(V20, "close_contact", D("2022-07-01"))
    assert (err.value.code, err.value.field) == ("date_before_version", "anchor_date")
    assert measure_plan(V20, "close_contact", D("2022-07-01"), hypothetical=True).ends_on == D("2022-07-09")


def test_unknown_category_names_the_field():
    with pytest.raises(ValidationFailed) as err:
        measure_plan(V9, "tourist", D("2022-07-01"))
    assert (err.value.code, err.value.field, err.value.message_en) == (
        "unknown_category", "category", "person category 'tourist' does not exist")
