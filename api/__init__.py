"""Veta's HTTP layer: routes, parameter parsing, response encoding."""
