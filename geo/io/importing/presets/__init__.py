"""Built-in import mappings (TOML), one per public data source; see geo/io/importing/mapping.py."""
