from shouwang.accounts.enums import COMMAND_ROLES, Capability


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_can_audit": user.can(Capability.AUDIT_VIEW),
        "nav_can_import": user.can(Capability.PERSON_IMPORT),
        "nav_is_command": user.role in COMMAND_ROLES,
    }
