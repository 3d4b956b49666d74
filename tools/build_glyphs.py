"""Build the web map's label glyphs: signed-distance-field glyph ranges (MapLibre's `{range}.pbf`)
of Noto Sans from the npm package @fontsource/noto-sans, into api/static/vendor/glyphs/.

A maintainer's tool, not part of Veta's run time (it needs freetype-py, which Veta does not):

    tmp=$(mktemp -d) && (cd "$tmp" && npm pack @fontsource/noto-sans@5.3.0 && tar xzf *.tgz)
    python -m venv /tmp/glyphs && /tmp/glyphs/bin/pip install freetype-py numpy
    /tmp/glyphs/bin/python tools/build_glyphs.py "$tmp/package"

The glyphs follow the conventions MapLibre expects of server glyphs (those of Mapbox's fontnik):
24 px em, the bitmap padded by 3 px, the distance field spanning 8 px with the outline at 3/4 of
the byte range. Distances are measured on the glyph drawn 8 times larger, so they are exact to
1/16 px at 24 px.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import freetype
import numpy as np

OUT = Path(__file__).resolve().parent.parent / "api" / "static" / "vendor" / "glyphs"
# The font stacks the map names in text-font, and the fontsource files each is drawn from
# (the Latin subsets: every letter of Spanish, Galician, Catalan, Basque and Portuguese names).
STACKS = {
    "Noto Sans Regular": ("latin-400-normal", "latin-ext-400-normal"),
    "Noto Sans Bold": ("latin-700-normal", "latin-ext-700-normal"),
}
EM = 24
BUFFER = 3
RADIUS = 8
CUTOFF = 0.25
SCALE = 8  # the glyph is drawn this many times larger to measure distances


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes, signed: bool = False) -> bytes:
    """One protobuf field: a varint (zig-zag when signed) or length-delimited bytes."""
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if signed:
        value = (value << 1) ^ (value >> 63)
    return _varint(number << 3) + _varint(value)


def _distance_field(mask: np.ndarray) -> bytes:
    """The SDF bitmap of a glyph drawn large as `mask` (SCALE large pixels to a small one, rows
    from the top), over the glyph's small box padded by BUFFER on every side."""
    padded = np.pad(mask, 1)
    # The outline: midpoints between neighbouring large pixels of which one is inside, in the
    # mask's frame (the padding's column and row are -1).
    rows, cols = np.nonzero(padded[:, 1:] != padded[:, :-1])
    edge_x, edge_y = [cols + 0.0], [rows - 0.5]
    rows, cols = np.nonzero(padded[1:, :] != padded[:-1, :])
    edge_x.append(cols - 0.5)
    edge_y.append(rows + 0.0)
    ex, ey = np.concatenate(edge_x), np.concatenate(edge_y)
    height, width = mask.shape[0] // SCALE, mask.shape[1] // SCALE
    # Centres of the small bitmap's pixels, in large pixels of the mask's frame.
    xs = (np.arange(width + 2 * BUFFER) - BUFFER + 0.5) * SCALE
    ys = (np.arange(height + 2 * BUFFER) - BUFFER + 0.5) * SCALE
    px, py = np.meshgrid(xs, ys)
    if ex.size:
        d2 = (px.reshape(-1, 1) - ex) ** 2 + (py.reshape(-1, 1) - ey) ** 2
        distance = np.sqrt(d2.min(axis=1)).reshape(px.shape) / SCALE
    else:  # a blank glyph (a format character): nothing within reach
        distance = np.full(px.shape, float(RADIUS))
    col, row = np.floor(px).astype(int), np.floor(py).astype(int)
    within = (col >= 0) & (row >= 0) & (col < mask.shape[1]) & (row < mask.shape[0])
    inside = np.zeros(px.shape, dtype=bool)
    inside[within] = mask[row[within], col[within]]
    signed = np.where(inside, -distance, distance)
    values = np.clip(np.round(255 - 255 * (signed / RADIUS + CUTOFF)), 0, 255)
    return values.astype(np.uint8).tobytes()


def _glyph(face: freetype.Face, code: int) -> bytes:
    face.load_char(chr(code), freetype.FT_LOAD_RENDER | freetype.FT_LOAD_TARGET_MONO)
    slot = face.glyph
    bitmap = slot.bitmap
    advance = round(slot.advance.x / 64 / SCALE)
    fields = _field(1, code)
    if bitmap.width == 0 or bitmap.rows == 0:
        return fields + b"".join(
            (_field(3, 0), _field(4, 0), _field(5, 0, True), _field(6, 0, True), _field(7, advance))
        )
    # Monochrome rows are packed bits, `pitch` bytes a row.
    packed = np.frombuffer(bytes(bitmap.buffer), dtype=np.uint8).reshape(bitmap.rows, bitmap.pitch)
    mask = np.unpackbits(packed, axis=1)[:, : bitmap.width].astype(bool)
    big_left, big_top = slot.bitmap_left, slot.bitmap_top
    # The small glyph's box: the large one's, rounded outwards to whole small pixels.
    left = big_left // SCALE
    top = -((-big_top) // SCALE)
    right = -(-(big_left + bitmap.width) // SCALE)
    bottom = (big_top - bitmap.rows) // SCALE
    width, height = right - left, top - bottom
    # The mask placed in the small box's frame (x from the box's left, y down from its top).
    framed = np.zeros((height * SCALE, width * SCALE), dtype=bool)
    dx, dy = big_left - left * SCALE, top * SCALE - big_top
    framed[dy : dy + bitmap.rows, dx : dx + bitmap.width] = mask
    sdf = _distance_field(framed)
    return fields + b"".join(
        (
            _field(2, sdf),
            _field(3, width),
            _field(4, height),
            _field(5, left, True),
            _field(6, top, True),
            _field(7, advance),
        )
    )


def build(package: Path) -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    for stack, subsets in STACKS.items():
        faces = [freetype.Face(str(package / "files" / f"noto-sans-{s}.woff")) for s in subsets]
        for face in faces:
            face.set_char_size(EM * SCALE * 64)
        drawn: dict[int, freetype.Face] = {}
        for face in faces:
            for code, index in face.get_chars():
                if index and code >= 32:
                    drawn.setdefault(code, face)
        folder = OUT / stack
        folder.mkdir(parents=True)
        for start in sorted({code // 256 * 256 for code in drawn}):
            name = f"{start}-{start + 255}"
            glyphs = [
                _field(3, _glyph(drawn[c], c)) for c in range(start, start + 256) if c in drawn
            ]
            body = _field(1, stack.encode()) + _field(2, name.encode()) + b"".join(glyphs)
            (folder / f"{name}.pbf").write_bytes(_field(1, body))
    shutil.copy(package / "LICENSE", OUT / "LICENSE")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
