import pytest

from rightsdesk.consent.services import withdrawal_create
from tests.consent.conftest import give
from tests.factories import AgencyFactory, UserFactory


@pytest.fixture
def history(world, deal):
    talent = world.talent_a
    consent = give(talent=talent, actor=talent.user)
    withdrawal = withdrawal_create(
        target=deal.licence, kind="for_cause", reason="Breach", actor=talent.user
    )
    return consent, withdrawal


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model", ["consentnotice", "creationconsent", "withdrawal", "withdrawalapplied"]
)
def test_staff_read_the_history_and_cannot_add_change_or_delete(client, staff_user, history, model):
    client.force_login(staff_user)

    assert client.get(f"/admin/consent/{model}/").status_code == 200
    assert client.get(f"/admin/consent/{model}/add/").status_code == 403
    consent, withdrawal = history
    pk = {"creationconsent": consent.pk, "withdrawal": withdrawal.pk}.get(model)
    if pk is not None:
        page = client.get(f"/admin/consent/{model}/{pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert (
            client.post(f"/admin/consent/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
        )


@pytest.mark.django_db
def test_a_non_staff_role_cannot_open_the_consent_admin(client, history):
    agent = UserFactory(role="agent", organization=AgencyFactory(), is_staff=True)
    client.force_login(agent)

    assert client.get("/admin/consent/creationconsent/").status_code in (302, 403)
