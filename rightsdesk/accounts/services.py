"""Writes for organisations and users. Every one is audited in its own transaction."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from rightsdesk.accounts.errors import EmailTaken, RoleOrganizationMismatch
from rightsdesk.accounts.models import PRINCIPAL_ROLES, Organization, Role, User
from rightsdesk.audit.services import audit_record
from rightsdesk.core.errors import ValidationFailed

# The organisation kinds each organisation role may belong to (DESIGN.md, "Who uses it").
_ROLE_ORGANIZATION_KINDS: dict[str, frozenset[str]] = {
    Role.AGENT: frozenset({Organization.Kind.AGENCY}),
    Role.LEGAL: frozenset({Organization.Kind.BRAND, Organization.Kind.AGENCY}),
    Role.CAMPAIGN_MANAGER: frozenset({Organization.Kind.BRAND}),
}


@transaction.atomic
def organization_create(
    *, name: str, kind: str, country: str = "", actor: User | None
) -> Organization:
    name = name.strip()
    country = country.strip().upper()
    if not name:
        raise ValidationFailed(fields={"name": ["A name is required."]})
    if kind not in Organization.Kind.values:
        raise ValidationFailed(fields={"kind": [f"Unknown kind {kind!r}."]})
    if country and (len(country) != 2 or not country.isalpha()):
        raise ValidationFailed(fields={"country": ["Use an ISO 3166-1 alpha-2 code."]})
    organization = Organization.objects.create(name=name, kind=kind, country=country)
    audit_record(
        actor=actor,
        action="organization.created",
        target=organization,
        payload={"name": name, "kind": kind, "country": country},
    )
    return organization


def _check_role_organization(*, role: str, organization: Organization | None) -> None:
    if role not in Role.values:
        raise ValidationFailed(fields={"role": [f"Unknown role {role!r}."]})
    allowed_kinds = _ROLE_ORGANIZATION_KINDS.get(role)
    if allowed_kinds is None:
        # Principals act for themselves or a talent; staff operate the instance.
        if organization is not None:
            raise RoleOrganizationMismatch(f"A {role} user belongs to no organisation.", role=role)
        return
    if organization is None or organization.kind not in allowed_kinds:
        raise RoleOrganizationMismatch(
            f"A {role} user must belong to: {', '.join(sorted(allowed_kinds))}.",
            role=role,
            allowed_kinds=sorted(allowed_kinds),
        )


@transaction.atomic
def user_create(
    *,
    email: str,
    role: str,
    password: str | None = None,
    full_name: str = "",
    organization: Organization | None = None,
    preferred_language: str = "en",
    actor: User | None,
) -> User:
    """Create a user with one role. Without a password the account cannot log in yet."""
    email = User.objects.normalize_email(email.strip()).lower()
    if not email:
        raise ValidationFailed(fields={"email": ["An e-mail address is required."]})
    _check_role_organization(role=role, organization=organization)
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken()
    user = User(
        email=email,
        role=role,
        full_name=full_name.strip(),
        organization=organization,
        preferred_language=preferred_language,
        is_staff=role == Role.STAFF,
    )
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user=user)
        except DjangoValidationError as exc:
            raise ValidationFailed(fields={"password": exc.messages})
        user.set_password(password)
    user.save()
    audit_record(
        actor=actor,
        action="user.created",
        target=user,
        payload={
            "role": role,
            "organization": str(organization.public_id) if organization else None,
            "principal": role in PRINCIPAL_ROLES,
        },
    )
    return user


@transaction.atomic
def user_deactivate(*, user: User, actor: User | None) -> User:
    """Deactivate rather than delete: audit events and signatures keep naming the user."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        return user
    user.is_active = False
    user.save(update_fields=["is_active"])
    # An API token would otherwise outlive the account.
    revoked = Token.objects.filter(user=user).delete()[0]
    audit_record(
        actor=actor,
        action="user.deactivated",
        target=user,
        payload={"tokens_revoked": revoked},
    )
    return user
