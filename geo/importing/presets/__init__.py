"""Built-in import mappings (TOML), one per public data source; see geo/importing/mapping.py."""
