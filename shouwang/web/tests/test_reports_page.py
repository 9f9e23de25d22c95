"""The epidemic analytics page (/reports/epi/) through the test client, on the outbreak of
shouwang/reports/tests/outbreak.py: the curve's table for each basis (the other hidden), R_t's table equal to the
selector, the serial interval, the form's errors under their field, the capability and the menu link."""

import re
from html import unescape

import pytest
from django.urls import reverse

from shouwang.accounts.enums import Role
from shouwang.reports import selectors
from shouwang.reports.tests.outbreak import TODAY, build, d

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
URL = "/reports/epi/"


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = TODAY


@pytest.fixture
def outbreak(county):
    return build(county)


def rows(html: str, testid: str) -> list[str]:
    return re.findall(rf'<tr data-testid="{testid}"[^>]*>(.*?)</tr>', html, re.S)


def cells(row: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def block(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start:html.index("</table>", start)]


def test_the_page_shows_each_chart_with_its_table(outbreak, client_for):
    response = client_for(outbreak["hq"]).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("reports_epi") == URL
    assert "2022-07-01 至 2022-07-15" in html
    onset = block(html, "curve-table-onset")
    days = rows(onset, "curve-row")
    assert len(days) == 15  # zero days included
    assert cells(days[5]) == ["2022-07-06", "2", "0", "2", "2", "0", "1"]  # A3 by onset, A4 by sampling date
    assert cells(days[1]) == ["2022-07-02", "0", "0", "0", "0", "0", "0"]
    assert cells(rows(onset, "curve-sum")[0]) == ["合计", "6", "4", "2", "5", "1", "1"]
    report = block(html, "curve-table-report")
    assert 'data-testid="curve-table-report" hidden' in html and 'data-testid="curve-table-onset" hidden' not in html
    assert cells(rows(report, "curve-row")[6]) == ["2022-07-07", "2", "0", "2", "2", "0"]
    assert "无症状感染者没有发病日期，按阳性采样日期计入" in html

    view = selectors.rt_estimate(outbreak["hq"])
    rt_rows = rows(block(html, "rt-table"), "rt-row")
    assert len(rt_rows) == len(view.windows) == 8
    first = cells(rt_rows[0])
    w = view.windows[0]
    assert first == ["07-02 – 07-08", "5", f"{w.mean:.2f}", f"{w.q025:.2f} – {w.q975:.2f}"]
    assert "第一个窗口只有 5 例" in html  # EpiEstim's warning, in Chinese
    assert "默认参数（奥密克戎）" in html and "3.0 ± 2.0" in html

    assert [cells(r) for r in rows(block(html, "si-table"), "si-row")] == [
        ["0", "0", "0%"], ["1", "0", "0%"], ["2", "2", "67%"], ["3", "1", "33%"]]
    assert re.search(r'data-testid="si-n">3<', html) and re.search(r'data-testid="si-skipped">1<', html)
    assert re.search(r'data-testid="si-mean">2.33<', html) and re.search(r'data-testid="si-sd">0.58<', html)
    # the charts draw the same numbers (json_script) with ECharts from build/assets
    assert 'id="report-data"' in html and "vendor/echarts.min.js" in html
    assert 'id="curve-chart"' in html and 'id="rt-chart"' in html and 'id="si-chart"' in html


def test_the_report_basis_and_a_given_range_and_serial_interval(outbreak, client_for):
    client = client_for(outbreak["township"])
    html = client.get(URL, {"basis": "report", "start": "2022-07-02", "end": "2022-07-12", "mean_si": "4.5",
                            "std_si": "2.5"}).content.decode()
    assert 'data-testid="curve-table-onset" hidden' in html
    report = rows(block(html, "curve-table-report"), "curve-row")
    assert [cells(r)[:2] for r in report if cells(r)[1] != "0"] == [["2022-07-05", "1"], ["2022-07-07", "2"],
                                                                    ["2022-07-09", "1"]]
    view = selectors.rt_estimate(outbreak["township"], start=d(2), end=d(12), mean_si=4.5, std_si=2.5)
    means = [cells(r)[2] for r in rows(block(html, "rt-table"), "rt-row")]
    assert means == [f"{w.mean:.2f}" for w in view.windows]
    assert "自定义参数" in html and "4.5 ± 2.5" in html
    # the toggle keeps the query
    assert 'href="?start=2022-07-02&amp;end=2022-07-12&amp;mean_si=4.5&amp;std_si=2.5&amp;basis=onset#curve"' in html


def test_empirical_falls_back_with_a_warning_in_english(outbreak, client_for):
    html = client_for(outbreak["hq"]).get(URL, {"si": "empirical"}, **EN).content.decode()
    assert "Only 3 linked pairs with both onsets (fewer than 10)" in html  # capitalised on the page
    assert "Default (Omicron)" in html


@pytest.mark.parametrize("query, field, text", [
    ({"start": "2022-13-01"}, "start", "日期格式应为 2022-07-15"),
    ({"end": "2022-07-16"}, "end", "结束日期不能晚于今天"),
    ({"mean_si": "三"}, "mean_si", "请填写天数"),
    ({"mean_si": "0.5"}, "mean_si", "序列间隔均值须大于 1 天"),
    ({"std_si": "0"}, "std_si", "序列间隔标准差须大于 0"),
])
def test_form_errors_sit_under_their_field(outbreak, client_for, query, field, text):
    response = client_for(outbreak["hq"]).get(URL, query)
    assert response.status_code == 422
    html = response.content.decode()
    label = re.search(rf'<label>[^<]*\s*<(?:input|select)[^>]*name="{field}".*?</label>', html, re.S).group(0)
    assert text in unescape(label) and 'data-testid="field-error"' in label
    if field in ("start", "end"):  # nothing to show without a range
        assert 'id="report-data"' not in html
    else:  # the curve and the serial interval do not depend on R_t's serial interval
        assert 'data-testid="curve-table-onset"' in html and 'data-testid="si-table"' in html
        assert 'data-testid="rt-none"' in html and 'id="rt-chart"' not in html


def test_the_page_needs_tracing_view_and_the_menu_links_it(outbreak, client_for):
    county = outbreak["county"]
    sampler = client_for(county.user(Role.SAMPLER, county.township_a))
    response = sampler.get(URL)
    assert response.status_code == 403
    assert 'data-testid="nav-reports"' not in sampler.get("/").content.decode()
    home = client_for(outbreak["township"]).get("/").content.decode()
    assert 'href="/reports/epi/" data-testid="nav-reports"' in home


def test_an_empty_jurisdiction_reads_without_errors(county, client_for):
    html = client_for(county.user(Role.GRID_WORKER, county.grid_b)).get(URL).content.decode()
    assert "2022-07-15 至 2022-07-15" in html
    assert cells(rows(block(html, "curve-table-onset"), "curve-row")[0])[:2] == ["2022-07-15", "0"]
    assert "按周滑动窗口估计至少需要 8 天的数据（现有 1 天）" in html
    assert 'data-testid="si-none"' in html and 'id="rt-chart"' not in html
