"""YAML request bodies read the way the apiserver's ``sigs.k8s.io/yaml`` (go-yaml v2) reads them.

Timestamps stay strings (go-yaml keeps them as strings when decoding into ``interface{}``), and the
strict pass's duplicate-key errors are recorded in go-yaml's words: ``line N: key "a" already set in
map``, where N is the line of the repeated key's value, in the order go-yaml finds them (a value's
own duplicates before its key's). The last value of a repeated key wins, as in the lenient pass
whose result the apiserver keeps.
"""

from __future__ import annotations

from typing import Any

import yaml

from bcs.sim.kube import gofmt

__all__ = ["duplicates", "load", "unmarshal_errors"]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    # (where go-yaml would notice it: the end of the repeated key's value, the error)
    duplicates: list[tuple[int, str]]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: list[Any] = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            continue
        if any(type(key) is type(k) and key == k for k in seen):
            line = value_node.start_mark.line + 1
            message = f"line {line}: key {gofmt.sharp_v(key)} already set in map"
            loader.duplicates.append((value_node.end_mark.index, message))
        seen.append(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(raw: bytes) -> tuple[Any, list[str]]:
    """The document and its duplicate-key errors (``yaml.YAMLError`` on bad input)."""
    loader = _Loader(raw)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
        return data, [message for _, message in sorted(loader.duplicates)]
    finally:
        loader.dispose()


def duplicates(raw: bytes) -> list[str]:
    """Just the duplicate-key errors (none for a document that does not parse)."""
    try:
        return load(raw)[1]
    except yaml.YAMLError:
        return []


def unmarshal_errors(dups: list[str]) -> str:
    """go-yaml's ``TypeError`` text for a list of duplicate-key errors."""
    return "yaml: unmarshal errors:\n" + "\n".join("  " + d for d in dups)
