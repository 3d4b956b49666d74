"""The language of each answer: `lang=` if given (and then remembered in a cookie), else the
cookie the user's last switch set, else Accept-Language; English when none names es or en."""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection

from api.errors import problem
from api.links import request_url
from api.middleware import HttpMiddleware
from geo.core import i18n
from geo.core.errors import InvalidParameter

# The query parameter that switches the language, accepted by every route.
LANGUAGE_PARAMETER = "lang"
# A year: the choice outlives the session, as a language setting should.
COOKIE_MAX_AGE = 365 * 24 * 3600
# Media types whose words are translated: they vary by the request's language.
TRANSLATED = ("text/html", "application/problem+json", "application/pdf")


def chosen_language(connection: HTTPConnection) -> tuple[str, bool]:
    """(language, whether the request switched it explicitly with `lang=`); a `lang=` naming
    no supported language is refused."""
    asked = connection.query_params.get(LANGUAGE_PARAMETER)
    if asked is not None:
        if asked.lower() not in i18n.LANGUAGES:
            raise InvalidParameter(
                LANGUAGE_PARAMETER, f"{asked!r} is not a language Veta speaks", i18n.LANGUAGES
            )
        return asked.lower(), True
    return (
        i18n.supported(connection.cookies.get(i18n.COOKIE))
        or i18n.from_accept_language(connection.headers.get("accept-language"))
        or i18n.DEFAULT_LANGUAGE
    ), False


class Language(HttpMiddleware):
    """ASGI middleware: every request runs in its language (geo.core.i18n's current language); pages
    and problems say which (Content-Language) and that it depends on the request (Vary)."""

    async def http(self, scope, receive, send) -> None:
        connection = HTTPConnection(scope)
        try:
            language, switched = chosen_language(connection)
        except InvalidParameter as exc:
            refused = problem(
                exc.status,
                exc.title,
                exc.detail,
                exc.slug,
                request_url(connection),
                **exc.extensions(),
            )
            await refused(scope, receive, send)
            return
        token = i18n.use_language(language)

        async def send_with_language(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith(TRANSLATED):
                    headers["Content-Language"] = language
                    headers.add_vary_header("Accept-Language")
                    headers.add_vary_header("Cookie")
                if switched:
                    cookie = SimpleCookie()
                    cookie[i18n.COOKIE] = language
                    cookie[i18n.COOKIE].update(
                        {"path": "/", "max-age": str(COOKIE_MAX_AGE), "samesite": "lax"}
                    )
                    headers.append("Set-Cookie", cookie.output(header="").strip())
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        finally:
            i18n.reset_language(token)
