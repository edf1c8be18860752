"""The command line's exit codes, and a command that cannot go on."""

EXIT_OK = 0
EXIT_BLOCKING_CHECK_FAILED = 1
"""A blocking check failed: a folder's counts invariant or failure share, or the corpus's
completeness."""
EXIT_RUN_FAILED = 2
"""A run failed for another reason than a blocking check, or the Dagster instance or the
manifest cannot be opened; the message says what, where, and what to do."""
EXIT_USAGE = 64


class Refused(Exception):
    """A command that cannot go on: its message for the terminal, and its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
