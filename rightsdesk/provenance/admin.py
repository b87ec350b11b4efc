"""Read-only screens for staff: credentials (never their key) and signed records. Writes
go through the services (credentials are installed from files, records by signing)."""

from django.contrib import admin

from rightsdesk.provenance.models import ProvenanceRecord, SigningCredential


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SigningCredential)
class SigningCredentialAdmin(_ReadOnly):
    list_display = ("subject_common_name", "organization", "source", "active", "not_after")
    list_filter = ("active", "source")
    fields = (
        "public_id",
        "organization",
        "source",
        "algorithm",
        "active",
        "subject_common_name",
        "issuer_name",
        "certificate_serial",
        "certificate_sha256",
        "not_before",
        "not_after",
        "kek_id",
        "certificate_chain_pem",
        "trust_anchor_pem",
        "created_at",
    )


@admin.register(ProvenanceRecord)
class ProvenanceRecordAdmin(_ReadOnly):
    list_display = ("asset_reference", "brand_name", "credential", "created_at")
    search_fields = ("asset_reference", "manifest_label", "signed_sha256")
    list_select_related = ("credential__organization",)
    exclude = ("commitment_salt",)
