from rightsdesk.core.errors import ApplicationError


class SignatureHashMismatch(ApplicationError):
    # The signer must have seen exactly this version: its document and its terms.
    code = "signature_hash_mismatch"
    status = 409
    default_message = "The signed hash is not this version's content hash."


class VersionNotSignable(ApplicationError):
    code = "version_not_signable"
    status = 409
    default_message = "This version can no longer be signed (superseded, terminated or expired)."


class AlreadySigned(ApplicationError):
    code = "already_signed"
    status = 409
    default_message = "This party has already signed this version."


class NotASignatory(ApplicationError):
    code = "not_a_signatory"
    status = 403
    default_message = "You are not a party who signs this agreement."


class SigningPowerRequired(ApplicationError):
    # An agent signs commercial terms only under a representation granting that power.
    code = "signing_power_required"
    status = 403
    default_message = "Your agency's mandate does not include the power to sign for this talent."


class LicenceTermAboveCap(ApplicationError):
    code = "licence_term_above_cap"
    default_message = "The maximum licence term is longer than this instance allows."


class AgreementBeyondMajority(ApplicationError):
    # A guardian's signature should not bind the adult: the adult decides anew.
    code = "agreement_beyond_majority"
    default_message = "An agreement for a minor cannot run past the day the talent comes of age."


class CategoryGloballyNever(ApplicationError):
    code = "category_globally_never"
    default_message = "This category is never allowed, whatever an agreement says."
