"""One exception family: every user-facing failure is a SetpieceError whose
message names the field or file at fault and how to fix it."""


class SetpieceError(Exception):
    """Base class of all errors setpiece reports to users."""


class SpecError(SetpieceError):
    """A shot spec is malformed or holds an invalid value."""


class InputError(SetpieceError):
    """An input file (plate, screenplay, cache) is missing or unreadable."""


class ScreenplayError(InputError):
    """A screenplay cannot be parsed."""


class RenderError(SetpieceError):
    """A render backend is unavailable or failed."""


class OutputError(SetpieceError):
    """Outputs cannot be written where asked."""


class StageError(SetpieceError):
    """A stage failed; the message names the stage and what to change."""


class SetpieceWarning(UserWarning):
    """Something was off but setpiece went on (e.g. a huge plate read at reduced size);
    the CLI prints these as one 'warning:' line each."""
