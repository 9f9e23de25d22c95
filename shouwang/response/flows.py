"""Flows across domains.

Testing → tracing: a reviewed positive single tube (a recheck of a positive pool, or a single-tube sample) hands its
person to tracing as a case awaiting diagnosis, inside the same transaction as the review, so a review that fails
leaves no case behind; a positive corrected away excludes the case it made.

Tracing → quarantine: a contact identified (or re-planned: a later exposure, a secondary contact re-classified)
gets a stay from the policy's plan — central quarantine awaiting transfer, or home quarantine in force — and a
person who becomes a case leaves their stay (转为病例).

Tracing → zones: a reported case is recorded against the zones that cover its home (restarting their clock when the
policy counts it) and a zone around its home is proposed in the policy's unit for HQ to approve; a positive
corrected away takes its case off the zones. Quarantine → tracing: the contact follows their stay
(picked up: transferred; in the room or at home: under measure; the plan's last phase released: released)."""

from shouwang.quarantine.services import stay_for_contact, stays_close_for_case
from shouwang.quarantine.signals import stays_changed
from shouwang.testing.signals import positive_withdrawn, positives_reported
from shouwang.tracing.services import cases_from_test, cases_withdraw_test, contacts_follow_measure
from shouwang.tracing.signals import case_reported, contact_planned
from shouwang.zones.services import zone_case_withdraw, zone_for_case

CONTACT_REF = "contact:"
STAY_TO_CONTACT = {"in_transfer": "transferred", "active": "under_measure"}


def on_positives(sender, *, actor, tubes, **kwargs) -> None:
    for barcode, sampled_on, purpose, person_ids in tubes:
        cases_from_test(reviewer=actor, barcode=barcode, sampled_on=sampled_on, purpose=purpose,
                        person_ids=person_ids)


def on_withdrawn(sender, *, actor, barcode, reason, **kwargs) -> None:
    for case in cases_withdraw_test(actor=actor, barcode=barcode, reason=reason):
        zone_case_withdraw(case_code=case.code, reason=reason, actor=actor)


def on_contact_planned(sender, *, actor, contact_id, person_id, category, last_exposure, case_code, **kwargs) -> None:
    stay_for_contact(actor=actor, person_id=person_id, category=category, anchor_date=last_exposure,
                     source_ref=f"{CONTACT_REF}{contact_id}", source_case=case_code)


def on_case_reported(sender, *, actor, person_id, case_code, area_id, found_on, context, **kwargs) -> None:
    stays_close_for_case(actor=actor, person_id=person_id, case_code=case_code)
    zone_for_case(actor=actor, person_area_id=area_id, case_code=case_code, found_on=found_on, context=context,
                  checked=True)


def on_stays_changed(sender, *, actor, changes, **kwargs) -> None:
    by_state: dict[str, list[int]] = {}
    for source_ref, state, final in changes:
        if not source_ref.startswith(CONTACT_REF):
            continue
        target = "released" if state == "released" and final else STAY_TO_CONTACT.get(state)
        if target:
            by_state.setdefault(target, []).append(int(source_ref[len(CONTACT_REF):]))
    for target in ("transferred", "under_measure", "released"):  # in the order a contact goes through them
        if target in by_state:
            contacts_follow_measure(contact_ids=by_state[target], state=target)


def connect() -> None:
    positives_reported.connect(on_positives, dispatch_uid="response.testing_to_tracing")
    positive_withdrawn.connect(on_withdrawn, dispatch_uid="response.testing_withdrawn")
    contact_planned.connect(on_contact_planned, dispatch_uid="response.contact_to_stay")
    case_reported.connect(on_case_reported, dispatch_uid="response.case_closes_stay")
    stays_changed.connect(on_stays_changed, dispatch_uid="response.stay_to_contact")
