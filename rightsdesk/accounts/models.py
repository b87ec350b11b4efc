"""Users log in with their e-mail address and hold exactly one role.

Organization sits here rather than in ``talent`` because every non-principal user belongs
to one, and the user model must not depend on a domain app.
"""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from rightsdesk.core.models import TimeStampedModel


class Organization(TimeStampedModel):
    class Kind(models.TextChoices):
        BRAND = "brand", "Brand"
        AGENCY = "agency", "Agency"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["brand", "agency"]), name="organization_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Role(models.TextChoices):
    TALENT = "talent", "Talent"
    GUARDIAN = "guardian", "Guardian"
    ESTATE = "estate", "Estate"
    AGENT = "agent", "Agent"
    LEGAL = "legal", "Legal"
    CAMPAIGN_MANAGER = "campaign_manager", "Campaign manager"
    STAFF = "staff", "Staff"


# The principal is the person whose likeness it is, or who acts for them; only a principal
# may consent to capture or training.
PRINCIPAL_ROLES = frozenset({Role.TALENT, Role.GUARDIAN, Role.ESTATE})
ORGANIZATION_ROLES = frozenset({Role.AGENT, Role.LEGAL, Role.CAMPAIGN_MANAGER})


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("role", Role.STAFF)
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=32, choices=Role.choices)
    # PROTECT: users are named by audit events and signatures; they are deactivated, never
    # deleted with their organisation.
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    preferred_language = models.CharField(max_length=8, default="en")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role__in=["agent", "legal", "campaign_manager"])
                | models.Q(organization__isnull=False),
                name="user_org_role_has_organization",
            ),
            models.CheckConstraint(
                condition=~models.Q(role__in=["talent", "guardian", "estate"])
                | models.Q(organization__isnull=True),
                name="user_principal_has_no_organization",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_principal_role(self) -> bool:
        return self.role in PRINCIPAL_ROLES
