import pytest

from tests.factories import PASSWORD, AgencyFactory, UserFactory


@pytest.mark.django_db
def test_token_from_email_and_password_authenticates_api_calls(api_client):
    agent = UserFactory(email="agent@example.test", role="agent", organization=AgencyFactory())

    response = api_client.post(
        "/api/v1/auth/token/", {"email": "Agent@Example.test", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "agent"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    me = api_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["email"] == agent.email
    assert api_client.get("/api/v1/talents/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_gets_401_authentication_failed(api_client):
    UserFactory(email="agent@example.test")
    response = api_client.post(
        "/api/v1/auth/token/",
        {"email": "agent@example.test", "password": "not-the-password"},
        format="json",
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
def test_a_deactivated_users_token_stops_working(api_client, staff_user):
    from rightsdesk.accounts.services import user_deactivate

    user = UserFactory(email="leaving@example.test")
    token = api_client.post(
        "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json"
    ).json()["token"]
    user_deactivate(user=user, actor=staff_user)

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api_client.get("/api/v1/talents/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
def test_login_page_logs_a_user_in(client):
    user = UserFactory(email="talent@example.test")

    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_login_page_refuses_a_wrong_password(client):
    UserFactory(email="talent@example.test")
    response = client.post("/login/", {"username": "talent@example.test", "password": "nope"})
    assert response.status_code == 200
    assert client.get("/").status_code == 302
