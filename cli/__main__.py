"""`python -m cli …`: the `veta` command, for `python -X importtime -m cli import …`."""

from cli import app

app()
