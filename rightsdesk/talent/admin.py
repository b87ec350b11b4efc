"""Staff administration of talents, their proxies, representations and likenesses.

The admin writes only through the services: an add form validates with the service's own
checks and ``save_model`` calls the service; existing rows are read-only here (their
changes are domain operations with their own services). Only users with the staff role
get in, and opening a talent (which shows the legal name and date of birth) is audited as
"talent.personal_data_read"; lists show the stage name only.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.accounts.selectors import user_is_staff
from rightsdesk.core.errors import ApplicationError, ValidationFailed
from rightsdesk.talent import services
from rightsdesk.talent.models import (
    CaptureImage,
    CaptureSession,
    DestructionCertificate,
    LikenessVersion,
    Representation,
    Talent,
    TalentDataKey,
    TalentProxy,
)
from rightsdesk.talent.selectors import POWER_FIELDS, talent_personal_data_get


def _as_form_error(form: forms.Form, error: ApplicationError) -> None:
    if isinstance(error, ValidationFailed):
        for field, problems in error.extra.get("fields", {}).items():
            target = field if field in form.fields else None
            for problem in problems:
                form.add_error(target, str(problem))
        return
    form.add_error(None, f"{error.message} ({error.code})")


def _adopt(obj: Model, created: Model) -> None:
    """Make the admin's unsaved instance the row the service created (for its messages,
    log entry and redirect)."""
    obj.__dict__.update({k: v for k, v in created.__dict__.items() if k != "_state"})
    obj._state.adding = False
    obj._state.db = created._state.db


class StaffOnlyAdmin(admin.ModelAdmin):
    """Rows are created through a service and never edited or deleted here."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return user_is_staff(user=request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_is_staff(user=request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Model | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = list(self.add_form.base_fields)
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None):
        if obj is None:
            return [(None, {"fields": list(self.add_form.base_fields)})]
        return super().get_fieldsets(request, obj)


class TalentAddForm(forms.ModelForm):
    guardian = forms.ModelChoiceField(
        queryset=User.objects.filter(role=Role.GUARDIAN, is_active=True),
        required=False,
        help_text="Required for a minor (and only where the instance allows minors).",
    )
    guardian_authority_document = forms.FileField(required=False)
    guardian_authority_document_sha256 = forms.CharField(required=False, max_length=64)

    class Meta:
        model = Talent
        fields = [
            "user",
            "legal_name",
            "stage_name",
            "date_of_birth",
            "jurisdiction",
            "preferred_language",
            "stage_name_public",
        ]

    def clean_jurisdiction(self) -> str:
        try:
            return services.normalise_jurisdiction(self.cleaned_data["jurisdiction"])
        except ApplicationError as error:
            raise forms.ValidationError(error.message)

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            minor = services.talent_check_new(
                legal_name=data["legal_name"],
                date_of_birth=data["date_of_birth"],
                jurisdiction=data["jurisdiction"],
                user=data.get("user"),
                guardian=data.get("guardian"),
            )
            if minor:
                services.authority_sha256(
                    document=data.get("guardian_authority_document"),
                    sha256=data.get("guardian_authority_document_sha256", ""),
                )
        except ApplicationError as error:
            _as_form_error(self, error)
        return data


@admin.register(Talent)
class TalentAdmin(StaffOnlyAdmin):
    add_form = TalentAddForm
    list_display = ("__str__", "public_id", "identity_verified", "deceased", "created_at")
    list_filter = ("deceased",)
    search_fields = ("stage_name",)
    readonly_fields = ("public_id", "is_minor_now", "created_at", "updated_at")
    fields = (
        "public_id",
        "user",
        "legal_name",
        "stage_name",
        "stage_name_public",
        "date_of_birth",
        "jurisdiction",
        "is_minor_now",
        "preferred_language",
        "deceased",
        "identity_verified_at",
        "identity_verified_by",
        "identity_verification_method",
        "created_at",
        "updated_at",
    )
    actions = ["verify_identity_by_document_check"]

    @admin.display(boolean=True, description="identity verified")
    def identity_verified(self, talent: Talent) -> bool:
        return talent.identity_verified

    @admin.display(boolean=True, description="minor today")
    def is_minor_now(self, talent: Talent) -> bool:
        return talent.is_minor()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        # The change (view) page shows the legal name and date of birth: audit the read.
        talent = self.get_object(request, unquote(object_id))
        if talent is not None and self.has_view_permission(request, talent):
            talent_personal_data_get(user=request.user, talent=talent, via="admin")
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Talent, form, change: bool) -> None:
        data = form.cleaned_data
        created = services.talent_create(
            legal_name=data["legal_name"],
            date_of_birth=data["date_of_birth"],
            jurisdiction=data["jurisdiction"],
            stage_name=data.get("stage_name", ""),
            user=data.get("user"),
            preferred_language=data.get("preferred_language") or "en",
            stage_name_public=data.get("stage_name_public", False),
            guardian=data.get("guardian"),
            guardian_authority_document=data.get("guardian_authority_document"),
            guardian_authority_document_sha256=data.get("guardian_authority_document_sha256") or "",
            actor=request.user,
        )
        _adopt(obj, created)

    @admin.action(description="Attest identity (document check)")
    def verify_identity_by_document_check(self, request: HttpRequest, queryset: QuerySet) -> None:
        for talent in queryset:
            try:
                services.talent_verify_identity(
                    talent=talent, method="document_check", actor=request.user
                )
            except ApplicationError as error:
                self.message_user(request, f"{talent}: {error.message}", messages.WARNING)
            else:
                self.message_user(request, f"{talent}: identity attested.", messages.SUCCESS)


class TalentProxyAddForm(forms.ModelForm):
    class Meta:
        model = TalentProxy
        fields = [
            "talent",
            "user",
            "kind",
            "authority_document",
            "authority_document_sha256",
            "valid_from",
            "valid_to",
        ]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            services.talent_proxy_check_new(
                talent=data["talent"],
                user=data["user"],
                kind=data["kind"],
                valid_from=data["valid_from"],
                valid_to=data.get("valid_to"),
            )
            services.authority_sha256(
                document=data.get("authority_document"),
                sha256=data.get("authority_document_sha256", ""),
            )
        except ApplicationError as error:
            _as_form_error(self, error)
        return data


@admin.register(TalentProxy)
class TalentProxyAdmin(StaffOnlyAdmin):
    add_form = TalentProxyAddForm
    list_display = ("talent", "kind", "user", "valid_from", "valid_to")
    list_filter = ("kind",)
    fields = (
        "talent",
        "user",
        "kind",
        "authority_document",
        "authority_document_sha256",
        "valid_from",
        "valid_to",
    )

    def save_model(self, request: HttpRequest, obj: TalentProxy, form, change: bool) -> None:
        data = form.cleaned_data
        created = services.talent_proxy_add(
            talent=data["talent"],
            user=data["user"],
            kind=data["kind"],
            authority_document=data.get("authority_document") or None,
            authority_document_sha256=data.get("authority_document_sha256", ""),
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            actor=request.user,
        )
        _adopt(obj, created)


class RepresentationAddForm(forms.ModelForm):
    agency = forms.ModelChoiceField(
        queryset=Organization.objects.filter(kind=Organization.Kind.AGENCY)
    )
    mother_agency = forms.ModelChoiceField(
        queryset=Organization.objects.filter(kind=Organization.Kind.AGENCY), required=False
    )

    class Meta:
        model = Representation
        fields = [
            "talent",
            "agency",
            "commission_bps",
            *POWER_FIELDS.values(),
            "valid_from",
            "valid_to",
            "mother_agency",
            "mother_agency_share_bps",
        ]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            services.representation_check_new(
                talent=data["talent"],
                agency=data["agency"],
                commission_bps=data["commission_bps"],
                valid_from=data["valid_from"],
                valid_to=data.get("valid_to"),
                mother_agency=data.get("mother_agency"),
                mother_agency_share_bps=data.get("mother_agency_share_bps") or 0,
            )
        except ApplicationError as error:
            _as_form_error(self, error)
        return data


@admin.register(Representation)
class RepresentationAdmin(StaffOnlyAdmin):
    add_form = RepresentationAddForm
    list_display = (
        "talent",
        "agency",
        "commission_bps",
        "valid_from",
        "valid_to",
        "mother_agency",
        "mother_agency_share_bps",
    )
    list_select_related = ("talent", "agency", "mother_agency")
    actions = ["end_now"]

    def save_model(self, request: HttpRequest, obj: Representation, form, change: bool) -> None:
        data = form.cleaned_data
        created = services.representation_create(
            talent=data["talent"],
            agency=data["agency"],
            commission_bps=data["commission_bps"],
            powers=frozenset(name for name, field in POWER_FIELDS.items() if data.get(field)),
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            mother_agency=data.get("mother_agency"),
            mother_agency_share_bps=data.get("mother_agency_share_bps") or 0,
            actor=request.user,
        )
        _adopt(obj, created)

    @admin.action(description="End the selected representations now")
    def end_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for representation in queryset:
            try:
                services.representation_end(representation=representation, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{representation}: {error.message}", messages.WARNING)


@admin.register(LikenessVersion)
class LikenessVersionAdmin(StaffOnlyAdmin):
    list_display = ("talent", "version", "status", "base_model", "signed_off_at")
    list_filter = ("status",)
    list_select_related = ("talent",)
    readonly_fields = ("public_id", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # likenesses come from training, not from the admin


class ReadOnlyAdmin(StaffOnlyAdmin):
    """Shown, never added or edited here: these rows come from their services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None):
        return self.fields


@admin.register(CaptureSession)
class CaptureSessionAdmin(ReadOnlyAdmin):
    list_display = ("talent", "studio_name", "scheduled_at", "status", "notice_waived_at")
    list_filter = ("status",)
    list_select_related = ("talent",)
    search_fields = ["=public_id", "=talent__public_id", "studio_name"]
    fields = (
        "public_id",
        "talent",
        "studio_name",
        "photographer_name",
        "photographer_training_licence",
        "scheduled_at",
        "notice_sent_at",
        "notice_waived_at",
        "notice_waived_by",
        "status",
        "closed_at",
        "created_by",
        "created_at",
    )


@admin.register(CaptureImage)
class CaptureImageAdmin(ReadOnlyAdmin):
    """Metadata only: the encrypted file is neither shown, linked nor downloadable."""

    list_display = ("sha256", "session", "format", "width", "height", "byte_size", "created_at")
    list_select_related = ("session__talent",)
    search_fields = ["=public_id", "=sha256", "=session__public_id"]
    fields = (
        "public_id",
        "session",
        "sha256",
        "format",
        "width",
        "height",
        "byte_size",
        "uploaded_by",
        "created_at",
    )
    exclude = ("blob", "key_id")


@admin.register(TalentDataKey)
class TalentDataKeyAdmin(ReadOnlyAdmin):
    """Which talents hold a key, under which KEK, and which keys were destroyed. Never the
    wrapped key itself."""

    list_display = ("talent", "kek_id", "created_at", "destroyed_at")
    list_filter = ("kek_id",)
    list_select_related = ("talent",)
    fields = ("public_id", "talent", "kek_id", "created_at", "destroyed_at")
    exclude = ("wrapped_key",)


@admin.register(DestructionCertificate)
class DestructionCertificateAdmin(ReadOnlyAdmin):
    list_display = ("talent", "created_at", "sha256", "audit_sequence")
    list_select_related = ("talent",)
    search_fields = ["=public_id", "=talent__public_id", "=sha256"]
    fields = (
        "public_id",
        "talent",
        "data_key",
        "created_at",
        "sha256",
        "audit_sequence",
        "payload_json",
    )
