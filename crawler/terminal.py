"""Text from outside (scraped pages, the database, configuration, error messages) made safe for a terminal.

Scraped text can carry escape sequences (clear the screen, set the window title, fake a prompt), rich markup
(`[link=…]`, or a stray `[/bold]` that makes rich raise) and bidi overrides that make text read differently
from what it is. Everything nigran prints for a person goes through `plain`: tables and lines through
`SafeConsole`, plain lines through `say`, log lines through `SafeLogFormatter`.

`SafeConsole` also prints at the width a reader expects (`output_width`) and takes a closed pipe as the
reader having gone (`reader_gone`), not as an error.
"""
from __future__ import annotations

import logging
import os
import re
import sys

import click
from rich.console import Console, ConsoleDimensions
from rich.text import Text

# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides (U+202A-202E) and
# isolates (U+2066-2069). Right-to-left script itself (Urdu) is text and stays.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Lines into a pipe or a file with COLUMNS unset are as long as their content: nothing is wrapped or cut.
UNWRAPPED = 10_000


def plain(value: object) -> str:
    """`value` as text without terminal control characters or bidi overrides."""
    return _UNSAFE.sub("", str(value))


def output_width() -> int:
    """The width to print at: COLUMNS when set, else the terminal's when stdout is one, else `UNWRAPPED`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns or UNWRAPPED
    except (AttributeError, ValueError, OSError):  # not a terminal, or no file descriptor (a test's capture)
        return UNWRAPPED


def reader_gone() -> None:
    """Exit 0 quietly when what read stdout has gone (`nigran … | head`): a closed pipe is no error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the output still buffered goes nowhere, not to a traceback
    sys.exit(0)


class SafeConsole(Console):
    """A rich console that shows every string literally: no markup, no emoji codes, no control characters.

    Styling is given explicitly, as `rich.text.Text` objects built by nigran itself. Its width is
    `output_width()` at each print, so COLUMNS and a resized terminal are honoured."""

    def __init__(self, **kwargs):
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    @property
    def size(self) -> ConsoleDimensions:
        return ConsoleDimensions(output_width(), super().size.height)

    def on_broken_pipe(self) -> None:
        """rich's own handling of a closed pipe exits 1; it is no error."""
        reader_gone()

    def render_str(self, text: str, **kwargs) -> Text:
        """Every string rich renders (printed values, table cells, titles) passes through here."""
        return super().render_str(plain(text), **{**kwargs, "markup": False, "emoji": False})


def say(message: str, err: bool = False) -> None:
    """Print one line of text for a person, made safe."""
    click.echo(plain(message), err=err)


class SafeLogFormatter(logging.Formatter):
    """Log lines made safe, so that reading a log (on screen or with `cat`) cannot drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return plain(super().format(record))
