from rightsdesk.core.errors import ApplicationError


class AgreementInactive(ApplicationError):
    code = "agreement_inactive"
    status = 409
    default_message = (
        "The agreement has no active version, or the licence's version is no longer active."
    )


class LicenceOutsideAgreement(ApplicationError):
    # ``extra.field`` names the term that does not fit, ``extra.limit`` the agreement's bound.
    code = "licence_outside_agreement"
    default_message = "The licence does not fit the agreement's terms."


class LicenceOfferExpired(ApplicationError):
    code = "licence_offer_expired"
    status = 409
    default_message = "The offer expired before it was accepted."


class DealMemoMismatch(ApplicationError):
    # The hash the talent's side saw is not the memo of the terms now on the licence: they
    # changed (a revision, an amendment) since it was fetched, or another language was read.
    code = "deal_memo_mismatch"
    status = 409
    default_message = "The deal memo you accepted is not the current one; read it again."


class ExclusivityConflict(ApplicationError):
    # The message and extra name only the overlapping category, territories and period,
    # never who holds the exclusivity (DESIGN.md: a refusal never reveals another deal).
    code = "exclusivity_conflict"
    status = 409
    default_message = "The licence overlaps an exclusivity the talent has already granted."
