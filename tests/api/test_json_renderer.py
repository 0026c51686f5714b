"""The API's renderer (core.renderers) encodes with orjson and must answer exactly what DRF's
own JSONRenderer answered: the same bytes for every kind of value the API shows, and DRF's
answer where orjson cannot encode (an integer beyond 64 bits) or an indented one is asked."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from core.renderers import JSONRenderer
from projects.models import ProjectStatus


def _payload():
    return ReturnDict(
        {
            "count": 2,
            "next": None,
            "results": ReturnList(
                [
                    {
                        "title": "Ünïcode — “quoted” & <tagged> \u2028 \u2029 \x00 \t",
                        "status": ProjectStatus.ACTIVE,
                        "lazy": gettext_lazy("Invalid token."),
                        "budget": Decimal("1234.50"),
                        "ratio": 0.1,
                        "flags": [True, False, None],
                        "when": datetime(2026, 11, 29, 13, 0, 5, 123456, tzinfo=UTC),
                        "local": datetime(
                            2026, 11, 29, 14, 0, tzinfo=dt_timezone(timedelta(hours=1))
                        ),
                        "naive": datetime(2026, 11, 29, 13, 0),
                        "day": date(2026, 2, 28),
                        "at": time(9, 30),
                        "took": timedelta(hours=2, seconds=3),
                        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
                        "pair": (1, "two"),
                        "by_id": {1: "one", 2: ["two"]},
                        "ids": {3, 4} - {4},
                        "raw": b"bytes",
                    }
                ],
                serializer=None,
            ),
        },
        serializer=None,
    )


def _without_drfs_encoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("DRF's renderer was used")

    monkeypatch.setattr(renderers.JSONRenderer, "render", refuse)


def test_the_renderer_answers_drfs_bytes_for_every_kind_of_value(monkeypatch):
    data = _payload()
    expected = renderers.JSONRenderer().render(data, "application/json")
    _without_drfs_encoding(monkeypatch)  # orjson's encoding, not the fallback, gives them

    ours = JSONRenderer().render(data, "application/json")

    assert ours == expected
    assert b"\\u2028" in ours and b"\\u2029" in ours and b"\xe2\x80\xa8" not in ours
    assert b'"when":"2026-11-29T13:00:05.123456Z"' in ours
    assert b'"by_id":{"1":"one","2":["two"]}' in ours


def test_an_indented_answer_is_drfs():
    data = _payload()

    ours = JSONRenderer().render(data, "application/json; indent=4")

    assert ours == renderers.JSONRenderer().render(data, "application/json; indent=4")
    assert b'\n    "count": 2' in ours


def test_what_orjson_cannot_encode_is_encoded_as_drf_did():
    data = {"big": 2**70, "neg": -(2**70), "small": 1}

    assert JSONRenderer().render(data) == b'{"big":1180591620717411303424,' + (
        b'"neg":-1180591620717411303424,"small":1}'
    )


def test_nothing_renders_as_an_empty_body():
    assert JSONRenderer().render(None) == b""


def test_an_object_neither_can_encode_is_still_refused():
    with pytest.raises(TypeError):
        JSONRenderer().render({"what": object()})


@pytest.mark.django_db
def test_the_api_answers_with_this_renderer(api, viewer, monkeypatch):
    _without_drfs_encoding(monkeypatch)

    response = api(viewer).get("/api/goals/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.json()["results"] == []
