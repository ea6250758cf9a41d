"""A parser for Logstash's pipeline configuration language, enough to check a pipeline's
structure here, where Logstash itself (``--config.test_and_exit``) does not run.

It follows the grammar of Logstash's ``treetop`` definition: plugin sections (``input``,
``filter``, ``output``) hold plugins (``name { setting => value ... }``) and conditionals
(``if <condition> { ... } else if ... else { ... }``); values are strings, numbers,
barewords, arrays and hashes; ``#`` starts a comment. It raises ``LogstashSyntaxError`` with
the line number on anything else, so a broken brace or a missing ``=>`` fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\\n]|\\.)+/)
  | (?P<operator>=>|==|!=|=~|!~|<=|>=|[<>])
  | (?P<punct>[{}\[\](),])
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<bareword>[A-Za-z_@][\w@.\-]*)
    """,
    re.VERBOSE,
)
SECTIONS = ("input", "filter", "output")


class LogstashSyntaxError(ValueError):
    """The pipeline is not valid Logstash configuration."""


@dataclass
class Plugin:
    name: str
    settings: dict[str, Any]
    line: int


@dataclass
class Branch:
    """One ``if``/``else if``/``else`` arm: ``condition`` is None for ``else``."""

    condition: str | None
    body: list[Plugin | Conditional]


@dataclass
class Conditional:
    branches: list[Branch] = field(default_factory=list)


@dataclass
class Pipeline:
    sections: dict[str, list[Plugin | Conditional]]

    def plugins(self, section: str) -> list[Plugin]:
        """Every plugin of ``section``, including those inside conditionals."""
        found: list[Plugin] = []

        def walk(items: list[Plugin | Conditional]) -> None:
            for item in items:
                if isinstance(item, Plugin):
                    found.append(item)
                else:
                    for branch in item.branches:
                        walk(branch.body)

        walk(self.sections.get(section, []))
        return found

    def conditions(self, section: str) -> list[str]:
        found: list[str] = []

        def walk(items: list[Plugin | Conditional]) -> None:
            for item in items:
                if isinstance(item, Conditional):
                    for branch in item.branches:
                        if branch.condition is not None:
                            found.append(branch.condition)
                        walk(branch.body)

        walk(self.sections.get(section, []))
        return found


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        self.spans: list[tuple[int, int]] = []
        position, line = 0, 1
        while position < len(source):
            match = _TOKEN.match(source, position)
            if match is None:
                raise LogstashSyntaxError(f"line {line}: unexpected {source[position]!r}")
            kind = match.lastgroup or ""
            if kind != "space":
                self.tokens.append((kind, match.group(), line))
                self.spans.append((match.start(), match.end()))
            line += match.group().count("\n")
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, text: str | None = None, kind: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise LogstashSyntaxError(f"unexpected end of file, expected {text or kind}")
        if (text is not None and token[1] != text) or (kind is not None and token[0] != kind):
            raise LogstashSyntaxError(f"line {token[2]}: expected {text or kind}, got {token[1]!r}")
        self.index += 1
        return token

    def pipeline(self) -> Pipeline:
        sections: dict[str, list[Plugin | Conditional]] = {}
        while self.peek() is not None:
            _, name, line = self.take(kind="bareword")
            if name not in SECTIONS:
                raise LogstashSyntaxError(f"line {line}: {name!r} is not input, filter or output")
            self.take("{")
            sections.setdefault(name, []).extend(self.body())
            self.take("}")
        return Pipeline(sections)

    def body(self) -> list[Plugin | Conditional]:
        items: list[Plugin | Conditional] = []
        while (token := self.peek()) is not None and token[1] != "}":
            items.append(self.conditional() if token[1] == "if" else self.plugin())
        return items

    def conditional(self) -> Conditional:
        result = Conditional()
        self.take("if")
        result.branches.append(Branch(self.condition(), self.block()))
        while (token := self.peek()) is not None and token[1] == "else":
            self.take("else")
            nxt = self.peek()
            if nxt is not None and nxt[1] == "if":
                self.take("if")
                result.branches.append(Branch(self.condition(), self.block()))
            else:
                result.branches.append(Branch(None, self.block()))
                break
        return result

    def condition(self) -> str:
        """The condition's source text, up to the block's ``{``."""
        parts: list[str] = []
        first = self.index
        depth = 0
        while (token := self.peek()) is not None and not (token[1] == "{" and depth == 0):
            depth += token[1] in "[(" and token[0] == "punct"
            depth -= token[1] in "])" and token[0] == "punct"
            parts.append(self.take()[1])
        if not parts or depth != 0 or self.tokens[self.index - 1][0] == "operator":
            raise LogstashSyntaxError(f"line {token[2] if token else '?'}: bad condition")
        return self.source[self.spans[first][0] : self.spans[self.index - 1][1]]

    def block(self) -> list[Plugin | Conditional]:
        self.take("{")
        items = self.body()
        self.take("}")
        return items

    def plugin(self) -> Plugin:
        _, name, line = self.take(kind="bareword")
        self.take("{")
        settings: dict[str, Any] = {}
        while (token := self.peek()) is not None and token[1] != "}":
            key = self.take()[1]
            self.take("=>")
            settings[_unquote(key)] = self.value()
        self.take("}")
        return Plugin(name, settings, line)

    def value(self) -> Any:
        kind, text, line = self.take()
        if kind == "string":
            return _unquote(text)
        if kind in ("number", "bareword"):
            return text
        if text == "[":
            items = []
            while (token := self.peek()) is not None and token[1] != "]":
                items.append(self.value())
                if (after := self.peek()) is not None and after[1] == ",":
                    self.take(",")
            self.take("]")
            return items
        if text == "{":
            mapping = {}
            while (token := self.peek()) is not None and token[1] != "}":
                key = _unquote(self.take()[1])
                self.take("=>")
                mapping[key] = self.value()
                if (after := self.peek()) is not None and after[1] == ",":
                    self.take(",")
            self.take("}")
            return mapping
        raise LogstashSyntaxError(f"line {line}: unexpected {text!r} as a value")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def parse_pipeline(source: str) -> Pipeline:
    """Parse a Logstash pipeline; raise :class:`LogstashSyntaxError` if it is invalid."""
    return _Parser(source).pipeline()
