"""The API's JSON parser (settings: DEFAULT_PARSER_CLASSES). Its own module, importing no DRF
view: DRF reads the parser setting while rest_framework.views is still loading."""

import json
import re
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any request this API takes (a link inside a list inside the body is 3 levels).
# Python's json module recurses once per level, so an unbounded depth ends in RecursionError.
MAX_JSON_DEPTH = 32
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(raw: bytes) -> int:
    """How deeply the JSON text nests arrays and objects, counted without parsing it (brackets
    inside strings do not count)."""
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", raw))
    return max(accumulate(_DEPTH_STEP[char] for char in brackets), default=0)


def _has_nul(data: Any) -> bool:
    """Whether a parsed JSON value holds a NUL character in any string, key or value (the
    depth is already bounded, so the recursion is too)."""
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(key) or _has_nul(value) for key, value in data.items())
    if isinstance(data, list):
        return any(_has_nul(item) for item in data)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with limits, each refused with a 400 that names it: a body larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads the stream itself, so Django's own check never
    runs), nesting deeper than MAX_JSON_DEPTH, and NUL characters in any string (PostgreSQL
    cannot store them in text)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise ParseError(f"The request body is larger than the limit of {limit} bytes.")
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.")
        try:
            data = json.loads(raw.decode(settings.DEFAULT_CHARSET), parse_constant=_refuse_constant)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # a depth the bracket count could not see; never a 500
            raise ParseError("JSON nested too deeply.") from None
        if _has_nul(data):
            raise ParseError("Null characters are not allowed.")
        return data
