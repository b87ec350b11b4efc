"""Error codes of creation consent and withdrawal (the gate's codes live beside the gate)."""

from rightsdesk.core.errors import ApplicationError


class ConsentRequiresPrincipal(ApplicationError):
    # NY Fashion Workers Act §1035 and the SAG-AFTRA replica terms: the model's own separate
    # consent, never an agency's, whatever powers its mandate grants.
    code = "consent_requires_principal"
    status = 403
    default_message = (
        "Only the talent, or their guardian or estate, may give or withdraw this consent; "
        "an agent never may."
    )


class NoticeMismatch(ApplicationError):
    # The hash answered is not the hash of the notice on record: the text changed (a new
    # version) since it was served, or the client answered another text.
    code = "notice_mismatch"
    status = 409
    default_message = "The notice answered is not the notice on record; reload it and answer again."


class BaseModelRequired(ApplicationError):
    code = "base_model_required"
    default_message = "A training consent must name the base model it covers."


class AlreadyWithdrawn(ApplicationError):
    code = "already_withdrawn"
    status = 409
    default_message = "This is already withdrawn, from the same time or earlier."
