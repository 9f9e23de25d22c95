"""Flows across domains. Testing → tracing: a reviewed positive single tube (a recheck of a positive pool, or a
single-tube sample) hands its person to tracing as a case awaiting diagnosis, inside the same transaction as the
review, so a review that fails leaves no case behind; a positive corrected away excludes the case it made."""

from shouwang.testing.signals import positive_withdrawn, positives_reported
from shouwang.tracing.services import cases_from_test, cases_withdraw_test


def on_positives(sender, *, actor, tubes, **kwargs) -> None:
    for barcode, sampled_on, purpose, person_ids in tubes:
        cases_from_test(reviewer=actor, barcode=barcode, sampled_on=sampled_on, purpose=purpose,
                        person_ids=person_ids)


def on_withdrawn(sender, *, actor, barcode, reason, **kwargs) -> None:
    cases_withdraw_test(actor=actor, barcode=barcode, reason=reason)


def connect() -> None:
    positives_reported.connect(on_positives, dispatch_uid="response.testing_to_tracing")
    positive_withdrawn.connect(on_withdrawn, dispatch_uid="response.testing_withdrawn")
