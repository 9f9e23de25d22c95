from shouwang.accounts.enums import COMMAND_ROLES, Capability


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_can_audit": user.can(Capability.AUDIT_VIEW),
        "nav_can_import": user.can(Capability.PERSON_IMPORT),
        "nav_is_command": user.role in COMMAND_ROLES,
        "nav_can_venues": user.can(Capability.VENUE_MANAGE) or user.can(Capability.VENUE_INSPECT),
        "nav_can_scan": user.can(Capability.SCAN_RECORD),
        "nav_can_inspect": user.can(Capability.VENUE_INSPECT),
        "nav_can_testing": user.can(Capability.TESTING_VIEW),
        "nav_can_sample": user.can(Capability.SAMPLE_RECORD),
        "nav_can_lab": user.can(Capability.LAB_RESULT) or user.can(Capability.RESULT_REVIEW),
        "nav_can_tracing": user.can(Capability.TRACING_VIEW),
        "nav_can_case_manage": user.can(Capability.CASE_MANAGE),
        "nav_can_quarantine": user.can(Capability.QUARANTINE_VIEW) or user.can(Capability.STAY_MANAGE),
        "nav_can_zones": user.can(Capability.ZONE_VIEW),
    }
