"""denseamc.compiler."""
