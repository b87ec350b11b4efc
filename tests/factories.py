"""factory_boy factories shared by every app's tests."""

import datetime

import factory
from django.utils import timezone

from rightsdesk.accounts.models import Organization, User
from rightsdesk.renders.models import Asset, RenderRequest
from rightsdesk.talent.models import LikenessVersion, Representation, Talent, TalentProxy

PASSWORD = "test-pass-2026"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = Organization.Kind.BRAND
    country = "FR"


class AgencyFactory(OrganizationFactory):
    kind = Organization.Kind.AGENCY
    name = factory.Sequence(lambda n: f"Agency {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    role = "talent"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class TalentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Talent

    user = factory.SubFactory(UserFactory, role="talent")
    legal_name = factory.Faker("name")
    stage_name = factory.Sequence(lambda n: f"Stage Name {n}")
    date_of_birth = datetime.date(1996, 5, 17)
    jurisdiction = "US-NY"


class VerifiedTalentFactory(TalentFactory):
    identity_verified_at = factory.LazyFunction(timezone.now)
    identity_verified_by = factory.SubFactory(UserFactory, role="staff", is_staff=True)
    identity_verification_method = "document_check"


class TalentProxyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TalentProxy

    talent = factory.SubFactory(TalentFactory, user=None)
    user = factory.SubFactory(UserFactory, role="guardian")
    kind = TalentProxy.Kind.GUARDIAN


class RepresentationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Representation

    talent = factory.SubFactory(TalentFactory)
    agency = factory.SubFactory(AgencyFactory)
    commission_bps = 2000
    can_negotiate_uses = True
    can_approve_outputs = True
    can_view_earnings = True


class LikenessVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LikenessVersion

    talent = factory.SubFactory(VerifiedTalentFactory)
    version = factory.Sequence(lambda n: n + 1)
    base_model = "tiny-sd"
    trigger_token = factory.Sequence(lambda n: f"rdtk{n}")


class RenderRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RenderRequest

    organization = factory.SubFactory(OrganizationFactory)
    requester = factory.SubFactory(
        UserFactory,
        role="campaign_manager",
        organization=factory.SelfAttribute("..organization"),
    )
    brief = "A model in a linen suit on a pier at dawn"
    width = 64
    height = 64
    steps = 4
    seed = 7
    num_drafts = 2


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    render_request = factory.SubFactory(RenderRequestFactory)
    index = factory.Sequence(lambda n: n)
