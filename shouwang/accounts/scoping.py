"""Jurisdiction: the subtree of the area tree a user may see. Every selector of personal data starts here."""

from __future__ import annotations

from shouwang.accounts.enums import Capability
from shouwang.accounts.models import User
from shouwang.areas.models import Area
from shouwang.core.errors import NotFound, PermissionDenied

# A path that matches no area: a user with no jurisdiction sees nothing.
NOWHERE = "~"


def jurisdiction_path(user) -> str:
    if user is None or not user.is_authenticated or not user.is_active:
        return NOWHERE
    area = user.jurisdiction
    return area.path if area is not None else NOWHERE


def require(user, capability: Capability | str, action_zh: str, action_en: str) -> None:
    if user is None or not user.is_authenticated or not user.can(capability):
        raise PermissionDenied(action_zh, action_en)


def area_visible(*, user, area_id: int) -> Area:
    """Return the area if it lies in the user's jurisdiction; otherwise answer as if it did not exist."""
    path = jurisdiction_path(user)
    area = Area.objects.subtree(path).filter(id=area_id).first()
    if area is None:
        raise NotFound("区域", "area", field="area_id")
    return area


def logins_covering(area: Area):
    """The people's logins (not device tokens) whose jurisdiction is the area or above it: who may be named for work
    there (a site's manager and doctor, a member of a home-quarantine team)."""
    return User.objects.filter(is_active=True, is_device=False,
                               jurisdiction__path__in=Area.ancestor_paths(area.path))


def login_covering(user_id: int | None, area: Area) -> User | None:
    return logins_covering(area).filter(id=user_id).first() if user_id is not None else None
