"""`veta --help` and each group's help list every command by a one-line summary."""

from __future__ import annotations

import typer.main

from cli import app


def _commands(group, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for name, command in group.commands.items():
        found.append((prefix + name, command))
        # Typer's groups are its own click's: known by the commands they hold.
        if hasattr(command, "commands"):
            found += _commands(command, f"{prefix}{name} ")
    return found


def test_every_command_has_a_one_line_summary():
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 20
    broken = {}
    for name, command in commands:
        summary = (command.help or "").strip().split("\n\n")[0]
        # A summary wrapped over lines is listed with its line breaks, cut mid-sentence.
        if not summary or "\n" in summary:
            broken[name] = summary
    assert broken == {}
