"""The collector's fast path for envelopes: one typed pydantic model per event type.

:class:`~onex_otel.envelope.OnexEnvelopeV1` learns which payload model applies only once it has
read ``event_type``, so its payload goes through a Python-level validator and is validated a
second time from Python objects. The collector, which validates every message, validates
the whole message in one pass of pydantic-core instead: a tagged union on ``event_type`` whose
choice for each event type is an envelope model whose ``event_type`` is that one value and whose
``payload`` is that type's model (pydantic-core picks the choice off the parsed JSON; no Python
code reads the event type first, which cost as much as a tenth of the validation).

The typed models are built from ``OnexEnvelopeV1``'s own field definitions, so they accept exactly
what it accepts for that event type; a message the typed models refuse (an unknown or missing
event type included) goes through ``OnexEnvelopeV1`` as before, which also words the error. The
test suite checks, on generated and mutated envelopes, that both give the same result.

A UUID or a timestamp written in its canonical text (``str(uuid)``'s form; RFC 3339 UTC with
microseconds, as the exporter writes them) stays that text: the rows go to PostgreSQL as one JSON
document (:func:`onex_collector.ingest.batch_document`), which carries exactly that text, so
building ``uuid.UUID`` and ``datetime`` objects only to serialize them back was a sixth of the
collector's work per event. The text is kept only where the serializer would write the object as
the same text (a real date, the 29th of February excepted; microseconds not 0); any other form is
converted as before, and so is a name-based (version 5) event id, which the writer's
event-by-event path knows by its type (``Writer._insert_one``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, create_model
from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from onex_otel.conventions import EventType
from onex_otel.envelope import PAYLOAD_MODELS, OnexEnvelopeV1, as_utc

__all__ = ["EVENT_ID_TEXT", "TIME_TEXT", "UUID_TEXT", "TypedEnvelope", "typed_envelope", "validate_typed"]


_HEX = "[0-9a-f]"
#: A UUID as ``str(uuid.UUID)`` writes it (the ``\\d`` of Rust's regex would match any digit).
UUID_TEXT: Final = f"^{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}$"
#: The same, but not a name-based (version 5) UUID: as an event id, the writer's event-by-event
#: path claims such an id (``Writer._insert_one``), and knows it by its type, ``uuid.UUID``.
EVENT_ID_TEXT: Final = f"^{_HEX}{{8}}-{_HEX}{{4}}-[0-46-9a-f]{_HEX}{{3}}-{_HEX}{{4}}-{_HEX}{{12}}$"
_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"  # months of 31 days
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"  # of 30
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"  # February but the 29th (a leap year's: the typed path)
)
_MICROS = "(?:[1-9][0-9]{5}|0[1-9][0-9]{4}|00[1-9][0-9]{3}|000[1-9][0-9]{2}|0000[1-9][0-9]|00000[1-9])"
#: A timestamp as the JSON serializer writes a UTC datetime with microseconds (``rfc3339``'s
#: form, years 1000-9999, microseconds not 0: the serializer leaves ``.000000`` out).
TIME_TEXT: Final = f"^[1-9][0-9]{{3}}-{_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\\.{_MICROS}Z$"


class TypedEnvelope(NamedTuple):
    """What the rows need of a validated envelope."""

    event_type: EventType
    event_id: uuid.UUID
    correlation_id: uuid.UUID
    payload: Mapping[str, Any]  # the payload model's fields, validated, defaults applied


def _typed_model(event_type: str, payload_model: type[BaseModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in OnexEnvelopeV1.model_fields.items():
        if name == "event_type":
            fields[name] = (Literal[event_type], ...)  # type: ignore[valid-type]
        elif name == "payload":
            fields[name] = (payload_model, ...)
        else:
            fields[name] = (info.annotation, info)
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"OnexEnvelopeV1_{payload_model.__name__}",
        __config__=ConfigDict(frozen=True),
        **fields,
    )
    return model


def _text_or(schema: Any, pattern: str) -> Any:
    """``schema``, but a JSON string matching ``pattern`` is kept as that string."""
    return cs.union_schema([cs.str_schema(pattern=pattern), schema], mode="left_to_right")


def _as_dicts(schema: Any, uuid_text: str = UUID_TEXT) -> Any:
    """A core schema that validates what ``schema`` validates, every model into a plain dict.

    Each model's fields keep their own schemas (types, constraints, defaults, validators, but for
    the conversion to UTC: a timestamp keeps its offset, which PostgreSQL applies); a field with a
    default is not required. Extra keys are left out (``allow`` becomes ``ignore``, which accepts
    the same inputs). A model with its own ``__init__`` or post-init hook cannot be replaced by a
    dict: refused here, at import time. A UUID or timestamp in its canonical text (``uuid_text``,
    :data:`TIME_TEXT`) is kept as that text (see the module's docstring); any other form is
    converted as before.
    """
    if isinstance(schema, list):
        return [_as_dicts(item, uuid_text) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "function-after" and schema["function"].get("function") is as_utc:
        return _as_dicts(schema["schema"], uuid_text)
    if schema.get("type") == "uuid":
        return _text_or(schema, uuid_text)
    if schema.get("type") == "datetime":
        return _text_or(schema, TIME_TEXT)
    if schema.get("type") != "model":
        return {key: _as_dicts(value, uuid_text) for key, value in schema.items()}
    if schema.get("custom_init") or schema.get("root_model") or schema.get("post_init"):
        raise TypeError(f"{schema['cls'].__name__} cannot be validated as a dict")
    fields_schema = schema["schema"]
    config: dict[str, Any] = dict(schema.get("config") or {})
    extra = config.pop("extra_fields_behavior", None)
    fields = {
        name: cs.typed_dict_field(
            _as_dicts(field["schema"], EVENT_ID_TEXT if name == "event_id" else UUID_TEXT),
            required=field["schema"]["type"] != "default",
            validation_alias=field.get("validation_alias"),
        )
        for name, field in fields_schema["fields"].items()
    }
    return cs.typed_dict_schema(
        fields,
        extra_behavior="forbid" if extra == "forbid" else "ignore",
        strict=fields_schema.get("strict"),
        config=cs.CoreConfig(**config) if config else None,  # type: ignore[typeddict-item]
        ref=schema.get("ref"),
    )


#: Every event type's typed envelope model as a dict schema, chosen by the JSON's ``event_type``.
_VALIDATOR: Final = SchemaValidator(
    cs.tagged_union_schema(
        {
            event_type.value: _as_dicts(_typed_model(event_type.value, model).__pydantic_core_schema__)
            for event_type, model in PAYLOAD_MODELS.items()
        },
        discriminator="event_type",
    )
)


def validate_typed(value: bytes) -> dict[str, Any] | None:
    """``value`` validated by its event type's typed model, as a dict; None if it refuses.

    The dict's ``event_type`` is the event type's text; its ``payload`` holds the payload
    model's fields (validated, defaults applied). None: the message is not a JSON object with a
    known ``event_type`` that its model accepts (``OnexEnvelopeV1`` then decides).
    """
    try:
        env: dict[str, Any] = _VALIDATOR.validate_json(value)
    except ValidationError:
        return None
    return env


def typed_envelope(value: bytes) -> TypedEnvelope | None:
    """Validate ``value`` with its event type's validator; None when that is not possible."""
    env = validate_typed(value)
    if env is None:
        return None
    return TypedEnvelope(EventType(env["event_type"]), env["event_id"], env["correlation_id"], env["payload"])
