"""Draft tokens from the conversation itself: the continuation of its longest recent match.

Chat replies often repeat what the conversation already holds: a code edit returns most of the
file, a summary quotes sentences, a follow-up rewrites the previous answer. The drafter keeps
the conversation's tokens (earlier turns left out of the window, the prompt, then the reply as
it is decided) and an index of where each short run of tokens ended. To draft, it looks up
the last few tokens, measures how far back each recent earlier occurrence agrees with the end
of the text (the *match*), and proposes what followed the longest one (the most recent among
equals). The match length is what the cost model (:mod:`.draft_cost`) judges a draft by.

Three indexes (runs of 2, 4 and 8 tokens) are searched longest first, so a long match anywhere
in the conversation beats a short one nearby, and only the few most recent occurrences of a
run are compared. Appending a token costs three dictionary updates and drafting a handful of
comparisons: microseconds, next to milliseconds for a decode step. The drafter persists across
replies of a session: :meth:`NgramDrafter.start` keeps the index of what the new conversation
shares with the old one from its start and indexes only the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

KEY_LENGTHS = (8, 4, 2)  # index run lengths, searched longest first
MAX_MATCH = 32  # a match is measured back this far at most
CANDIDATES = 8  # most recent earlier occurrences compared per run length


@dataclass(frozen=True)
class Draft:
    """Proposed next tokens and the length of the match they continue (0: no match)."""

    match: int = 0
    tokens: tuple[int, ...] = field(default_factory=tuple)


NO_DRAFT = Draft()


class Drafter(Protocol):
    """What the reply loop asks of a drafter (the n-gram drafter, or a test's script)."""

    def start(self, context: Sequence[int]) -> None:
        """Begin a reply whose text so far is ``context`` (earlier turns and the prompt)."""
        ...

    def append(self, token: int) -> None:
        """The reply's next token was decided (drafts that were rejected never come here)."""
        ...

    def propose(self, limit: int) -> Draft:
        """Up to ``limit`` tokens that may come next, and the match they continue."""
        ...


class NgramDrafter:
    """The conversation's tokens and, per run length, where each run of tokens ended."""

    def __init__(self, key_lengths: Sequence[int] = KEY_LENGTHS, max_match: int = MAX_MATCH,
                 candidates: int = CANDIDATES) -> None:
        self.key_lengths = tuple(sorted(key_lengths, reverse=True))
        self.max_match = max_match
        self.candidates = candidates
        self.tokens: list[int] = []
        # one index per run length: the run's tokens -> indexes where it ended, increasing
        self._ends: dict[int, dict[tuple[int, ...], list[int]]] = {
            n: {} for n in self.key_lengths}

    def start(self, context: Sequence[int]) -> None:
        """Hold ``context`` next: keep what it shares with the tokens held, index the rest."""
        shared = 0
        for held, new in zip(self.tokens, context, strict=False):
            if held != new:
                break
            shared += 1
        self.truncate(shared)
        self.extend(context[shared:])

    def extend(self, tokens: Sequence[int]) -> None:
        """Append and index ``tokens``."""
        for token in tokens:
            self.append(token)

    def append(self, token: int) -> None:
        """Append and index one token."""
        tokens = self.tokens
        tokens.append(token)
        end = len(tokens) - 1
        for n, ends in self._ends.items():
            if end + 1 >= n:
                key = tuple(tokens[end + 1 - n:])
                found = ends.get(key)
                if found is None:
                    ends[key] = [end]
                else:
                    found.append(end)

    def truncate(self, n: int) -> None:
        """Forget the tokens from index ``n`` on (the newest are last in every list)."""
        tokens = self.tokens
        for end in range(len(tokens) - 1, n - 1, -1):
            for length, ends in self._ends.items():
                if end + 1 >= length:
                    key = tuple(tokens[end + 1 - length:end + 1])
                    found = ends[key]
                    found.pop()
                    if not found:
                        del ends[key]
        del tokens[n:]

    def propose(self, limit: int) -> Draft:
        """What followed the longest recent match of the end of the text (at most ``limit``
        tokens); :data:`NO_DRAFT` when the last tokens occurred nowhere before."""
        tokens = self.tokens
        end = len(tokens) - 1
        if limit <= 0:
            return NO_DRAFT
        for n in self.key_lengths:
            if end + 1 < n:
                continue
            found = self._ends[n].get(tuple(tokens[end + 1 - n:]))
            if found is None or len(found) < 2:
                continue
            best, best_at = 0, -1
            # found[-1] is the end itself; earlier occurrences, most recent first
            for at in reversed(found[-1 - self.candidates:-1]):
                match = self._match(at, end, n)
                if match > best:
                    best, best_at = match, at
            return Draft(best, tuple(tokens[best_at + 1:best_at + 1 + limit]))
        return NO_DRAFT

    def _match(self, at: int, end: int, known: int) -> int:
        """How many tokens ending at ``at`` equal those ending at ``end`` (``known`` do)."""
        tokens = self.tokens
        match, most = known, min(self.max_match, at + 1)
        while match < most and tokens[at - match] == tokens[end - match]:
            match += 1
        return match
