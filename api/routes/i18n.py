"""GET /i18n.json and /i18n/{lang}.json: the web map's words from the one message catalogue."""

from __future__ import annotations

from typing import Literal

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from geo.core import i18n

router = APIRouter(tags=["map"])


def _catalogue(language: str) -> Response:
    body = {
        "lang": language,
        "languages": list(i18n.LANGUAGES),
        "messages": i18n.messages(language, "map"),
    }
    return Response(
        orjson.dumps(body), media_type="application/json", headers={"Content-Language": language}
    )


@router.get(
    "/i18n.json", response_class=Response, responses={200: {"content": {"application/json": {}}}}
)
async def map_messages_negotiated() -> Response:
    """The map's words in the request's language: `lang=` (remembered in a cookie), else the
    cookie of the user's last switch, else Accept-Language; English by default."""
    response = _catalogue(i18n.current_language())
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@router.get(
    "/i18n/{lang}.json",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def map_messages(lang: Literal["en", "es"]) -> Response:
    """The map's words in one language, English text → translation."""
    return _catalogue(lang)
