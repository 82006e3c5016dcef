"""The one YAML reader of nigran's config files (sources and alerts): plain data, bounded in size and depth.

No anchors or aliases (an alias bomb expands to billions of nodes), no integer longer than 64 characters
(Python refuses to convert huge ones), no nesting deeper than MAX_DEPTH, no file over MAX_BYTES.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, CollectionStartEvent

from nigran.config.errors import ConfigError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_INT_CHARS = 64


class StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing anchors, aliases, deep nesting and huge integers, each with its line and column."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ComposerError(None, None, "anchors and aliases (&, *) are not allowed", event.start_mark)
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node):
        if len(node.value) > MAX_INT_CHARS:
            raise ConstructorError(None, None, f"integer longer than {MAX_INT_CHARS} digits", node.start_mark)
        return super().construct_yaml_int(node)


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def read_yaml(path: Path, example: str) -> object:
    """The data of the YAML file at `path`; ConfigError (one line, with line and column) when it is
    missing, unreadable, too big or not plain YAML. `example` is the file to copy when it is missing."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (copy {example} to start)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 1024} KiB, not a config file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
