"""Reading a workflow document's YAML: PyYAML's safe loader, refusing a key written twice in one mapping.

YAML itself forbids duplicate keys, but PyYAML keeps the last one silently: a step with ``next:``
twice went wherever the second one said. Here a duplicate is a syntax error naming the key and both
lines; a merge (``<<: *defaults``) still overrides what it merges, as YAML defines. A problem's
position names the file read (not ``<unicode string>``).
"""

from __future__ import annotations

import io
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with every mapping's keys checked for duplicates."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, tuple[int, int]] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            place = (key_node.start_mark.line, key_node.start_mark.column)  # a flow mapping's keys share a line
            try:
                first = seen.setdefault(key, place)
            except TypeError:  # an unhashable key: the constructor reports it
                continue
            if first != place:
                where = f"line {first[0] + 1}" + (f", column {first[1] + 1}" if first[0] == place[0] else "")
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice (first on {where}); write each key once",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str, origin: str | None = None) -> Any:
    """The document ``text`` holds (:class:`yaml.YAMLError` on a syntax error or a duplicate key); positions in
    an error name ``origin`` when given."""
    stream = io.StringIO(text)
    stream.name = origin or "<workflow text>"
    return yaml.load(stream, Loader=UniqueKeyLoader)
