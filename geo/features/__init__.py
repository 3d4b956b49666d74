"""The generic feature engine behind OGC API – Features: collections and their registry, item
pages, vector tiles, and CQL2 parsed and translated to SQL. It knows no mining terms; Veta's own
collections are declared in geo.catalog and registered by whoever starts the engine."""
