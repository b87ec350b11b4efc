"""The direct read of a plain body gives exactly what the serializer gives, or declines."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from rightsdesk.api.plain_input import plain_reader, plain_validated, validated
from rightsdesk.core.errors import ValidationFailed
from rightsdesk.renders.apis import RenderRequestCreateApi

SUBMISSION = RenderRequestCreateApi.InputSerializer
PLAIN = {
    "licences": [str(uuid.UUID(int=7))],
    "brief": "a model in a linen suit on a pier at dawn",
    "width": 64,
    "height": 64,
    "steps": 4,
    "seed": 1,
    "num_drafts": 1,
    "territory": "FR",
    "medium": "paid_social",
    "idempotency_key": "k-1",
}


def _by_serializer(serializer_class, data):
    serializer = serializer_class(data=data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


def test_the_submission_serializer_is_read_directly():
    readers, why_not = plain_reader(SUBMISSION)
    assert why_not == ""
    assert set(readers) == set(SUBMISSION().fields)


def test_a_plain_submission_reads_as_the_serializer_reads_it():
    plain = plain_validated(SUBMISSION, PLAIN)
    assert plain == _by_serializer(SUBMISSION, PLAIN)
    assert isinstance(plain["licences"][0], uuid.UUID)
    assert plain["guidance_scale"] == 5.0  # the default, as DRF fills it
    assert "negative_prompt" not in plain  # not required, no default: absent, as in DRF
    minimal = {"licences": PLAIN["licences"], "brief": "x"}
    assert plain_validated(SUBMISSION, minimal) == _by_serializer(SUBMISSION, minimal)


@pytest.mark.parametrize(
    "change",
    [
        {"width": "64"},  # DRF coerces the string: its way
        {"width": True},
        {"width": 63.0},
        {"brief": " padded "},  # DRF strips it
        {"brief": ""},
        {"brief": "a\x00b"},
        {"brief": "\ud800"},
        {"brief": "x" * 4001},
        {"licences": []},
        {"licences": "not a list"},
        {"licences": ["not-a-uuid"]},
        {"licences": [str(uuid.UUID(int=1))] * 17},
        {"medium": "billboards on the moon"},
        {"medium": ""},
        {"seed": -1},
        {"guidance_scale": 10**400},
        {"guidance_scale": 31},
        {"idempotency_key": ""},
        {"idempotency_key": None},
        {"territory": "x" * 33},
    ],
)
def test_anything_not_plain_is_left_to_the_serializer(change):
    body = {**PLAIN, **change}
    assert plain_validated(SUBMISSION, body) is None


def test_a_body_that_is_not_an_object_is_left_to_the_serializer():
    assert plain_validated(SUBMISSION, [PLAIN]) is None
    with pytest.raises(ValidationFailed):
        validated(SUBMISSION, [PLAIN])


def test_invalid_bodies_get_the_serializers_errors():
    with pytest.raises(ValidationFailed) as caught:
        validated(SUBMISSION, {**PLAIN, "width": 9999, "brief": ""})
    assert set(caught.value.extra["fields"]) == {"width", "brief"}
    # What DRF coerces is still accepted, the serializer's way.
    assert validated(SUBMISSION, {**PLAIN, "width": "64"})["width"] == 64


_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "FR", "EU", " x", "x ", "paid_social", "a\x00"]),
    st.text(min_size=4000, max_size=4002, alphabet="ab"),
)
_number = st.one_of(
    st.integers(min_value=-10, max_value=3000),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([64, 512, 2048, 2049, 0, 1, 150, 151, 2**32 - 1, 2**32]),
)
_value = st.one_of(
    _text,
    _number,
    st.none(),
    st.lists(st.uuids().map(str), max_size=17),
    st.lists(st.one_of(st.uuids().map(lambda u: u.hex), st.text(max_size=5)), max_size=3),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from([*PLAIN, "guidance_scale", "x"]), _value))
def test_generated_bodies_read_directly_match_the_serializer(changes):
    body = {**PLAIN, **changes}
    plain = plain_validated(SUBMISSION, body)
    if plain is not None:
        assert plain == _by_serializer(SUBMISSION, body)


class _Checked(serializers.Serializer):
    email = serializers.EmailField()


class _Validating(serializers.Serializer):
    name = serializers.CharField()

    def validate_name(self, value):
        return value.upper()


class _CallableDefault(serializers.Serializer):
    key = serializers.CharField(default=lambda: "fresh")


class _OwnValidators(serializers.Serializer):
    name = serializers.CharField(validators=[lambda value: None])


@pytest.mark.parametrize(
    ("serializer_class", "reason"),
    [
        (_Checked, "EmailField"),
        (_Validating, "validate_name"),
        (_CallableDefault, "callable default"),
        (_OwnValidators, "validators of its own"),
    ],
)
def test_serializers_with_more_rules_always_go_through_drf(serializer_class, reason):
    readers, why_not = plain_reader(serializer_class)
    assert readers == {}
    assert reason in why_not
    assert plain_validated(serializer_class, {"email": "a@b.test", "name": "n", "key": "k"}) is None
    assert validated(_Validating, {"name": "n"}) == {"name": "N"}
