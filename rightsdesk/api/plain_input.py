"""Validated input for the hottest endpoints without building a serializer per request.

A DRF serializer deep-copies its declared fields for every instance, then runs each field's
validation through several layers: for the render submission that was 8% of its CPU under
load (bench/api_load.py), more than any single statement. ``validated(serializer_class,
data)`` reads a body of the plain shape clients send (JSON values of exactly the types the
fields name, in range, nothing to strip) straight from the declared fields' own settings,
and gives it the value the serializer's ``validated_data`` would hold. Any other body, an
invalid one included, is handed to the serializer itself, so errors, coercions (``"512"``
for 512) and messages are DRF's own. tests/api/test_plain_input.py holds both ways to the
same result over generated bodies.

Only serializers whose fields are all of the kinds below, with no validators of their own,
no ``validate``/``validate_<field>`` methods and no callable defaults, take the direct way;
``plain_reader`` tells which (and why not) once per class.
"""

import math
import re
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from rest_framework import fields as drf
from rest_framework import serializers

from rightsdesk.core.errors import ValidationFailed

# What DRF's CharField validators refuse (ProhibitNullCharacters, ProhibitSurrogates).
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")

_Reader = Callable[[Any], Any]  # the field's value, or raises _Declined


class _Declined(Exception):
    """The body is not plain: let the serializer decide."""


def _bounded(field: drf.Field, value: Any) -> Any:
    low, high = getattr(field, "min_value", None), getattr(field, "max_value", None)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _Declined
    return value


def _char(field: drf.CharField) -> _Reader:
    def read(value: Any) -> str:
        if type(value) is not str or _REFUSED_CHARACTERS.search(value):
            raise _Declined
        if field.trim_whitespace and value != value.strip():
            raise _Declined  # DRF strips it: rare, and its way is the reference
        if value == "" and not field.allow_blank:
            raise _Declined
        if field.max_length is not None and len(value) > field.max_length:
            raise _Declined
        if field.min_length is not None and value and len(value) < field.min_length:
            raise _Declined
        return value

    return read


def _integer(field: drf.IntegerField) -> _Reader:
    def read(value: Any) -> int:
        if type(value) is not int:  # bool is not int here, nor "512"
            raise _Declined
        return _bounded(field, value)

    return read


def _float(field: drf.FloatField) -> _Reader:
    def read(value: Any) -> float:
        if type(value) not in (int, float):
            raise _Declined
        try:
            value = float(value)
        except OverflowError:  # an int beyond any float
            raise _Declined from None
        if not math.isfinite(value):
            raise _Declined
        return _bounded(field, value)

    return read


def _choice(field: drf.ChoiceField) -> _Reader:
    allowed = {key: value for key, value in field.choice_strings_to_values.items() if key}

    def read(value: Any) -> Any:
        if type(value) is not str or value not in allowed:
            raise _Declined
        return allowed[value]

    return read


def _uuid(field: drf.UUIDField) -> _Reader:
    def read(value: Any) -> uuid.UUID:
        if type(value) is not str:
            raise _Declined
        try:
            return uuid.UUID(hex=value)
        except ValueError:
            raise _Declined from None

    return read


def _list(field: drf.ListField) -> _Reader:
    child = _reader_of(field.child)

    def read(value: Any) -> list:
        if type(value) is not list:
            raise _Declined
        count = len(value)
        if (
            (not field.allow_empty and not count)
            or (field.min_length is not None and count < field.min_length)
            or (field.max_length is not None and count > field.max_length)
        ):
            raise _Declined
        return [child(item) for item in value]

    return read


# Exact classes: a subclass (EmailField, URLField, ...) validates more.
_KINDS: dict[type, Callable[[Any], _Reader]] = {
    drf.CharField: _char,
    drf.IntegerField: _integer,
    drf.FloatField: _float,
    drf.ChoiceField: _choice,
    drf.UUIDField: _uuid,
    drf.ListField: _list,
}


class _Unsupported(Exception):
    pass


def _reader_of(field: drf.Field) -> _Reader:
    kind = _KINDS.get(type(field))
    if kind is None:
        raise _Unsupported(f"{type(field).__name__} is not read directly")
    if "validators" in field._kwargs or field.read_only or field.source != field.field_name:
        raise _Unsupported(f"{field.field_name} has validators of its own or another source")
    if field.default is not drf.empty and callable(field.default):
        raise _Unsupported(f"{field.field_name} has a callable default")
    return kind(field)


@cache
def plain_reader(serializer_class: type[serializers.Serializer]) -> tuple[dict, str]:
    """The readers of ``serializer_class``'s fields, by name, and "" if a plain body may be
    read directly; else ({}, why not)."""
    if serializer_class.validate is not serializers.Serializer.validate:
        return {}, "the serializer has a validate method"
    template = serializer_class()
    readers = {}
    try:
        for name, field in template.fields.items():
            if hasattr(serializer_class, f"validate_{name}"):
                raise _Unsupported(f"the serializer has validate_{name}")
            readers[name] = (field, _reader_of(field))
    except _Unsupported as why:
        return {}, str(why)
    return readers, ""


def plain_validated(serializer_class: type[serializers.Serializer], data: Any) -> dict | None:
    """``data`` as the serializer's ``validated_data``, if it is plain; else None."""
    readers, why_not = plain_reader(serializer_class)
    if why_not or type(data) is not dict:
        return None
    validated = {}
    try:
        for name, (field, read) in readers.items():
            if name in data:
                value = data[name]
                if value is None:
                    if not field.allow_null:
                        return None
                    validated[name] = None
                else:
                    validated[name] = read(value)
            elif field.required:
                return None
            elif field.default is not drf.empty:
                validated[name] = field.default
    except _Declined:
        return None
    return validated


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """The validated input: read directly when plain, else by the serializer (whose field
    errors are raised as ``validation_failed``)."""
    plain = plain_validated(serializer_class, data)
    if plain is not None:
        return plain
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(fields=serializer.errors)
    return serializer.validated_data
