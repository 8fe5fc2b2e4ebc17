"""denseamc.compiler.passes."""
