"""YAML with a line for every key and item: the config file's parser.

Owns ``YamlLines`` (the side table that answers "which line?" for an error) and
``load_yaml_lines`` / ``load_yaml``, which turn a YAML syntax error into an InputError naming
the file and line. The data stays plain dicts and lists.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from indexgate.errors import InputError


class YamlLines:
    """Where each mapping key and sequence item of one parsed YAML document was written.

    The parsed data stays plain dicts and lists (the rest of the code, and the Action's
    ``yaml.safe_dump`` of a merged config, need exactly those); this side table answers
    "which line?" for an error message. Lines are 1-based. A key merged in from an anchor
    (``<<: *base``) has the anchor's line.
    """

    def __init__(self) -> None:
        self._start: dict[int, int] = {}
        self._keys: dict[int, dict[Any, int]] = {}
        self._items: dict[int, list[int]] = {}
        self._numbers: dict[tuple[int, Any], str] = {}
        self._keep: list[object] = []  # ids stay unique while the table lives

    def _record(self, container: object, start: int) -> None:
        self._keep.append(container)
        self._start[id(container)] = start

    def start(self, container: object) -> int | None:
        """The line a mapping or sequence begins on (its first key or item)."""
        return self._start.get(id(container))

    def at(self, container: object, key: Any = None) -> int | None:
        """The line of a mapping's key or a sequence's item; else where the container begins."""
        if isinstance(container, dict):
            line = self._keys.get(id(container), {}).get(key)
        elif isinstance(container, list) and isinstance(key, int):
            items = self._items.get(id(container), [])
            line = items[key] if 0 <= key < len(items) else None
        else:
            line = None
        return line if line is not None else self.start(container)

    def number_text(self, container: object, key: Any) -> str | None:
        """A number's text as written (``3.10``, which YAML reads as the float 3.1)."""
        return self._numbers.get((id(container), key))


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@functools.cache
def _line_loader() -> type:
    """A SafeLoader that fills a YamlLines while it builds plain dicts and lists.

    Built on first use: PyYAML is imported only when there is a config to read.
    """
    import yaml
    from yaml.constructor import ConstructorError

    class LineLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.lines = YamlLines()

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except (ValueError, OverflowError) as exc:  # e.g. a date 2024-02-30
                raise ConstructorError(None, None, f"bad value: {exc}", node.start_mark) from None

        def _number_texts(self, data: object, pairs: Iterator[tuple[Any, Any]]) -> None:
            for key, node in pairs:
                if isinstance(node, yaml.ScalarNode) and node.tag in (
                    _INT_TAG,
                    _FLOAT_TAG,
                ):
                    self.lines._numbers[(id(data), key)] = node.value

        def construct_line_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
            data: dict[Any, Any] = {}
            self.lines._record(data, node.start_mark.line + 1)
            yield data
            # PyYAML keeps the last of two equal keys silently; a config must not.
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable: construct_mapping says so
                    continue
                if first is not None:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first on line {first})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
            data.update(self.construct_mapping(node))  # flattens merges into node.value
            keys = self.lines._keys.setdefault(id(data), {})
            for key_node, _ in node.value:
                keys[self.construct_object(key_node)] = key_node.start_mark.line + 1
            self._number_texts(data, ((self.construct_object(k), v) for k, v in node.value))

        def construct_line_seq(self, node: yaml.SequenceNode) -> Iterator[list[Any]]:
            data: list[Any] = []
            self.lines._record(data, node.start_mark.line + 1)
            yield data
            data.extend(self.construct_sequence(node))
            self.lines._items[id(data)] = [n.start_mark.line + 1 for n in node.value]
            self._number_texts(data, enumerate(node.value))

    LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_line_map)
    LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_line_seq)
    return LineLoader


def load_yaml_lines(text: str, label: str) -> tuple[Any, YamlLines]:
    """YAML as plain data plus the line of every key and item; InputError names file:line.

    PyYAML is imported here, not at the top: most runs have no config file, and the
    import costs more than reading a whole requirements file.
    """
    import yaml

    loader = _line_loader()(text)
    try:
        return loader.get_single_data(), loader.lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is None:
            raise InputError(f"invalid YAML: {problem}", file=label) from None
        raise InputError(
            f"invalid YAML (column {mark.column + 1}): {problem}",
            file=label,
            line=mark.line + 1,
        ) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=label) from None
    finally:
        loader.dispose()


def load_yaml(text: str, label: str) -> Any:
    """YAML, or an InputError naming the file and line of the problem."""
    return load_yaml_lines(text, label)[0]
