"""The HTTP server's protocol: uvicorn's httptools one, answering over-long URLs as problem+json.

httptools cannot split a URL longer than 65,535 bytes (its offsets are 16-bit), and uvicorn then
answers a text/plain 400 before the app (and api.guard's 414) ever sees the request.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PARSER_MAX_URL = 65_535


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose refusal of a URL it cannot parse is a 414 problem+json."""

    def send_400_response(self, msg: str) -> None:
        if len(getattr(self, "url", b"")) <= PARSER_MAX_URL:
            super().send_400_response(msg)
            return
        reason = f"the URL has more than {PARSER_MAX_URL:,} bytes"
        body = json.dumps(
            {
                "type": "https://veta.example/problems/uri-too-long",
                "title": "URI too long",
                "status": 414,
                "detail": f"url: {reason}",
                "invalid_params": [
                    {
                        "name": "url",
                        "reason": reason,
                        "allowed": "a shorter URL; send large geometries in a POST body",
                    }
                ],
            }
        ).encode()
        head = [b"HTTP/1.1 414 URI Too Long\r\n"]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
