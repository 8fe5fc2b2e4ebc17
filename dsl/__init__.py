"""denseamc.dsl: the `.dam` language front end (text -> AST -> graph IR)."""

from denseamc.dsl.elaborate import elaborate, load_model
from denseamc.dsl.parser import parse

__all__ = ["elaborate", "load_model", "parse"]
