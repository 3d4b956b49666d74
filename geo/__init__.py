"""Veta's domain and spatial engine: no HTTP in here."""
