"""Reads over agreements: the terms diff and the category policy a version sets."""

import pytest

from rightsdesk.agreements.selectors import (
    DEFAULT_CATEGORY_POLICY,
    agreement_category_policy,
    agreement_people_to_notify,
    agreement_terms_diff,
    agreement_version_terms,
)
from rightsdesk.agreements.services import agreement_amend
from rightsdesk.agreements.taxonomy import category_get
from tests.agreements.conftest import document, draft, make_terms

pytestmark = pytest.mark.django_db


def test_the_diff_lists_each_changed_term_with_its_old_and_new_value(world):
    agreement = draft(world)
    v1 = agreement.versions.get()
    v2 = agreement_amend(
        agreement=agreement,
        document=document(),  # the same file
        terms=make_terms(
            run_off_days=30,
            category_policies={"fragrance": "with_approval", "alcohol": "never"},
            exclusivities=(),
        ),
        actor=world.users["legal"],
    )

    diff = agreement_terms_diff(v1, v2)

    fields = [name for name, _, _ in diff]
    assert ("run_off_days", 90, 30) in diff
    assert ("category_policies.fragrance", "allowed", "with_approval") in diff
    assert ("category_policies.alcohol", None, "never") in diff
    assert ("category_policies.lingerie", "never", None) in diff
    assert any(name.startswith("exclusivity: fragrance in EU except FR") for name in fields)
    assert "document_sha256" not in fields and "jurisdiction" not in fields


def test_the_terms_read_back_equal_the_terms_signed(world):
    version = draft(world).versions.get()

    assert agreement_version_terms(version).terms_json() == version.terms_json


def test_a_category_takes_the_nearest_policy_up_its_lineage(world):
    version = draft(
        world, category_policies={"beauty": "never", "fragrance": "allowed"}
    ).versions.get()

    def policy(slug):
        return agreement_category_policy(version=version, category=category_get(slug))

    assert policy("fragrance") == "allowed"  # its own
    assert policy("makeup") == "never"  # beauty's
    assert policy("alcohol") == DEFAULT_CATEGORY_POLICY == "with_approval"  # unnamed
    assert policy("adult_content") == "never"  # global, whatever the agreement says


def test_reminders_reach_brand_legal_the_principal_and_the_agents_only(world, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    adult = draft(world)
    minor = draft(world, talent=world.minor_a)

    def emails(agreement):
        return {u.email for u in agreement_people_to_notify(agreement=agreement)}

    users = world.users
    assert emails(adult) == {users["legal"].email, users["talent"].email, users["agent"].email}
    assert emails(minor) == {users["legal"].email, users["guardian"].email, users["agent"].email}
