"""XPath on lxml trees with the result's type checked: lxml types `xpath()` as any XPath value."""

from __future__ import annotations

from lxml import etree


def xnodes(node: etree._Element, expression: str, namespaces: dict[str, str] | None = None) -> list[etree._Element]:
    """The elements a node-set `expression` selects."""
    found = node.xpath(expression, namespaces=namespaces)
    assert isinstance(found, list), f"{expression} is not a node-set"
    elements = []
    for item in found:
        assert isinstance(item, etree._Element), f"{expression} selected {item!r}, not an element"
        elements.append(item)
    return elements


def xstrings(node: etree._Element, expression: str, namespaces: dict[str, str] | None = None) -> list[str]:
    """The string values of what `expression` selects (attributes, text nodes)."""
    found = node.xpath(expression, namespaces=namespaces)
    assert isinstance(found, list), f"{expression} is not a node-set"
    return [str(item) for item in found]


def xstring(node: etree._Element, expression: str) -> str:
    """The value of a ``string(...)`` `expression`."""
    value = node.xpath(expression)
    assert isinstance(value, str), f"{expression} is not a string expression"
    return value
