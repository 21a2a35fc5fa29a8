"""setpiece: AI-assisted destruction VFX and previz."""

from setpiece.errors import SetpieceError

__version__ = "0.1.0"
__all__ = ["SetpieceError", "__version__"]
