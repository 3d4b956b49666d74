"""Rasters: registered as Cloud-Optimised GeoTIFFs, sampled, summarised over zones, tiled."""
