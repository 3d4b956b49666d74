"""OGC API – Features over HTTP: parameter parsing, content negotiation, caching, encodings."""
