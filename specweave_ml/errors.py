"""One voice for the user's mistakes.

Every error a user can cause (a bad brief, bad data, a bad request) is a ``SpecweaveError``. Its message
names the key or column, what was expected, what was found and how to fix it. The command line prints it
on one line and exits 2; anything else escaping is our bug and keeps its traceback.
"""

from __future__ import annotations


class SpecweaveError(Exception):
    """A mistake the user can fix: the message says where, what and how."""

    exit_code = 2

    def __init__(self, where: str, problem: str, fix: str | None = None):
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(self.message)

    def moved(self, old: str, new: str) -> "SpecweaveError":
        """The same error with every mention of the folder ``old`` read as ``new`` (a staging copy's files
        are named by where they land)."""
        def fix(text):
            return text.replace(old, new) if text else text

        err = type(self)(fix(self.where), fix(self.problem), fix(self.fix))
        err.__cause__ = self.__cause__
        return err

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.problem}"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class ConfigError(SpecweaveError):
    """The brief or another config value is wrong (names the full config key)."""


class DataError(SpecweaveError):
    """The data does not fit the brief (names the column or file)."""


class NotTrainableYet(SpecweaveError):
    """The plan resolves, but this modality or option has no training code yet."""


class GateFailed(SpecweaveError):
    """A methodology gate failed and the run was asked to be strict about it."""

    exit_code = 1
