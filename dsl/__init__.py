"""denseamc.dsl: the `.dam` language front end (text -> AST -> graph IR)."""

from denseamc.dsl.elaborate import elaborate, elaborate_file, load_model, parse_file
from denseamc.dsl.parser import parse

__all__ = ["elaborate", "elaborate_file", "load_model", "parse", "parse_file"]
