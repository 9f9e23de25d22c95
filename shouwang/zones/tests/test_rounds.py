"""The clock's screening rounds (testing.selectors.screening_rounds) through the testing services: a round over the
compound, sampled, sent and resulted, is done and all negative in the compound and in each building under it on
the day of its last sample; in the village around it (only part sampled) it is not done; an exemption not sampled
leaves the area complete; a positive pool awaiting recheck is not done, a positive recheck is (date, False);
key-group and cancelled rounds never count."""

import datetime as dt

import pytest
from django.utils import timezone

from shouwang.accounts.enums import Role
from shouwang.testing.enums import RoundKind
from shouwang.testing.selectors import screening_rounds
from shouwang.testing.services import (
    RoundInput,
    batch_pack,
    batch_receive,
    exemption_add,
    lab_create,
    results_review,
    results_stage,
    round_create,
    round_set_state,
    tube_fill,
)
from shouwang.zones.tests.conftest import D, on, screening

DAY = D("2022-07-18")


def lab_file(rows) -> bytes:
    return ("管码,结果,ORF1ab,N\n" + "\n".join(",".join(r) for r in rows) + "\n").encode()


@pytest.fixture
def lab(world, settings):
    on(settings, DAY)
    c = world.county
    return {"lab": lab_create(actor=c.hq, name="县疾控实验室", area_id=c.county.id),
            "sampler": c.user(Role.SAMPLER, c.county, username="sampler-z"),
            "lab_user": c.user(Role.LAB, c.county, username="lab-z")}


def run_round(world, lab, tubes: dict[str, list], results: dict[str, str], *, kind=RoundKind.AREA, exempt=()):
    c = world.county
    start = timezone.make_aware(dt.datetime.combine(DAY, dt.time(6)))
    round_ = round_create(actor=c.hq, data=RoundInput(name="第7天全员核酸", area_ids=[world.compound.id], kind=kind,
                                                      starts_at=start, deadline=start + dt.timedelta(hours=17),
                                                      settings={world.compound.id: "high_risk_zone"}))
    for person in exempt:
        exemption_add(actor=c.hq, round_id=round_.id, person_id=person.id, reason="away")
    for barcode, people in tubes.items():
        tube_fill(actor=lab["sampler"], round_id=round_.id, barcode=barcode,
                  people=[{"id_number": p.id_number} for p in people], close=True)
    batch_pack(actor=lab["sampler"], code=f"BOX-{round_.id}", lab_id=lab["lab"].id, barcodes=list(tubes))
    batch_receive(actor=lab["lab_user"], code=f"BOX-{round_.id}", barcodes=list(tubes))
    staged = results_stage(actor=lab["lab_user"], lab_id=lab["lab"].id, file_name="结果.csv",
                           upload=lab_file([(b, results.get(b, "阴性"), "", "") for b in tubes]))
    results_review(actor=c.hq, file_id=staged.id, accept=True)
    return round_


def households(world):
    p = world.people
    return {"H1": [p["张一"], p["张二"]], "H2": [p["李老"]], "H3": [p["王孕"], p["王病"]], "H4": [p["赵独"]],
            "H5": [p["钱无户"]]}


def test_a_whole_compound_round_all_negative_counts_for_the_compound_and_its_buildings_not_the_village(world, lab):
    round_ = run_round(world, lab, households(world), {})
    got = screening_rounds([world.compound.path, world.b2.path, world.county.village_a.path,
                            world.county.grid_b.path], since=D("2022-07-11"))
    assert got == {world.compound.path: {round_.id: (DAY, True)}, world.b2.path: {round_.id: (DAY, True)},
                   world.county.village_a.path: {}, world.county.grid_b.path: {}}
    assert screening_rounds([world.compound.path], since=D("2022-07-19")) == {world.compound.path: {}}


def test_an_exemption_not_sampled_leaves_the_area_complete_and_a_missing_person_does_not(world, lab):
    tubes = households(world)
    away = tubes.pop("H5")[0]
    done = run_round(world, lab, tubes, {}, exempt=[away])
    assert screening_rounds([world.compound.path])[world.compound.path] == {done.id: (DAY, True)}
    tubes = households(world)
    tubes = {f"X{k}": v for k, v in tubes.items() if k != "H4"}  # 赵独 neither sampled nor exempt
    missing = run_round(world, lab, tubes, {})
    got = screening_rounds([world.compound.path, world.unit1.path])
    assert got[world.compound.path] == {done.id: (DAY, True)}
    assert got[world.unit1.path] == {done.id: (DAY, True), missing.id: (DAY, True)}  # unit 1 was complete


def test_a_positive_pool_is_not_done_until_rechecked_a_positive_counts_at_once(world, lab):
    round_ = run_round(world, lab, households(world), {"H3": "阳性"})
    got = screening_rounds([world.compound.path, world.b1.path, world.unit1.path])
    assert got == {world.compound.path: {}, world.b1.path: {round_.id: (DAY, True)}, world.unit1.path: {}}
    screening([world.compound], DAY, {world.people["王病"]: "positive"})
    got = screening_rounds([world.compound.path])[world.compound.path]
    assert [v for v in got.values()] == [(DAY, False)]


def test_key_group_and_cancelled_rounds_do_not_count(world, lab):
    run_round(world, lab, households(world), {}, kind=RoundKind.KEY_GROUPS)
    assert screening_rounds([world.compound.path]) == {world.compound.path: {}}
    area = run_round(world, lab, {f"Y{k}": v for k, v in households(world).items()}, {})
    round_set_state(actor=world.county.hq, round_id=area.id, state="cancelled")
    assert screening_rounds([world.compound.path]) == {world.compound.path: {}}
