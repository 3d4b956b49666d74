"""Summaries the database keeps of deposits, so that low-zoom cluster tiles read thousands of
rows instead of every deposit under the tile.

Kept by statement triggers of deposits in the writing transaction (migration 0016), and as
visible as the deposits they count: a row sums the deposits of one visibility (public, or
confidential to one organisation) under row-level security of the same rule as deposits'.
Cells are the tiles of zoom 13 (the cluster cells of a z9 tile). Positions are Web Mercator
"world units", 2^40 across the Mercator square (veta_world_x / veta_world_y of the centre of a
deposit's bounding box, y down), whole numbers so that sums add and subtract exactly: a
summary after any writes equals one made afresh.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo.store.models.base import Base


class CellOfVisibility:
    """The key of a summary row: one cell (cx, cy) and one visibility. Its columns come first
    in the table (sort_order), as in migration 0016."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True, sort_order=-1)
    cx: Mapped[int] = mapped_column(Integer, nullable=False, sort_order=-1)
    cy: Mapped[int] = mapped_column(Integer, nullable=False, sort_order=-1)
    # The organisation the counted deposits are confidential to; NULL: public ones.
    confidential_to: Mapped[int | None] = mapped_column(Integer, sort_order=-1)

    @staticmethod
    def one_row_per_cell(name: str, *also: str) -> Index:
        """The unique index that keeps one row per cell and visibility (and `also`): NULLs not
        distinct, so that the public deposits of a cell have one row too."""
        return Index(
            name,
            "cx",
            "cy",
            "confidential_to",
            *also,
            unique=True,
            postgresql_nulls_not_distinct=True,
        )


class DepositCell(CellOfVisibility, Base):
    """The deposits of one visibility whose bounding-box centre falls in one cell: how many,
    the sums of their positions (world units) and of their ids (the id itself when alone)."""

    __tablename__ = "deposit_cells"

    members: Mapped[int] = mapped_column(Integer, nullable=False)
    x_sum: Mapped[int] = mapped_column(BigInteger, nullable=False)
    y_sum: Mapped[int] = mapped_column(BigInteger, nullable=False)
    id_sum: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (CellOfVisibility.one_row_per_cell("ux_deposit_cells_cell"),)


class DepositCellCommodity(CellOfVisibility, Base):
    """How many deposits of one visibility in one cell hold a commodity."""

    __tablename__ = "deposit_cell_commodities"

    commodity: Mapped[str] = mapped_column(Text, nullable=False)
    members: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        CellOfVisibility.one_row_per_cell("ux_deposit_cell_commodities_cell", "commodity"),
    )
