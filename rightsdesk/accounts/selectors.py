"""Reads about users and organisations, and the role predicates other apps share."""

from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.core.errors import NotFound


def user_is_staff(*, user: User) -> bool:
    """Staff operate the instance. The role decides, not ``is_staff`` alone (admin access)."""
    return bool(user.is_authenticated and user.is_active and user.role == Role.STAFF)


def user_agency_id(*, user: User) -> int | None:
    """The agency an active agency member (agent or legal) belongs to, else None."""
    if not (user.is_authenticated and user.is_active) or user.organization_id is None:
        return None
    if user.role not in (Role.AGENT, Role.LEGAL):
        return None
    if user.organization.kind != Organization.Kind.AGENCY:
        return None
    return user.organization_id


def organization_get(*, public_id: UUID | str, kind: str | None = None) -> Organization:
    queryset = Organization.objects.all()
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    try:
        return queryset.get(public_id=public_id)
    except (Organization.DoesNotExist, DjangoValidationError, ValueError):
        raise NotFound("No such organisation.")
