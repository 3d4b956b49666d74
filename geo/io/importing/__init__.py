"""Bringing files into Veta: read, map, reproject, validate, then write all rows or none."""
