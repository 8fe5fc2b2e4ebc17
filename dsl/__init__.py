"""denseamc.dsl."""
