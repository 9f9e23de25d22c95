"""/api/v1/reports/… through the HTTP client on the outbreak of outbreak.py: the curve by either basis, the serial
interval, R_t with the serial interval chosen in the query, the capability and errors naming the field."""

import pytest

from shouwang.accounts.enums import Role
from shouwang.reports import rt


@pytest.fixture
def api(outbreak, client_for):
    return client_for(outbreak["hq"])


def test_the_curve_by_onset_and_by_report_date(api):
    body = api.get("/api/v1/reports/epicurve").json()
    assert (body["basis"], body["start"], body["end"], len(body["days"])) == ("onset", "2022-07-01", "2022-07-15", 15)
    assert body["days"][5] == {"date": "2022-07-06", "total": 2, "community": 0, "quarantine": 2, "local": 2,
                               "imported": 0, "no_onset": 1}
    assert body["days"][1]["total"] == 0  # zero days are listed
    assert "采样日期" in body["note"]
    assert body["total"] == {"total": 6, "community": 4, "quarantine": 2, "local": 5, "imported": 1, "no_onset": 1}
    report = api.get("/api/v1/reports/epicurve", {"basis": "report", "start": "2022-07-05", "end": "2022-07-07"})
    assert [(x["date"], x["total"]) for x in report.json()["days"]] == [
        ("2022-07-05", 1), ("2022-07-06", 0), ("2022-07-07", 2)]
    english = api.get("/api/v1/reports/epicurve", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["note"].startswith("by onset date")


def test_the_serial_interval(api):
    body = api.get("/api/v1/reports/serial-interval").json()
    assert (body["n"], body["skipped"], body["same_day"], body["negative"]) == (3, 1, 0, 0)
    assert body["counts"] == [{"days": 2, "pairs": 2}, {"days": 3, "pairs": 1}]
    assert body["mean"] == pytest.approx(7 / 3) and body["sd"] == pytest.approx(0.5773502691896257)
    assert body["distribution"] == pytest.approx([0, 0, 2 / 3, 1 / 3])


def test_rt_with_the_default_and_a_given_serial_interval(api):
    body = api.get("/api/v1/reports/rt").json()
    assert body["si"] == {"choice": "parametric", "source": "default", "mean": 3.0, "sd": 2.0, "distribution": None,
                          "pairs": 3}
    assert [(w["t_start"], w["t_end"]) for w in body["windows"]][:2] == [("2022-07-02", "2022-07-08"),
                                                                        ("2022-07-03", "2022-07-09")]
    local = [x["local"] for x in body["incidence"]]
    imported = [x["imported"] for x in body["incidence"]]
    est = rt.estimate_rt(local=local, imported=imported, mean_si=3.0, std_si=2.0)
    assert [w["mean"] for w in body["windows"]] == pytest.approx([w.mean for w in est.windows], rel=1e-12)
    assert [w["q975"] for w in body["windows"]] == pytest.approx([w.q975 for w in est.windows], rel=1e-12)
    assert body["warnings"][0]["code"] == "too_early"
    assert set(body["warnings"][0]["messages"]) == {"zh-hans", "en"}

    given = api.get("/api/v1/reports/rt", {"mean_si": "5", "std_si": "3", "start": "2022-07-02"}).json()
    assert (given["si"]["source"], given["si"]["mean"], given["start"]) == ("custom", 5.0, "2022-07-02")
    est = rt.estimate_rt(local=local[1:], imported=imported[1:], mean_si=5.0, std_si=3.0)
    assert [w["mean"] for w in given["windows"]] == pytest.approx([w.mean for w in est.windows], rel=1e-12)

    empirical = api.get("/api/v1/reports/rt", {"si": "empirical"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert (empirical["si"]["source"], empirical["warnings"][0]["code"]) == ("default", "si_few_pairs")
    assert empirical["warnings"][0]["message"].startswith("only 3 linked pairs")


def test_windows_without_cases_before_them_are_null(outbreak, client_for):
    """响水河镇 has no case after 07-03: from 07-05 on there is no infectivity and so no estimate."""
    body = client_for(outbreak["township_b"]).get("/api/v1/reports/rt", {"start": "2022-07-05"}).json()
    assert [w["t_end"] for w in body["windows"]] == ["2022-07-12", "2022-07-13", "2022-07-14", "2022-07-15"]
    assert [w["mean"] for w in body["windows"]] == [None] * 4
    assert [w["q975"] for w in body["windows"]] == [None] * 4
    whole = client_for(outbreak["township_b"]).get("/api/v1/reports/rt").json()
    assert whole["incidence"][0] == {"date": "2022-07-03", "local": 1, "imported": 0}
    assert "first_day_imported" in [x["code"] for x in whole["warnings"]]


@pytest.mark.parametrize("query, field", [
    ({"basis": "sampling"}, "basis"),
    ({"end": "2022-07-16"}, "end"),
    ({"start": "2022-07-10", "end": "2022-07-09"}, "start"),
    ({"start": "七月"}, "start"),
])
def test_bad_queries_name_the_field(api, query, field):
    response = api.get("/api/v1/reports/epicurve", query)
    assert response.status_code == 422
    assert response.json()["field"] == field


@pytest.mark.parametrize("query, field", [
    ({"si": "both"}, "si"),
    ({"mean_si": "0.5"}, "mean_si"),
    ({"std_si": "-1"}, "std_si"),
])
def test_bad_serial_intervals_name_the_field(api, query, field):
    response = api.get("/api/v1/reports/rt", query)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_the_reports_need_the_tracing_view_capability(outbreak, client_for):
    sampler = client_for(outbreak["county"].user(Role.SAMPLER, outbreak["county"].township_a))
    for path in ("epicurve", "serial-interval", "rt"):
        response = sampler.get(f"/api/v1/reports/{path}")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert client_for(outbreak["township"]).get("/api/v1/reports/serial-interval").json()["n"] == 3
