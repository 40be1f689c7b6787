"""Redaction of evaluators' free text before it reaches a coaching page.

Comments are shown verbatim, except what an employee must never read on their page: phone
numbers, e-mail addresses, customers' references and other employees' names. Escaping against
HTML is the templates' job (autoescape); this module only removes people's data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

# A phone number: 8+ digits, possibly grouped by spaces, dots or dashes, optional +33 / (0).
_PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[\s.\-]?)?(?:\(0\)[\s.\-]?)?\d(?:[\s.\-]?\d){7,}(?![\w])")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_WORD = re.compile(r"\w+", re.UNICODE)
_DIGIT = re.compile(r"\d")
MASK = "[…]"


@lru_cache(maxsize=200_000)
def _fold(text: str) -> str:
    """Case- and accent-insensitive form of a word, so 'Élodie' matches 'elodie'."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass
class Redactor:
    """Removes phone numbers, e-mails, given references and people's names from free text."""

    names: Iterable[str] = ()
    _first: set[str] = field(default_factory=set, repr=False)
    _names: dict[tuple[str, ...], None] = field(default_factory=dict, repr=False)
    _longest: int = field(default=1, repr=False)
    _done: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = field(default_factory=dict, repr=False)
    _scrubbed: dict[str, tuple[str, bool]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in self.names:
            words = tuple(_fold(w) for w in _WORD.findall(name))
            if words:
                self._names[words] = None
                self._first.add(words[0])
                self._longest = max(self._longest, len(words))

    def clean(self, text: str, references: Iterable[str] = (), keep: Iterable[str] = ()) -> str:
        """`text` without phone numbers, e-mails, the `references` and the known names.

        Names in `keep` (the page's own employee) stay: their own name is not someone else's.
        Results are remembered: both languages of a page, and repeated phrases, cost one pass.
        """
        key = (text, tuple(references), tuple(keep))
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._clean(text, key[1], key[2])
        return found

    def _clean(self, text: str, references: tuple[str, ...], keep: tuple[str, ...]) -> str:
        for reference in references:
            if reference and len(reference) >= 3 and reference.casefold() in text.casefold():
                text = re.sub(re.escape(reference), MASK, text, flags=re.IGNORECASE)
        # What follows depends on the text alone (and `keep` for names): the same phrase on many
        # employees' pages is scrubbed and searched for names once.
        scrubbed = self._scrubbed.get(text)
        if scrubbed is None:
            cleaned = text
            if "@" in cleaned:
                cleaned = _EMAIL.sub(MASK, cleaned)
            if _DIGIT.search(cleaned):
                cleaned = _PHONE.sub(MASK, cleaned)
            scrubbed = self._scrubbed[text] = (cleaned, bool(self._names) and self._mentions_a_name(cleaned))
        text, mentions = scrubbed
        if mentions:
            text = self._without_names(text, {tuple(_fold(w) for w in _WORD.findall(k)) for k in keep})
        return text

    def _mentions_a_name(self, text: str) -> bool:
        """Whether a word of `text` is the first word of a known name (most comments name nobody)."""
        return not self._first.isdisjoint(map(_fold, _WORD.findall(text)))

    def _without_names(self, text: str, keep: set[tuple[str, ...]]) -> str:
        words = list(_WORD.finditer(text))
        folded = [_fold(m.group()) for m in words]
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(words):
            matched = 0
            if folded[i] in self._first:
                for size in range(min(self._longest, len(words) - i), 0, -1):
                    candidate = tuple(folded[i : i + size])
                    if candidate in self._names and candidate not in keep:
                        matched = size
                        break
            if matched:
                spans.append((words[i].start(), words[i + matched - 1].end()))
                i += matched
            else:
                i += 1
        for start, end in reversed(spans):
            text = text[:start] + MASK + text[end:]
        return text
