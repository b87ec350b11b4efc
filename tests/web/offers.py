"""A licence offer waiting for the talent's answer, and its acceptance on the licence page,
for the page and browser tests."""

from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence
from tests.consent.gate_world import DAY


def proposed_licence(world, **fields) -> Licence:
    """A second offer to talent X under X's agreement, waiting for the talent's answer."""
    accepted = world.x.licence
    licence = Licence.objects.create(
        agreement=accepted.agreement,
        agreement_version=accepted.agreement_version,
        talent=accepted.talent,
        brand=accepted.brand,
        campaign="Linen AW27",
        status=Licence.Status.PROPOSED,
        use_description="Autumn linen product images",
        purpose="advertising",
        advertiser=accepted.advertiser,
        category=accepted.category,
        usage_fee_minor=30_000,
        currency="EUR",
        draft_allowance=5,
        starts_at=world.now,
        ends_at=world.now + 90 * DAY,
        offer_expires_at=world.now + 14 * DAY,
        proposed_by=world.legal,
        **fields,
    )
    for row in accepted.usage_rows.all():
        row.pk = None
        row.licence = licence
        row.save()
    return licence


def accept_on_the_page(client, licence: Licence):
    """The talent's side (``client``, logged in) accepts ``licence`` from its deal memo, as
    the licence page posts it; the response to that post."""
    memo = deal_memo_render(licence=licence)
    return client.post(
        f"/licences/{licence.public_id}/accept/",
        {"deal_memo_sha256": memo.sha256, "language": memo.language},
    )
