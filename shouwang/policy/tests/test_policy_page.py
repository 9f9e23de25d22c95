"""The policy page through the test client: versions, V20a beside V9 and the what-if partial."""


def test_policy_page_compares_two_versions(county, client_for, settings):
    settings.SHOUWANG_TODAY = "2022-11-25"
    client = client_for(county.user("grid_worker", county.grid_a))
    page = client.get("/policy/", {"left": "V9", "right": "V20a"}).content.decode()
    assert "V20a" in page and "现行" in page
    assert page.count('data-testid="in-force"') == 1
    assert "连续5天无新增，解除前24小时内全员核酸阴性 → 低风险区" in page
    assert "集中隔离中发现，隔离点外无传播风险、居家隔离中发现" in page  # V20a's uncounted cases, as labels
    assert "<span class=\"rule\">Z6</span> 无" in page


def test_what_if_partial_for_htmx(county, client_for):
    client = client_for(county.hq)
    html = client.get("/policy/", {"category": "secondary_contact", "anchor_date": "2022-07-01"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert html.count("<article") == 4
    assert "V20 不再判定此类人员" in html
    assert "居家隔离医学观察</strong>\n    07-02–07-08" in html
