"""Signing credentials and the record of every signed file.

A SigningCredential is a certificate chain and its private key. The key is never stored in
clear: it is sealed (AES-256-GCM) under a data key of its own, itself wrapped by the
instance's key-encryption key (``rightsdesk.core.crypto``), both bound to the credential's
public id. A brand may bring its own credential (``organization``); otherwise the
instance's, the one with no organisation, signs. At most one of each is active. Rows are
never deleted (records point at them): every root they chain to stays a trust anchor, so
rotating to a new credential keeps earlier assets verifiable.

A ProvenanceRecord is one signed file, keyed by the asset's opaque reference
(``asset:<uuid>``; provenance never imports renders). It keeps what lets a stripped copy
be recognised: the watermark payload and a perceptual hash, whose four 16-bit quarters are
indexed so that a near copy is found without scanning (any hash within Hamming distance 3
shares at least one quarter exactly).
"""

from django.db import models
from django.db.models import Q

from rightsdesk.core.models import TimeStampedModel


class SigningCredential(TimeStampedModel):
    class Algorithm(models.TextChoices):
        ES256 = "es256", "ES256"

    class Source(models.TextChoices):
        DEVELOPMENT = "development", "Development CA (var/keys/c2pa)"
        SETTINGS = "settings", "Files named in the settings"
        BRAND = "brand", "Supplied by the brand"

    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signing_credentials",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    algorithm = models.CharField(max_length=8, choices=Algorithm.choices, default="es256")
    # PEM, leaf first, as the signer presents it.
    certificate_chain_pem = models.TextField()
    # The root (or topmost certificate) the chain leads to: a trust anchor for verification.
    trust_anchor_pem = models.TextField()
    certificate_sha256 = models.CharField(max_length=64, unique=True)  # of the leaf, DER
    # Decimal, as the c2pa library reports it in signature_info.cert_serial_number.
    certificate_serial = models.CharField(max_length=64)
    subject_common_name = models.CharField(max_length=200)
    issuer_name = models.CharField(max_length=200)  # the leaf issuer's organisation
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    private_key_sealed = models.BinaryField()
    data_key_wrapped = models.BinaryField()
    kek_id = models.CharField(max_length=32)
    active = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(algorithm="es256"), name="credential_es256"),
            models.CheckConstraint(
                condition=Q(not_after__gt=models.F("not_before")), name="credential_validity"
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(active=True, organization__isnull=False),
                name="credential_one_active_per_brand",
            ),
            models.UniqueConstraint(
                fields=["active"],
                condition=Q(active=True, organization__isnull=True),
                name="credential_one_active_instance",
            ),
        ]

    def __str__(self) -> str:
        owner = self.organization.name if self.organization_id else "instance"
        return f"{self.subject_common_name} ({owner}, {self.source})"


class ProvenanceRecord(TimeStampedModel):
    asset_reference = models.CharField(max_length=80, unique=True)  # "asset:<uuid>"
    # PROTECT: a signed file's record must outlive any attempt to delete what it proves.
    credential = models.ForeignKey(
        SigningCredential, on_delete=models.PROTECT, related_name="records"
    )
    licence = models.ForeignKey(
        "licensing.Licence", on_delete=models.PROTECT, related_name="provenance_records"
    )
    signed_file = models.FileField(upload_to="provenance/", max_length=200)
    signed_sha256 = models.CharField(max_length=64)
    mime_type = models.CharField(max_length=32, default="image/png")
    manifest_label = models.CharField(max_length=80, unique=True)  # urn:c2pa:<uuid>
    manifest = models.JSONField()  # the definition that was signed
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # 64 bits, stored signed (two's complement) to fit a bigint.
    watermark_payload = models.BigIntegerField(db_index=True)
    perceptual_hash = models.BigIntegerField()
    phash_q0 = models.IntegerField(db_index=True)
    phash_q1 = models.IntegerField(db_index=True)
    phash_q2 = models.IntegerField(db_index=True)
    phash_q3 = models.IntegerField(db_index=True)
    approved_exact_image = models.BooleanField()
    # As the render path gave them at signing: the stage name only if the talent had opted
    # in; the card shows it only while the talent still does.
    brand_name = models.CharField(max_length=200)
    stage_name = models.CharField(max_length=200, blank=True)
    commitment = models.CharField(max_length=80)  # "sha256:<hex>", in the manifest
    commitment_salt = models.CharField(max_length=64, blank=True)  # hex; empty if the caller's
    language = models.CharField(max_length=8, default="en")
    obligations = models.JSONField(default=list)  # what was applied, with the label's texts

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(asset_reference__startswith="asset:"),
                name="provenance_reference_is_asset",
            ),
            models.CheckConstraint(
                condition=Q(phash_q0__gte=0, phash_q0__lt=65536)
                & Q(phash_q1__gte=0, phash_q1__lt=65536)
                & Q(phash_q2__gte=0, phash_q2__lt=65536)
                & Q(phash_q3__gte=0, phash_q3__lt=65536),
                name="provenance_phash_quarters",
            ),
        ]

    def __str__(self) -> str:
        return self.asset_reference
