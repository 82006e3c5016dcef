"""The one error of an unusable config file, and the bounded quoting of values in its message."""
from __future__ import annotations

import reprlib

MAX_MESSAGE = 400
_quoter = reprlib.Repr()
_quoter.maxstring = _quoter.maxother = 80
_quoter.maxlist = _quoter.maxtuple = _quoter.maxdict = _quoter.maxset = 4
_quoter.maxlevel = 2


def quote(value: object) -> str:
    """`repr(value)`, shortened: a config value quoted in a message is never huge, however big it is."""
    return _quoter.repr(value)


class ConfigError(Exception):
    """An unusable config file; the message is one line naming file, source and field, at most MAX_MESSAGE long."""

    def __init__(self, message: str):
        super().__init__(message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 1] + "…")
