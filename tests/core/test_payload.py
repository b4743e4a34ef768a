"""The payload encoder: any object, bounded size, valid JSON, redaction at any depth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from pathlib import PurePosixPath
from typing import Any

import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from onex_otel._payload import Policy, encode, truncate_text
from onex_otel.conventions import REDACTED_MARKER, TRUNCATION_MARKER


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: Any = None


class Model(pydantic.BaseModel):
    name: str
    when: dt.datetime


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class BrokenEverything:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        raise RuntimeError("no class")


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
odd_leaf = st.one_of(
    st.binary(max_size=30),
    st.datetimes(),
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False),
    st.builds(BrokenRepr),
    st.sampled_from([Color.RED, PurePosixPath("/a/b"), dt.timedelta(seconds=3)]),
    st.builds(Point, st.integers(), st.text(max_size=5)),
    st.frozensets(st.integers(), max_size=5),
    st.builds(ValueError, st.text(max_size=10)),
)
values = st.recursive(
    st.one_of(json_leaf, odd_leaf),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), inner, max_size=6),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=values, limit=st.integers(min_value=64, max_value=2048))
def test_any_value_encodes_to_valid_json_within_limit(value: Any, limit: int) -> None:
    text, original = encode(value, Policy(max_bytes=limit))
    json.loads(text)
    assert len(text.encode("utf-8", "surrogatepass")) <= limit
    if original is not None:
        assert original > limit
        assert TRUNCATION_MARKER in text


@settings(max_examples=200, deadline=None)
@given(
    value=values,
    path=st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=5), min_size=0, max_size=4),
    key=st.sampled_from(
        ["password", "API_KEY", "Authorization", "x-auth-token", "client_secret", "my_private_key", "Cookie"]
    ),
)
def test_secret_keys_redacted_at_any_depth(value: Any, path: list[str], key: str) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex
    doc: dict[str, Any] = {key: secret, "other": value}
    for part in reversed(path):
        doc = {part: doc, "sibling": [doc]}
    text, _ = encode(doc, Policy(max_bytes=1 << 20))
    assert secret not in text
    assert REDACTED_MARKER in text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=3000), limit=st.integers(min_value=64, max_value=1024))
def test_truncate_text_bounds_bytes(text: str, limit: int) -> None:
    out, original = truncate_text(text, limit)
    assert len(out.encode("utf-8", "surrogatepass")) <= limit
    if original is None:
        assert out == text
    else:
        assert out.endswith(TRUNCATION_MARKER)
        assert original == len(text.encode("utf-8", "surrogatepass"))


def test_known_types_encode_meaningfully() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    text, original = encode(
        {
            "point": Point(1, {"token": "t"}),
            "model": Model(name="m", when=dt.datetime(2025, 1, 2, tzinfo=dt.UTC)),
            "set": {3, 1, 2},
            "bytes": b"hi",
            "binary": b"\xff\x00",
            "uuid": uuid.UUID(int=1),
            "decimal": decimal.Decimal("1.5"),
            "enum": Color.RED,
            "cycle": cycle,
            "broken": BrokenRepr(),
            "nan": float("nan"),
            "exc": KeyError("k"),
            7: "int key",
        },
        Policy(),
    )
    assert original is None
    assert json.loads(text) == {
        "point": {"x": 1, "y": {"token": REDACTED_MARKER}},
        "model": {"name": "m", "when": "2025-01-02T00:00:00Z"},
        "set": [1, 2, 3],
        "bytes": "hi",
        "binary": "base64:/wA=",
        "uuid": "00000000-0000-0000-0000-000000000001",
        "decimal": "1.5",
        "enum": "red",
        "cycle": [1, "<cycle>"],
        "broken": "<unrepresentable BrokenRepr>",
        "nan": "nan",
        "exc": "KeyError: 'k'",
        "7": "int key",
    }


def test_object_failing_everywhere_still_encodes() -> None:
    text, _ = encode([BrokenEverything()], Policy())
    assert json.loads(text)[0].startswith("<unrepresentable")


def test_truncation_keeps_structure_and_records_size() -> None:
    value = {"files": [f"/src/module_{i}.py" for i in range(500)], "summary": "y" * 5000}
    text, original = encode(value, Policy(max_bytes=512))
    parsed = json.loads(text)
    assert len(text.encode()) <= 512
    # Past 8x the limit conversion stops spending: the size is then an estimate (items left out
    # at the kept ones' mean size, characters as bytes).
    exact = len(json.dumps(value, separators=(",", ":")).encode())
    assert abs(original - exact) <= exact * 0.02  # type: ignore[operator]
    assert parsed["files"][0] == "/src/module_0.py"
    assert TRUNCATION_MARKER in parsed["files"][-1]
    assert parsed["summary"].endswith(TRUNCATION_MARKER)


def test_custom_redaction_keys() -> None:
    pol = Policy(redact_keys=["ssn"])
    text, _ = encode({"SSN_number": "123", "password": "kept"}, pol)
    assert json.loads(text) == {"SSN_number": REDACTED_MARKER, "password": "kept"}


def test_original_size_is_exact_while_conversion_stays_within_its_budget() -> None:
    value = {"files": [f"/src/module_{i}.py" for i in range(100)], "summary": "y" * 400}
    text, original = encode(value, Policy(max_bytes=512))
    assert len(text.encode()) <= 512
    assert original == len(json.dumps(value, separators=(",", ":")).encode())


def test_huge_values_are_bounded_before_they_are_encoded(monkeypatch: Any) -> None:
    """A 10 MB argument is cut while converted: nothing near its size is ever encoded."""
    from onex_otel import _fast_json, _payload

    encoded: list[int] = []
    real_text, real_c = _payload._encode_text, _fast_json._c_encoder
    assert real_c is not None

    def spy_text(tree: Any) -> str:
        out = real_text(tree)
        encoded.append(len(out))
        return out

    def spy_c(tree: Any, level: int) -> Any:
        out = "".join(real_c(tree, level))
        encoded.append(len(out))
        return [out]

    monkeypatch.setattr(_payload, "_encode_text", spy_text)
    monkeypatch.setattr(_fast_json, "_c_encoder", spy_c)
    big = "é" * 5_000_000  # 10 MB of UTF-8
    pol = Policy(max_bytes=1024)
    values = [
        big,
        {"text": big, "n": 1},
        [big, big],
        big.encode(),
        [f"line {i}" for i in range(1_000_000)],
        {f"k{i}": {"v": "x" * 50} for i in range(200_000)},
    ]
    for value in values:
        encoded.clear()
        for text, original in (encode(value, pol), _fast_json.json_text(value, pol)):
            assert len(text.encode()) <= 1024
            json.loads(text)
            assert original is not None and original >= 1_000_000
        assert max(encoded) <= 20 * 1024, type(value)  # twice the 8x budget at most
    text, original = encode({"text": big}, pol)
    assert json.loads(text)["text"].endswith(TRUNCATION_MARKER)
    assert abs(original - 10_000_010) <= 5_000_010  # type: ignore[operator]
