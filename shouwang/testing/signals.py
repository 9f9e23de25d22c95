"""What testing tells the domains above it (connected in shouwang/response, which turns them into work there)."""

from django.dispatch import Signal

# A reviewed single tube (a recheck, or a single-tube sample) is positive. Arguments: actor (the reviewer),
# tubes: [(barcode, sampled_on, purpose, [person ids])]. Sent inside the review's transaction.
positives_reported = Signal()

# A positive result was corrected to negative or invalid. Arguments: actor, barcode, reason.
positive_withdrawn = Signal()
