"""The unigram method: a vocabulary grown from pairs of tokens, then pruned
by loss, with counts re-estimated from the corpus' best paths (hard EM) in
every round (see docs/design.md, Training: the unigram method).

1. Seed: the 256 bytes, the characters (with ``ensure_unicode``; else every
   byte is one) and the most frequent pairs of adjacent characters.
2. Growth rounds: the corpus is segmented by Viterbi with the vocabulary;
   pieces no best path uses go (single bytes stay), and the most frequent
   pairs of adjacent tokens join as new pieces (at most as many as there are
   pieces, up to ``growth`` times the largest size).
3. Pruning rounds: the corpus is segmented again (the counts of one hard EM
   step); the pieces of least loss go, at most a quarter per round, until
   the next size is reached; one more round then gives that size's counts.

A round is one pass over the shards on the run's engine. The state after
each round is saved in the work directory, so a run started again goes on
from the last finished round.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..kernels import unigram as kernels
from ..kernels.ngrams import LEN_SHIFT, unpack
from ..model import NUM_SPECIAL
from ..text import pack_bytes
from .path_counts import count_chars, count_paths
from .unigram_loss import compile_pieces, prune, scores

SEED_PIECES = 4096  # the seed: bytes and characters, then pairs up to this many pieces
PRUNE_RATIO = 0.75  # a pruning round keeps at least this share of the pieces
EM_PASSES = 2  # passes with one vocabulary before it is pruned or saved
MAX_GROWTH_ROUNDS = 16
_UNLIMITED = 1 << 30


@dataclass
class State:
    """The vocabulary entering round ``round``: pieces and their estimated
    counts; whether it still grows; the index of the next size to reach."""
    pieces: list
    counts: np.ndarray
    round: int = 0
    growing: bool = True
    next_size: int = 0
    passes: int = 0  # passes already made with this vocabulary

    def save(self, work):
        data, bounds = pack_bytes(self.pieces)
        work.save(f'unigram/state-{self.round:03d}.npz', data=data, bounds=bounds, counts=self.counts,
                  position=np.array([self.round, self.growing, self.next_size, self.passes], np.int64))

    @classmethod
    def load(cls, work):
        """The last saved state, or None."""
        names = [n for n in work.listdir('unigram') if n.startswith('state-')]
        if not names:
            return None
        saved = work.load(f'unigram/{names[-1]}')
        data, bounds = saved['data'], saved['bounds']
        pieces = [data[s:e].tobytes() for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
        round_, growing, next_size, passes = saved['position'].tolist()
        return cls(pieces, saved['counts'], round_, bool(growing), next_size, passes)


def train_unigram(run, shards):
    """Train on the prepared ``shards``; one ``{piece: count}`` dict per size
    (largest first)."""
    work, sizes = run.work, run.settings.max_vocab_size
    state = State.load(work)
    if state is None:
        state = seed(run, shards)
        state.save(work)
        work.remove('unigram/chars')
    while state.next_size < len(sizes):
        previous = state.round
        state = run_round(run, shards, state)
        state.save(work)
        work.remove(f'unigram/state-{previous:03d}.npz')
        work.remove(f'unigram/round-{previous:03d}')
    results = []
    for size in sizes:
        saved = work.load(f'unigram/size-{size}.npz')
        data, bounds = saved['data'], saved['bounds']
        results.append({data[s:e].tobytes(): c for s, e, c in
                        zip(bounds[:-1].tolist(), bounds[1:].tolist(), saved['counts'].tolist())})
    return results


def seed(run, shards):
    """The seed vocabulary: bytes, the most frequent characters, then the
    most frequent pairs of characters, with their counts."""
    settings = run.settings
    keys, counts = count_chars(run, shards)
    lengths = (keys >> LEN_SHIFT).astype(np.int64)
    first = ((keys >> (8 * (lengths - 1)).astype(np.uint64)) & np.uint64(0xFF)).astype(np.int64)
    lead_length = np.select([first < 0xC0, first < 0xE0, first < 0xF0], [1, 2, 3], 4)
    is_char = (lengths == lead_length) if settings.ensure_unicode else np.zeros(keys.size, bool)
    fits = lengths <= min(settings.max_piece_length, _UNLIMITED)
    largest = math.ceil(settings.growth * (settings.max_vocab_size[0] - NUM_SPECIAL))
    # beyond the bytes, the most frequent characters take at most half the
    # room, the seed at most half the room (growth needs the rest), and a
    # character left out stays its bytes
    half = max(largest - 256, 0) // 2
    chars = np.flatnonzero(is_char & fits)[:half]
    room = max(min(SEED_PIECES - 256, half) - chars.size, 0)
    pairs = np.flatnonzero(~is_char & fits)[:room]
    chosen = np.sort(np.concatenate([chars, pairs]))
    byte_counts = run.byte_counts()
    pieces = [bytes([b]) for b in range(256)] + [unpack(k) for k in keys[chosen].tolist()]
    seed_counts = np.concatenate([byte_counts, counts[chosen]]).astype(np.int64)
    return State(pieces, seed_counts)


def _save_round_vocab(run, state, round_dir):
    """The vocabulary the round's tasks segment with: the trie with scores
    of the counts, which pieces may pair, and lengths, by id."""
    if run.work.exists(f'{round_dir}/vocab.npz'):
        return
    trie, data, offsets = compile_pieces(state.pieces, scores(state.counts, run.settings.token_penalty))
    lengths = np.zeros(len(state.pieces) + NUM_SPECIAL, np.int64)
    lengths[NUM_SPECIAL:] = np.diff(offsets)
    pair_ok = np.zeros(lengths.size, bool)
    pair_ok[NUM_SPECIAL:] = kernels.whole_chars(data, offsets) if run.settings.ensure_unicode else True
    run.work.save(f'{round_dir}/vocab.npz', units=trie.units, unit_score=trie.unit_score,
                  unit_token=trie.unit_token, pair_ok=pair_ok, lengths=lengths)


def run_round(run, shards, state):
    """One pass over the corpus with ``state``'s vocabulary; the state after it."""
    settings, report = run.settings, run.report
    sizes = settings.max_vocab_size
    round_dir = f'unigram/round-{state.round:03d}'
    _save_round_vocab(run, state, round_dir)
    n = len(state.pieces)
    phase = 'grow' if state.growing else 'prune'
    max_length = min(settings.max_piece_length, _UNLIMITED) if state.growing else 0
    counts, score, keys, pair_counts = count_paths(run, shards, round_dir, max_length,
                                                   f'Round {state.round} ({phase}, {n} pieces)')
    counts = counts[NUM_SPECIAL:]
    report.rounds.append({'round': state.round, 'phase': phase, 'pieces': n, 'tokens': int(counts.sum()),
                          'objective': score})
    if state.growing:
        target = math.ceil(settings.growth * (sizes[0] - NUM_SPECIAL))
        return grow(state, counts, keys, pair_counts, target, sizes[0] - NUM_SPECIAL, settings.min_count)
    goal = sizes[state.next_size] - NUM_SPECIAL
    next_size = state.next_size
    if state.passes + 1 < EM_PASSES:
        return State(state.pieces, counts, state.round + 1, False, next_size, state.passes + 1)
    if n == goal:
        _save_size(run.work, sizes[next_size], state.pieces, counts)
        next_size += 1
        if next_size == len(sizes):
            return State(state.pieces, counts, state.round + 1, False, next_size)
        goal = sizes[next_size] - NUM_SPECIAL
    keep = max(goal, math.ceil(PRUNE_RATIO * n))
    pieces, new_counts = prune(state.pieces, counts, keep, settings.token_penalty)
    return State(pieces, new_counts, state.round + 1, False, next_size)


def grow(state, counts, keys, pair_counts, target, least, min_count):
    """The pieces that best paths use (and the single bytes), with their
    counts, plus the most frequent pairs that are not pieces yet: as many as
    there are pieces, up to ``target`` in all. Raises ValueError when no pair
    is left before ``least`` pieces."""
    used = (counts > 0) | (np.fromiter(map(len, state.pieces), np.int64, len(state.pieces)) == 1)
    pieces = [p for p, u in zip(state.pieces, used.tolist()) if u]
    counts = counts[used]
    room = min(len(pieces), target - len(pieces))
    known = set(pieces)
    added, added_counts = [], []
    left = (keys >> np.uint64(32)).astype(np.int64) - NUM_SPECIAL
    right = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64) - NUM_SPECIAL
    for a, b, c in zip(left.tolist(), right.tolist(), pair_counts.tolist()):
        if len(added) >= room:
            break
        piece = state.pieces[a] + state.pieces[b]
        if piece not in known:
            known.add(piece)
            added.append(piece)
            added_counts.append(c)
    size = len(pieces) + len(added)
    if size < least and not added:
        raise ValueError(f'the corpus supports only {size + NUM_SPECIAL} ids ({size} pieces) with '
                         f'min_count={min_count} and this max_piece_length: ask for a smaller '
                         f'max_vocab_size, lower min_count or train on more text')
    growing = size < target and (state.round + 1 < MAX_GROWTH_ROUNDS or size < least)
    return State(pieces + added, np.concatenate([counts, np.array(added_counts, np.int64)]), state.round + 1,
                 growing, 0)


def _save_size(work, size, pieces, counts):
    """A finished size: its pieces with their counts (an unused piece counts 1)."""
    data, bounds = pack_bytes(pieces)
    work.save(f'unigram/size-{size}.npz', data=data, bounds=bounds, counts=np.maximum(counts, 1))
