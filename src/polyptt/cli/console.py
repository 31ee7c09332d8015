"""Kept for `polyptt.cli.remote` until it moves: the console is `polyptt.console`."""

from polyptt.console import Console

__all__ = ["Console"]
