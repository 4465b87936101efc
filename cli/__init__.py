"""ragkit.cli: the `ragkit` command. It only calls the public SDK."""

from ragkit.cli._app import main

__all__ = ["main"]
