"""denseamc.ir: source spans, diagnostics, Lagrangians and the graph IR shared by every stage."""

from denseamc.ir.diagnostics import (
    DenseAMCError,
    Diagnostic,
    InternalCompilerError,
    Severity,
    error,
    raise_if_errors,
    usage_error,
    warning,
)
from denseamc.ir.lagrangians import Lagrangian
from denseamc.ir.model import (
    BiasDrive,
    BiasTerm,
    BilinearTerm,
    Drive,
    HardwareSetting,
    InputOp,
    LayerDynamics,
    LayerOp,
    LegendreTerm,
    ModelGraph,
    OutputOp,
    TestBlock,
    TestVector,
    WeightsOp,
    frozen_array,
)
from denseamc.ir.span import SourceFile, Span

__all__ = [
    "BiasDrive", "BiasTerm", "BilinearTerm", "DenseAMCError", "Diagnostic", "Drive",
    "HardwareSetting", "InputOp", "InternalCompilerError", "Lagrangian", "LayerDynamics",
    "LayerOp", "LegendreTerm", "ModelGraph", "OutputOp", "Severity", "SourceFile", "Span",
    "TestBlock", "TestVector", "WeightsOp", "error", "frozen_array", "raise_if_errors",
    "usage_error", "warning",
]
