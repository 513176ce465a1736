"""The profile compiler: profile files → a versioned :class:`~compiler.bundle.Bundle`.

The pipeline is data (:data:`STAGES`); each stage is a pure function in its
own module. :func:`compile_profiles` runs them and raises
:class:`~compiler.diagnostics.CompileError` with every diagnostic collected.
"""

from compiler.pipeline import STAGES, compile_profiles, compile_spec

__all__ = ["STAGES", "compile_profiles", "compile_spec"]
