"""The n-gram drafter: the continuation of the longest recent match, kept across replies."""

from __future__ import annotations

import random
import time

from starling_tui.engine.worker.drafter import NO_DRAFT, NgramDrafter


def drafter_of(tokens: list[int]) -> NgramDrafter:
    drafter = NgramDrafter()
    drafter.start(tokens)
    return drafter


def test_no_earlier_occurrence_gives_no_draft() -> None:
    assert drafter_of([1, 2, 3, 4, 5]).propose(8) == NO_DRAFT
    assert drafter_of([7]).propose(8) == NO_DRAFT
    assert drafter_of([]).propose(8) == NO_DRAFT


def test_the_continuation_of_a_match_is_proposed_with_its_length() -> None:
    drafter = drafter_of([9, 1, 2, 3, 4, 5, 6, 0, 2, 3])
    draft = drafter.propose(3)
    assert draft.tokens == (4, 5, 6)
    assert draft.match == 2  # "2 3"; the token before differs (1 against 0)


def test_the_longest_match_wins_over_a_more_recent_shorter_one() -> None:
    # "1 2 3" then 10 ... later "7 2 3" then 20 ...; the end is "1 2 3": the older match is longer
    drafter = drafter_of([1, 2, 3, 10, 11, 7, 2, 3, 20, 21, 8, 1, 2, 3])
    draft = drafter.propose(2)
    assert draft.tokens == (10, 11) and draft.match == 3


def test_among_equal_matches_the_most_recent_wins() -> None:
    drafter = drafter_of([5, 6, 10, 11, 5, 6, 20, 21, 5, 6])
    draft = drafter.propose(2)
    assert draft.tokens == (20, 21) and draft.match == 2


def test_a_long_match_is_found_through_the_long_index_even_among_many_short_ones() -> None:
    file = list(range(100, 140))
    noise = [108, 109, 7] * 30  # the two tokens the text ends with, recent and often
    drafter = drafter_of([*file, *noise, *file[:10]])
    draft = drafter.propose(5)
    assert draft.tokens == tuple(file[10:15])
    assert draft.match == 10


def test_the_limit_caps_the_draft_and_the_text_end_ends_it() -> None:
    drafter = drafter_of([1, 2, 3, 4, 1, 2])
    assert drafter.propose(1).tokens == (3,)
    assert drafter.propose(0) == NO_DRAFT
    # the continuation runs up to the end of the text (here into the match itself)
    assert drafter.propose(10).tokens == (3, 4, 1, 2)


def test_appended_tokens_extend_the_match() -> None:
    drafter = drafter_of([1, 2, 3, 4, 5, 6, 0])
    drafter.append(2)
    drafter.append(3)
    assert drafter.propose(2).tokens == (4, 5)
    drafter.append(4)
    assert drafter.propose(2).tokens == (5, 6)


def test_start_keeps_the_shared_prefix_and_reindexes_the_rest() -> None:
    rng = random.Random(1)
    first = [rng.randrange(50) for _ in range(300)]
    second = first[:200] + [rng.randrange(50) for _ in range(150)]
    drafter = drafter_of(first)
    drafter.start(second)
    fresh = drafter_of(second)
    assert drafter.tokens == fresh.tokens
    assert drafter._ends == fresh._ends
    for limit in (1, 4):
        assert drafter.propose(limit) == fresh.propose(limit)


def test_truncate_then_extend_equals_a_fresh_index() -> None:
    rng = random.Random(2)
    tokens = [rng.randrange(20) for _ in range(500)]
    drafter = drafter_of(tokens)
    drafter.truncate(123)
    drafter.extend(tokens[123:])
    assert drafter._ends == drafter_of(tokens)._ends
    drafter.truncate(0)
    assert drafter.tokens == [] and all(not ends for ends in drafter._ends.values())


def test_drafting_costs_microseconds_per_token() -> None:
    rng = random.Random(3)
    vocab = [rng.randrange(32000) for _ in range(400)]
    tokens = [rng.choice(vocab) for _ in range(20000)]  # a repetitive 20k-token conversation
    drafter = drafter_of(tokens[:10000])
    start = time.perf_counter()
    for token in tokens[10000:]:
        drafter.append(token)
        drafter.propose(16)
    per_token = (time.perf_counter() - start) / 10000
    assert per_token < 200e-6, f"{per_token * 1e6:.1f} us per token"
