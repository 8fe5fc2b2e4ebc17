"""`denseamc harden`: variation-aware fine-tuning of a model's weights (JAX, diffrax, optax).

    params.py    which weights are trained, how the model reads them, the new .dam and .npz
    dynamics.py  the model's ODE in JAX from the graph IR, with one chip's non-idealities
    train.py     sampled chips, the loss on decoded outputs, bounded energy, the optax loop
    command.py   the command: data, training, before/after Monte Carlo, the output directory

JAX, diffrax and optax are the optional `train` extra; only `command.py` is imported by the CLI
before they are known to be installed (`require_jax`).
"""

from __future__ import annotations

from denseamc.ir import usage_error

INSTALL_HINT = "denseamc harden needs JAX, diffrax and optax: pip install 'denseamc[train]'"


def require_jax() -> None:
    """Raise a one-line usage error (exit 2) when the training extra is not installed."""
    try:
        import diffrax  # noqa: F401
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError:
        raise usage_error(INSTALL_HINT) from None
