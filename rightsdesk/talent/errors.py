from rightsdesk.core.errors import ApplicationError


class IdentityAlreadyVerified(ApplicationError):
    # The first attestation is evidence; it is not overwritten.
    code = "identity_already_verified"
    status = 409
    default_message = "This talent's identity has already been verified."


class RepresentationOverlaps(ApplicationError):
    code = "representation_overlaps"
    status = 409
    default_message = "This agency already represents this talent during that period."


class ProxyExists(ApplicationError):
    code = "proxy_exists"
    status = 409
    default_message = "This user already acts for this talent in that capacity."


class TalentAlreadyDeceased(ApplicationError):
    code = "talent_already_deceased"
    status = 409
    default_message = "This talent is already recorded as deceased."
