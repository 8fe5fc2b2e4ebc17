"""`denseamc simulate --plot FILE.png`: state trajectories and E(t). Needs matplotlib."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denseamc.ir import DenseAMCError, Diagnostic, ModelGraph, Severity


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend, imported on first use; without
    matplotlib a user error (exit 2) that says how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DenseAMCError(Diagnostic(
            Severity.ERROR, "--plot needs matplotlib: pip install 'denseamc[plot]'")) from None
    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Write a figure reproducibly (no software stamp), a located error when it cannot."""
    try:
        fig.savefig(path, dpi=100, metadata={"Software": None})
    except OSError as exc:
        raise DenseAMCError(Diagnostic(Severity.ERROR, f"cannot write the plot: {exc.strerror}",
                                       file=str(path))) from None


def plot_trajectories(graph: ModelGraph, result: Any, path: Path) -> None:
    """Draw one panel per layer (its states over time, batch element 0) and one for E(t)."""
    plt = pyplot()
    layers = graph.layers()
    fig, axes = plt.subplots(len(layers) + 1, 1, figsize=(7, 2.2 * (len(layers) + 1)),
                             sharex=True)
    for ax, layer in zip(axes, layers, strict=False):
        ax.plot(result.times, result.trajectories[layer.name][:, 0, :], lw=1)
        ax.set_ylabel(f"{layer.name} (state)")
    axes[-1].plot(result.times, result.energy_trace[:, 0], color="k")
    axes[-1].set_ylabel("E")
    axes[-1].set_xlabel("t (model time units)")
    fig.suptitle(f"{graph.name}: trajectories and energy")
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)
