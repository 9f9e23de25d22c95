"""Health status: facts published by other domains, the colour the policy's code rules derive from them (V9),
its reasons and the day it should change, materialised per person and kept current."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from shouwang.accounts.enums import Role
from shouwang.core.errors import ValidationFailed
from shouwang.status.models import PersonStatus, StatusFact
from shouwang.status.services import fact_publish, fact_withdraw, status_get, status_on, status_refresh_stale

TODAY = dt.date(2022, 7, 15)  # under V9 (in force from 2022-06-28)
JULY_10 = dt.date(2022, 7, 10)


def d(day: int) -> dt.date:
    return dt.date(2022, 7, day)


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY.isoformat()
    return settings


def publish(person, kind, value, *, since=JULY_10, until=None, source="test.source", source_id="1", note=""):
    return fact_publish(person_ids=[person.id], kind=kind, value=value, since=since, until=until, source=source,
                        source_id=source_id, note=note)


CASES = [
    # (kind, value, until, colour, rule, reason_zh, reason_en, changes_on)
    ("case", "confirmed", None, "red", "K1", "确诊、无症状感染者、疑似或初筛阳性",
     "confirmed, asymptomatic, suspected or first-screen positive", None),
    ("case", "first_screen_positive", d(16), "red", "K1", "确诊、无症状感染者、疑似或初筛阳性",
     "confirmed, asymptomatic, suspected or first-screen positive", d(17)),
    ("measure", "central_quarantine", d(16), "red", "K2", "集中隔离或居家隔离中", "in central or home quarantine",
     d(17)),
    ("measure", "home_quarantine", None, "red", "K2", "集中隔离或居家隔离中", "in central or home quarantine", None),
    ("flag", "close_contact", d(20), "red", "K2b", "已判定为密接或次密接，待转运隔离",
     "identified as a close or secondary contact, awaiting transfer", d(21)),
    ("flag", "secondary_contact", None, "red", "K2b", "已判定为密接或次密接，待转运隔离",
     "identified as a close or secondary contact, awaiting transfer", None),
    ("zone", "high", None, "red", "K3", "高风险区居民", "resident of a high-risk zone", None),
    ("measure", "lockdown", d(21), "red", "K3", "高风险区居民", "resident of a high-risk zone", d(22)),
    ("measure", "home_health_monitoring", d(18), "yellow", "K4", "居家健康监测中", "in home health monitoring",
     d(19)),
    ("zone", "medium", d(24), "yellow", "K5", "中风险区居民", "resident of a medium-risk zone", d(25)),
    ("flag", "spatio_temporal_companion", d(17), "yellow", "K6",
     "时空伴随、区域协查、发热未排除或重点人员未按期检测",
     "spatio-temporal companion, regional data check, fever not cleared or key person overdue for a test", d(18)),
    ("flag", "key_person_untested", None, "yellow", "K6",
     "时空伴随、区域协查、发热未排除或重点人员未按期检测",
     "spatio-temporal companion, regional data check, fever not cleared or key person overdue for a test", None),
    ("flag", "pool_recheck_pending", d(15), "yellow", "K6b", "混管阳性待单管复核，或落地检未完成",
     "in a positive pool awaiting single-tube recheck, or arrival tests not done", d(16)),
    ("flag", "landing_tests_due", d(17), "yellow", "K6b", "混管阳性待单管复核，或落地检未完成",
     "in a positive pool awaiting single-tube recheck, or arrival tests not done", d(18)),
]


@pytest.mark.parametrize(("kind", "value", "until", "colour", "rule", "zh", "en", "changes_on"), CASES,
                         ids=[f"{c[4]}-{c[1]}" for c in CASES])
def test_each_code_rule_gives_its_colour_reason_and_change_date(county, kind, value, until, colour, rule, zh, en,
                                                                changes_on):
    person = county.person()
    publish(person, kind, value, until=until, note="来源说明")
    view = status_get(person.id)
    assert (view.colour, view.rule, view.reason_zh, view.reason_en) == (colour, rule, zh, en)
    assert view.changes_on == changes_on
    assert view.policy_version == "V9"
    assert view.reasons == [{"rule": rule, "colour": colour, "kind": kind, "value": value, "since": "2022-07-10",
                             "until": until.isoformat() if until else None, "source": "test.source",
                             "note": "来源说明", "reason_zh": zh, "reason_en": en}]
    row = PersonStatus.objects.get(person=person)  # materialised: the scan reads this one row
    assert (row.colour, row.rule, row.changes_on, row.computed_for) == (colour, rule, changes_on, TODAY)


def test_without_facts_a_person_is_green_by_K7_and_has_no_row(county):
    person = county.person()
    view = status_get(person.id)
    assert (view.colour, view.rule, view.reason_zh, view.reason_en) == ("green", "K7", "无异常", "no anomaly")
    assert view.changes_on is None and view.reasons == []
    assert not PersonStatus.objects.exists()


def test_a_fact_not_matching_any_code_rule_leaves_the_person_green(county):
    person = county.person()
    publish(person, "zone", "low")
    publish(person, "measure", "three_days_two_tests", source="testing.plan")
    view = status_get(person.id)
    assert (view.colour, view.rule, view.reasons) == ("green", "K7", [])


def test_the_change_date_is_the_day_after_the_latest_until_of_the_deciding_facts(county):
    person = county.person()
    publish(person, "measure", "central_quarantine", until=d(16), source_id="a")
    publish(person, "measure", "home_quarantine", since=d(12), until=d(19), source_id="b")
    publish(person, "zone", "medium", until=d(30))  # not deciding: K2 wins
    view = status_get(person.id)
    assert (view.rule, view.changes_on) == ("K2", d(20))
    publish(person, "flag", "close_contact", source="tracing")  # open-ended, but K2 still decides
    assert status_get(person.id).changes_on == d(20)
    publish(person, "measure", "home_quarantine", since=d(12), until=None, source_id="b")  # now open-ended
    assert status_get(person.id).changes_on is None


def test_the_highest_priority_rule_wins_and_every_reason_is_listed(county):
    person = county.person()
    publish(person, "zone", "medium", since=d(9), source="zones")
    publish(person, "flag", "spatio_temporal_companion", since=d(13), until=d(20), source="companions")
    publish(person, "case", "confirmed", since=d(14), source="cases")
    publish(person, "measure", "home_health_monitoring", since=d(11), until=d(18), source="quarantine")
    view = status_get(person.id)
    assert (view.colour, view.rule, view.changes_on) == ("red", "K1", None)
    # red first, then by the day each began
    assert [(r["rule"], r["colour"], r["value"]) for r in view.reasons] == [
        ("K1", "red", "confirmed"), ("K5", "yellow", "medium"), ("K4", "yellow", "home_health_monitoring"),
        ("K6", "yellow", "spatio_temporal_companion")]


def test_a_fact_that_ended_yesterday_stops_counting_when_the_business_day_turns(county, settings):
    settings.SHOUWANG_TODAY = "2022-07-14"
    person = county.person()
    publish(person, "measure", "central_quarantine", since=d(1), until=d(14), source="quarantine")
    publish(person, "measure", "home_health_monitoring", since=d(15), until=d(21), source="quarantine")
    view = status_get(person.id)
    assert (view.colour, view.rule, view.changes_on) == ("red", "K2", d(15))
    assert PersonStatus.objects.get(person=person).computed_for == d(14)

    settings.SHOUWANG_TODAY = "2022-07-15"  # the stored row is yesterday's: status_get recomputes and stores it
    view = status_get(person.id)
    assert (view.colour, view.rule, view.changes_on) == ("yellow", "K4", d(22))
    assert [r["value"] for r in view.reasons] == ["home_health_monitoring"]
    row = PersonStatus.objects.get(person=person)
    assert (row.colour, row.rule, row.computed_for) == ("yellow", "K4", d(15))

    settings.SHOUWANG_TODAY = "2022-07-22"  # every fact is over: green, and the row goes
    assert status_get(person.id).colour == "green"
    assert not PersonStatus.objects.filter(person=person).exists()


def test_a_fact_starting_later_keeps_the_row_so_the_day_it_starts_is_not_missed(county, settings):
    person = county.person()
    publish(person, "measure", "home_health_monitoring", since=d(17), until=d(23))
    assert status_get(person.id).colour == "green"
    assert PersonStatus.objects.filter(person=person).exists()
    settings.SHOUWANG_TODAY = "2022-07-17"
    assert (status_get(person.id).colour, status_get(person.id).rule) == ("yellow", "K4")


def test_withdrawing_the_fact_turns_the_person_green(county):
    person, other = county.person(), county.person(name="李四")
    fact_publish(person_ids=[person.id, other.id], kind="flag", value="pool_recheck_pending", since=d(15),
                 until=None, source="testing.pool", source_id="P-0715-0042")
    assert status_get(person.id).colour == "yellow"
    assert fact_withdraw(source="testing.pool", source_id="P-0715-0042", person_ids=[person.id]) == 1
    view = status_get(person.id)
    assert (view.colour, view.rule, view.reasons) == ("green", "K7", [])
    assert not PersonStatus.objects.filter(person=person).exists()
    assert status_get(other.id).colour == "yellow"  # only the person named
    assert fact_withdraw(source="testing.pool", source_id="P-0715-0042") == 1
    assert status_get(other.id).colour == "green"
    assert StatusFact.objects.filter(withdrawn_at__isnull=False).count() == 2  # kept, marked withdrawn


def test_publishing_the_same_fact_twice_is_idempotent_and_a_repeat_updates_the_dates(county):
    person = county.person()
    for _ in range(2):
        publish(person, "measure", "central_quarantine", until=d(16), source="quarantine", source_id="Q-1")
    assert StatusFact.objects.count() == 1
    assert status_get(person.id).changes_on == d(17)
    publish(person, "measure", "central_quarantine", until=d(20), source="quarantine", source_id="Q-1")
    assert StatusFact.objects.count() == 1
    assert StatusFact.objects.get().until == d(20)
    assert status_get(person.id).changes_on == d(21)


def test_a_fact_the_rules_do_not_know_is_refused(county):
    person = county.person()
    with pytest.raises(ValidationFailed) as exc:
        publish(person, "measure", "house_arrest")
    assert (exc.value.field, exc.value.code) == ("value", "invalid_choice")
    with pytest.raises(ValidationFailed) as exc:
        publish(person, "flag", "close_contact", since=d(15), until=d(14))
    assert (exc.value.field, exc.value.code) == ("until", "until_before_since")
    assert not StatusFact.objects.exists()


def test_the_status_of_another_day_is_derived_and_stored_nowhere(county):
    person = county.person()
    publish(person, "measure", "central_quarantine", since=d(1), until=d(12), source="quarantine")
    publish(person, "flag", "landing_tests_due", since=d(14), until=d(16), source="travel")
    assert status_get(person.id, on=d(11)).rule == "K2"
    assert status_on([(person.id, d(11)), (person.id, d(13))])[(person.id, d(13))].rule == "K7"
    row = PersonStatus.objects.get(person=person)
    assert (row.rule, row.computed_for) == ("K6b", TODAY)  # today's row untouched


def test_the_daily_command_recomputes_stale_rows(county, settings):
    settings.SHOUWANG_TODAY = "2022-07-14"
    ended, continuing, green = county.person(), county.person(name="李四"), county.person(name="张三")
    publish(ended, "flag", "close_contact", since=d(10), until=d(14), source="tracing")
    publish(continuing, "zone", "medium", since=d(10), until=d(20), source="zones")
    assert PersonStatus.objects.count() == 2
    settings.SHOUWANG_TODAY = "2022-07-15"
    out = io.StringIO()
    call_command("status_refresh", stdout=out)
    assert "recomputed 2, stored statuses now 1" in out.getvalue()
    assert list(PersonStatus.objects.values_list("person_id", "computed_for")) == [(continuing.id, TODAY)]
    assert status_refresh_stale() == 0  # nothing stale left
    call_command("status_refresh", "--all", stdout=out)
    assert "recomputed 1, stored statuses now 1" in out.getvalue()
    assert status_get(green.id).colour == "green"


def test_api_answers_the_status_of_a_visible_person(county, client_for):
    person = county.person()
    publish(person, "measure", "home_health_monitoring", since=d(12), until=d(18), source="quarantine")
    response = client_for(county.hq).get(f"/api/v1/people/{person.id}/status")
    assert response.status_code == 200
    body = response.json()
    assert body["person_id"] == person.id
    assert (body["colour"], body["rule"], body["reason_zh"], body["changes_on"], body["policy_version"]) == (
        "yellow", "K4", "居家健康监测中", "2022-07-19", "V9")
    assert [r["rule"] for r in body["reasons"]] == ["K4"]


def test_api_answers_404_for_a_person_outside_the_jurisdiction(county, client_for):
    person_b = county.person(area=county.grid_b)
    publish(person_b, "zone", "high")
    worker_a = county.user(Role.GRID_WORKER, county.grid_a)
    response = client_for(worker_a).get(f"/api/v1/people/{person_b.id}/status")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client_for(worker_a).get("/api/v1/people/999999/status").status_code == 404


def test_a_day_before_any_policy_version_has_no_derived_colour(county):
    person = county.person()
    assert status_on([(person.id, dt.date(2022, 6, 1)), (person.id, TODAY)]).keys() == {(person.id, TODAY)}
