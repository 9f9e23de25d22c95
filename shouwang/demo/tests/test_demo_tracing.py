"""The demo county's outbreak (shouwang/demo/tracing.py): a closed chain, an open one and a fresh case with its
investigation open and contacts proposed from the scan log."""

import pytest

from shouwang.accounts.models import User
from shouwang.demo.generator import generate_county
from shouwang.demo.venues import DEMO_DATE
from shouwang.status.services import status_get
from shouwang.tracing import selectors
from shouwang.tracing.models import Case, Contact

SEED, PEOPLE = 3, 1500


@pytest.fixture(autouse=True)
def business_day(settings):
    settings.SHOUWANG_TODAY = DEMO_DATE.isoformat()


@pytest.mark.django_db
def test_demo_outbreak_has_a_closed_chain_an_open_one_and_a_fresh_case():
    generate_county(seed=SEED, people=PEOPLE)
    hq = User.objects.get(username="hq")
    chains = selectors.chains_visible(hq)
    assert [(v.size, v.closed, v.contacts, v.open_contacts, [(c.code, c.state, c.found_by) for c in v.cases])
            for v in chains] == [
        (3, True, 5, 0, [("BL20220703-001", "discharged", "fever_clinic"), ("BL20220705-001", "fangcang", "in_quarantine"),
                         ("BL20220706-001", "fangcang", "in_quarantine")]),
        (2, False, 19, 2, [("BL20220713-001", "hospital", "key_group"), ("BL20220714-001", "fangcang", "in_quarantine")]),
        (1, False, 13, 13, [("BL20220715-001", "reported", "fever_clinic")])]
    graph = selectors.chain_graph(chains[0])  # the two who became cases are drawn once, as cases
    assert sorted((n["kind"], n["state"]) for n in graph["nodes"]) == [
        ("case", "discharged"), ("case", "fangcang"), ("case", "fangcang"), ("close", "released"),
        ("close", "released"), ("close", "released")]
    assert [(v.cluster.name, v.cluster.setting, [c.code for c in v.cases]) for v in selectors.clusters_visible(hq)] == [
        ("天坛镇一起家庭聚集性疫情", "household", ["BL20220703-001", "BL20220705-001"])]
    fresh = Case.objects.order_by("-reported_at").first()
    assert (fresh.investigation.state, fresh.investigation.team) == ("open", "流调三组")
    proposed = Contact.objects.filter(case=fresh, state="proposed")
    assert proposed.count() == 13
    assert proposed.filter(exposures__found_via="companion").count() == 8  # and 5 of the household
    assert (fresh.investigation.events.filter(source="scan").count(), fresh.investigation.events.count()) == (8, 10)
    assert status_get(fresh.person_id).rule == "K1"
    work = selectors.work_list(hq)
    assert (len(work.overdue_investigations), len(work.open_investigations), len(work.to_decide),
            len(work.uncontacted), len(work.transfer_overdue)) == (0, 1, 1, 0, 2)
