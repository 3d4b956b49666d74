"""Raster benchmarks (issue 14): zonal statistics against rasterstats, the León constraint map."""
