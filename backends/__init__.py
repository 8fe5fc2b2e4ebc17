"""denseamc.backends."""
