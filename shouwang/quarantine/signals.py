"""What quarantine tells the domains above it (connected in shouwang/response)."""

from django.dispatch import Signal

# Stays that came from a tracing contact changed state. Arguments: actor, changes: [(source_ref, state, final)]
# where final is True when no phase of the plan follows. Sent inside the change's transaction.
stays_changed = Signal()
