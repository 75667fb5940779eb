"""Errors a user can cause. The CLI prints them as one line and exits with `exit_code`."""


class EdgeKDError(Exception):
    """Base for every problem the user can fix (bad config, missing data, bad checkpoint)."""

    exit_code = 2

    def __init__(self, message: str):
        # One line, always: messages quoted from other libraries (YAML, converters) may span several.
        super().__init__(" ".join(str(message).split()))


class ConfigError(EdgeKDError):
    """The pipeline YAML is malformed or names an unknown field or value."""


class DataError(EdgeKDError):
    """A dataset file is missing, truncated or not what its name says."""


class CheckpointError(EdgeKDError):
    """A model checkpoint is missing, unsafe to load, or does not fit the named model."""


class ArtifactError(EdgeKDError):
    """The artifact store cannot be written, or an artifact on disk is incomplete or corrupt."""
