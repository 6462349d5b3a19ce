"""Errors that genedit shows to users.

Every error carries a message that names the object at fault and the fix. Only the CLI layer turns
these into exit codes; library callers catch them like any exception.
"""

from __future__ import annotations


class GeneditError(Exception):
    """Base class: the message is meant for the user, on one line."""

    exit_code = 1


class UsageError(GeneditError):
    """The request itself is wrong (unknown model, missing scale, bad option)."""

    exit_code = 2


class UnknownModelError(UsageError):
    def __init__(self, name: str, suggestions: list[str] | None = None, failed: list[str] | None = None):
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        if failed:
            hint += (
                f" Plugin(s) {', '.join(repr(f) for f in failed)} failed to load and may own it"
                " (see 'genedit plugins')."
            )
        super().__init__(f"Unknown model '{name}'.{hint} Run 'genedit list' to see installed models.")
        self.name = name
        self.suggestions = suggestions or []


class PluginError(GeneditError):
    """A plugin failed to import, register or answer a hook."""


class WeightsError(GeneditError):
    """Weights could not be found, downloaded, verified or understood."""


class UnsafeCheckpointError(WeightsError):
    """A checkpoint holds something other than tensors; it is refused without running it."""


class ImageError(GeneditError):
    """An input image could not be read, or an output could not be written."""


class OutputExistsError(ImageError):
    """An output file is already there and replacing it was not allowed; it is kept as it was."""

    def __init__(self, path: object):
        super().__init__(f"{path}: exists; kept as it was")
        self.path = path


class DeviceError(UsageError):
    """The requested device or dtype is not available here."""


class NonFiniteOutputError(ImageError):
    """A network or a plugin produced NaN or infinite values, almost always from broken weights.

    Raised where the values appear (the tiler, or the check of what a plugin returned) so that a
    plugin clamping its output afterwards cannot turn them into a plausible-looking image.
    """
