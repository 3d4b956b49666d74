"""The label glyphs Veta serves (api/static/vendor/glyphs): well-formed glyph ranges, read here with
a protobuf reader of the test's own, that cover every letter of the shipped boundaries' names, and
served by Veta at the URL the map's style asks for."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import text

from geo.core.settings import PROJECT_ROOT

GLYPHS = PROJECT_ROOT / "api" / "static" / "vendor" / "glyphs"
STACKS = ["Noto Sans Regular", "Noto Sans Bold"]
BUFFER = 3  # the padding MapLibre expects around a glyph's bitmap


def _fields(data: bytes):
    """(field number, value) of a protobuf message: ints for varints, bytes for the rest."""
    position = 0

    def varint() -> int:
        nonlocal position
        value = shift = 0
        while True:
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while position < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, varint()
        elif wire == 2:
            length = varint()
            yield number, data[position : position + length]
            position += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _glyphs(path: Path) -> tuple[str, str, dict[int, dict]]:
    [(number, stack)] = list(_fields(path.read_bytes()))
    assert number == 1
    name = glyph_range = None
    glyphs: dict[int, dict] = {}
    for number, value in _fields(stack):
        if number == 1:
            name = value.decode()
        elif number == 2:
            glyph_range = value.decode()
        elif number == 3:
            glyph = dict(_fields(value))
            glyphs[glyph[1]] = {
                "bitmap": glyph.get(2, b""),
                "width": glyph[3],
                "height": glyph[4],
                "left": _zigzag(glyph[5]),
                "top": _zigzag(glyph[6]),
                "advance": glyph[7],
            }
    return name, glyph_range, glyphs


@pytest.mark.parametrize("stack", STACKS)
def test_each_range_is_a_well_formed_glyph_set(stack):
    files = sorted((GLYPHS / stack).glob("*.pbf"))
    assert files
    for path in files:
        start, end = (int(n) for n in path.stem.split("-"))
        assert start % 256 == 0 and end == start + 255
        name, glyph_range, glyphs = _glyphs(path)
        assert name == stack and glyph_range == path.stem
        assert glyphs and all(start <= code <= end for code in glyphs)
        for glyph in glyphs.values():
            if glyph["width"]:
                padded = (glyph["width"] + 2 * BUFFER) * (glyph["height"] + 2 * BUFFER)
                assert len(glyph["bitmap"]) == padded
    # A capital letter at MapLibre's 24 px em: about 17 px tall, standing on the baseline.
    capital = _glyphs(GLYPHS / stack / "0-255.pbf")[2][ord("E")]
    assert 15 <= capital["top"] <= 19 and 15 <= capital["height"] <= 19
    assert 10 <= capital["advance"] <= 18
    # Inside the letter the distance field is past the outline's value (191), outside it is not.
    bitmap, width = capital["bitmap"], capital["width"] + 2 * BUFFER
    row = BUFFER + capital["height"] // 2
    assert bitmap[row * width + BUFFER + 1] > 191 > bitmap[row * width]


def test_every_letter_of_the_shipped_place_names_has_a_glyph(engine):
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM admin_areas")).scalars().all()
    letters = {ord(c) for name in names for c in name if not c.isspace()}
    for stack in STACKS:
        covered: set[int] = set()
        for path in (GLYPHS / stack).glob("*.pbf"):
            covered |= set(_glyphs(path)[2])
        assert letters - covered == set(), stack


def test_veta_serves_the_glyphs_at_the_address_the_style_names(client):
    style = (PROJECT_ROOT / "api" / "static" / "map" / "map.js").read_text()
    assert "static/vendor/glyphs/{fontstack}/{range}.pbf" in style
    for stack in STACKS:
        response = client.get(f"/static/vendor/glyphs/{quote(stack)}/0-255.pbf")
        assert response.status_code == 200
        assert response.content == (GLYPHS / stack / "0-255.pbf").read_bytes()
    assert (GLYPHS / "LICENSE").read_text().count("SIL Open Font License") >= 1
