"""What tracing tells the domains above it (connected in shouwang/response, which turns them into work there)."""

from django.dispatch import Signal

# A contact's measure is decided or changed (identified, a later exposure, re-classified). Arguments: actor,
# contact_id, person_id, category (the policy category), last_exposure, case_code. Sent inside the transaction.
contact_planned = Signal()

# A person became a case. Arguments: actor, person_id, case_code, area_id (the person's home), found_on (the
# sampling date), context (a policy case context: community, central_quarantine, home_quarantine). Sent inside the
# report's transaction.
case_reported = Signal()
