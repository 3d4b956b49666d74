"""The words and rules every other package shares: errors, SQL parameters, coordinate reference
systems, the code lists and commodity vocabulary, settings and per-request limits. Imports nothing
else of Veta's."""
