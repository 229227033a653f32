"""A small parser for RFC 8941 Dictionaries, enough for `Signature-Input`, `Signature` and
`Content-Digest`. Each member keeps its raw text too: RFC 9421 signs the `Signature-Input` member
exactly as sent, so re-serialising a parsed value could change what was signed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from licenseserver_client._encoding import b64_decode

BareItem = int | str | bytes | bool  # a Token is a str subclass
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")


class Token(str):
    """An RFC 8941 token, told apart from a string."""


@dataclass
class Member:
    value: BareItem | list[tuple[BareItem, dict[str, BareItem]]]
    params: dict[str, BareItem] = field(default_factory=dict)
    raw: str = ""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.pos += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at {self.pos}")
        self.pos += 1

    def match(self, pattern: re.Pattern[str]) -> str:
        found = pattern.match(self.text, self.pos)
        if not found:
            raise ValueError(f"unexpected text at {self.pos}")
        self.pos = found.end()
        return found.group()

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == ":":
            end = self.text.find(":", self.pos + 1)
            if end < 0:
                raise ValueError("unterminated byte sequence")
            data = b64_decode(self.text[self.pos + 1 : end])
            self.pos = end + 1
            return data
        if char == "?":
            self.pos += 1
            return {"1": True, "0": False}[self.match(re.compile(r"[01]"))]
        if char == "-" or char.isdigit():
            return int(self.match(_INTEGER))
        return Token(self.match(_TOKEN))

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            char = self.peek()
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\") or not escaped:
                    raise ValueError("bad escape in string")
                out.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not char or not (" " <= char <= "~"):
                raise ValueError("bad character in string")
            else:
                out.append(char)

    def params(self) -> dict[str, BareItem]:
        params: dict[str, BareItem] = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.match(_KEY)
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[key] = value
        return params

    def inner_list(self) -> list[tuple[BareItem, dict[str, BareItem]]]:
        self.expect("(")
        items: list[tuple[BareItem, dict[str, BareItem]]] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return items
            items.append((self.bare_item(), self.params()))
            if self.peek() not in (" ", ")"):
                raise ValueError("bad inner list")


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse a Dictionary field value; ValueError on anything RFC 8941 does not allow."""
    parser = _Parser(text.strip(" \t"))
    members: dict[str, Member] = {}
    while parser.peek():
        key = parser.match(_KEY)
        start = parser.pos + 1
        if parser.peek() == "=":
            parser.pos += 1
            value: BareItem | list[tuple[BareItem, dict[str, BareItem]]]
            value = parser.inner_list() if parser.peek() == "(" else parser.bare_item()
        else:
            start, value = parser.pos, True
        params = parser.params()
        members[key] = Member(value, params, parser.text[start : parser.pos])
        parser.skip(" \t")
        if parser.peek():
            parser.expect(",")
            parser.skip(" \t")
            if not parser.peek():
                raise ValueError("trailing comma")
    return members
