"""Tables that fit the width they are printed at, without ever breaking a token across lines.

A cell is a value (its words wrap at spaces) or a list (its items never break; they are joined by ", ").
When the width is short, free-text columns are shortened first (one line, ending in …), then columns are
left out in the table's drop order, and the caption names them. A token longer than `TOKEN_CAP` (a hash,
a URL) does not widen its column past the cap: it is shortened with … where the column is narrower.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

from nigran.crawler.terminal import plain

TOKEN_CAP = 24
FREE_MIN = 12


def tokens(cell: object) -> list[str]:
    """The pieces of a cell that a line may break between; None and empty show as '-'."""
    if isinstance(cell, (list, tuple)):
        items = [plain(item) for item in cell] or ["-"]
        return [f"{item}," for item in items[:-1]] + items[-1:]
    return plain("-" if cell is None else cell).split() or ["-"]


def wrap(pieces: list[str], width: int) -> str:
    """`pieces` joined by spaces, a line break wherever the next one would pass `width`."""
    lines = [pieces[0]]
    for piece in pieces[1:]:
        if cell_len(lines[-1]) + 1 + cell_len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] += f" {piece}"
    return "\n".join(lines)


def share(widths: dict[str, int], wants: dict[str, int], names: list[str], spare: int) -> int:
    """Widen the `names` columns toward what they want, the smallest need served first and the rest
    shared evenly (max-min fair); the spare width left."""
    needy = sorted(names, key=lambda n: wants[n] - widths[n])
    for i, name in enumerate(needy):
        give = min(wants[name] - widths[name], spare // (len(needy) - i))
        widths[name] += give
        spare -= give
    return spare


def frame(columns: int) -> int:
    """The width of a rich table's borders and cell padding around `columns` columns."""
    return 3 * columns + 1


class FittedTable:
    """A rich renderable: a table laid out for the width of the console it is printed on."""

    def __init__(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *,
                 drop: Sequence[str] | None = None, free: Sequence[str] = (), right: Sequence[str] = (),
                 styles: Sequence[str | None] | None = None):
        self.title, self.columns, self.free, self.right = title, list(columns), set(free), set(right)
        self.drop = list(reversed(self.columns[1:]) if drop is None else drop)
        self.cells = [[tokens(cell) for cell in row] for row in rows]
        self.styles = list(styles) if styles is not None else [None] * len(self.cells)
        self.heads = {name: name.split() for name in self.columns}
        self.wants, self.mins = {}, {}
        for i, name in enumerate(self.columns):
            column = [self.heads[name]] + [row[i] for row in self.cells]
            self.wants[name] = max(cell_len(" ".join(pieces)) for pieces in column)
            longest = max(cell_len(piece) for pieces in column for piece in pieces)
            self.mins[name] = min(self.wants[name], FREE_MIN) if name in self.free else min(longest, TOKEN_CAP)

    def widths(self, width: int) -> dict[str, int]:
        """The columns shown at `width`, in order, each with its width."""
        shown = list(self.columns)
        for name in self.drop:
            if sum(self.mins[n] for n in shown) + frame(len(shown)) <= width:
                break
            shown.remove(name)
        widths = {name: self.mins[name] for name in shown}
        spare = max(0, width - frame(len(shown)) - sum(widths.values()))
        spare = share(widths, self.wants, [n for n in shown if n not in self.free], spare)
        share(widths, self.wants, [n for n in shown if n in self.free], spare)
        return widths

    def build(self, width: int) -> Table:
        """The rich table for `width`: cells pre-wrapped, so rich neither wraps nor folds them."""
        widths = self.widths(width)
        left_out = [name for name in self.columns if name not in widths]
        caption = f"not shown at {width} columns: {', '.join(left_out)}" if left_out else None
        table = Table(title=self.title, caption=caption)
        for name, w in widths.items():
            table.add_column(wrap(self.heads[name], w), width=w, no_wrap=True, overflow="ellipsis",
                             justify="right" if name in self.right else "left")
        keep = [self.columns.index(name) for name in widths]
        for row, style in zip(self.cells, self.styles):
            table.add_row(*(" ".join(row[i]) if self.columns[i] in self.free else wrap(row[i], widths[self.columns[i]])
                            for i in keep), style=style)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)
