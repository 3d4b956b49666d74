"""Tiles remembered until their data changes: a low-zoom tile over many deposits is made once.

A tile depends on the rows of its tables (migration 0005's change counters), on the day,
since which protection zones are in force follows current_date, and on who asks, since
row-level security shows each organisation its own confidential records. All three are in the
key, so a tile is never served for data it was not made from nor to anyone it was not made for.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import date

import morecantile


def tile_key(
    layer_id: str, tile: morecantile.Tile, state: tuple[date, tuple[int, ...]], audience: str
) -> str:
    """A short digest naming one tile of one state of the data for one audience; also the
    tile's ETag."""
    raw = repr((layer_id, tile.z, tile.x, tile.y, state[0].isoformat(), state[1], audience))
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


class TileCache:
    """The most recently used tiles, up to `budget` bytes in all (0: remember nothing)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._tiles: OrderedDict[str, bytes] = OrderedDict()
        self.hits = self.misses = 0  # read by /metrics

    def get(self, key: str) -> bytes | None:
        tile = self._tiles.get(key)
        if tile is not None:
            self.hits += 1
            self._tiles.move_to_end(key)
        else:
            self.misses += 1
        return tile

    def put(self, key: str, tile: bytes) -> None:
        if not self.budget or len(tile) > self.budget or key in self._tiles:
            return
        self._tiles[key] = tile
        self.used += len(tile)
        while self.used > self.budget:
            _, evicted = self._tiles.popitem(last=False)
            self.used -= len(evicted)
