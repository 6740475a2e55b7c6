"""Exceptions meant for people: the CLI prints their message on one line and exits non-zero."""


class PixelarError(Exception):
    """A user-facing error: the message says what was wrong and what to do."""


class ConfigError(PixelarError, ValueError):
    """Unknown model, preset or config key, or a value of the wrong type."""


class DataError(PixelarError):
    """A data file that is missing, corrupt, truncated or fails its checksum."""


class CheckpointError(PixelarError):
    """A checkpoint that is missing, corrupt or belongs to another model."""
