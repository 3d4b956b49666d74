"""zone parts after a load: a bulk import may split its new protection zones in one statement
(which PostgreSQL runs on several cores) instead of one trigger call per zone; a deferred
trigger makes sure at commit that no zone is left without parts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 04:10:00
"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# The parts of one zone, in one place for the trigger, the check at commit and the import
# (geo/io/importing/zone_parts.py). Pieces of at most 256 vertices: small enough that a
# point-in-polygon test on a part is cheap, large enough that a province-sized zone stays a few
# thousand rows. Extracting polygons and dumping them keeps the column single-typed even if GEOS
# returns a collection. PARALLEL SAFE: a statement splitting many zones may use parallel workers.
PARTS_FUNCTION = """
CREATE FUNCTION protection_zone_parts_of(zone geometry) RETURNS SETOF geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT (ST_Dump(ST_CollectionExtract(ST_Subdivide(zone, 256), 3))).geom $$;
"""

# Inserts and geometry updates re-split the zone, whoever writes it (importer, OGC
# transactions, psql); deletes follow through the foreign key. A writer that set
# veta.zone_parts to 'deferred' for its transaction splits the zones it inserts itself.
SYNC_FUNCTION = """
CREATE OR REPLACE FUNCTION protection_zone_parts_sync() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM protection_zone_parts WHERE zone_id = NEW.id;
    ELSIF current_setting('veta.zone_parts', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
    INSERT INTO protection_zone_parts (zone_id, geom)
    SELECT NEW.id, p FROM protection_zone_parts_of(NEW.geom) AS p;
    RETURN NULL;
END $$;
"""

# At commit, for each zone inserted while its parts were deferred: split it if it still has no
# parts (and still exists). A writer that deferred and forgot cannot leave a zone that
# screening would not see. Queued only for such inserts (the WHEN is evaluated at the insert),
# so other writers pay nothing.
ENSURE_FUNCTION = """
CREATE FUNCTION protection_zone_parts_ensure() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO protection_zone_parts (zone_id, geom)
    SELECT z.id, p FROM protection_zones z, protection_zone_parts_of(z.geom) AS p
    WHERE z.id = NEW.id AND NOT EXISTS (SELECT 1 FROM protection_zone_parts WHERE zone_id = z.id);
    RETURN NULL;
END $$;
"""
ENSURE_TRIGGER = (
    "CREATE CONSTRAINT TRIGGER protection_zone_parts_ensured AFTER INSERT ON protection_zones "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
    "WHEN (current_setting('veta.zone_parts', true) = 'deferred') "
    "EXECUTE FUNCTION protection_zone_parts_ensure()"
)

# Revision 0002's function with 0014's definer rights.
PREVIOUS_SYNC_FUNCTION = """
CREATE OR REPLACE FUNCTION protection_zone_parts_sync() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM protection_zone_parts WHERE zone_id = NEW.id;
    END IF;
    INSERT INTO protection_zone_parts (zone_id, geom)
    SELECT NEW.id, (ST_Dump(ST_CollectionExtract(ST_Subdivide(NEW.geom, 256), 3))).geom;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(PARTS_FUNCTION)
    op.execute(SYNC_FUNCTION)
    op.execute(ENSURE_FUNCTION)
    op.execute(ENSURE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER protection_zone_parts_ensured ON protection_zones")
    op.execute("DROP FUNCTION protection_zone_parts_ensure()")
    op.execute(PREVIOUS_SYNC_FUNCTION)
    op.execute("DROP FUNCTION protection_zone_parts_of(geometry)")
