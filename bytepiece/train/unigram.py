"""The unigram method: a vocabulary grown from pairs of tokens, then pruned
by loss, with counts re-estimated from the corpus' best paths (hard EM) in
every round (see docs/design.md, Training: the unigram method).

Each size asked for is trained on its own, so a size comes out the same
whatever other sizes are asked in the same run; the count of characters is
shared.

1. Seed: the 256 bytes, the characters (with ``ensure_unicode``; else every
   byte is one) and the most frequent pairs of adjacent characters. The
   alphabet, the most frequent characters reaching ``min_count`` (at most a
   quarter of the room above the bytes), is never pruned, as the bytes are:
   a character a text outside the corpus uses often costs its bytes
   otherwise. So are the lead prefixes (a character of three or four bytes
   but its last byte, where two characters or more share it; at most
   ``LEAD_SHARE`` of the room): a character that is no piece, one the
   corpus never holds among them, then costs two tokens, not three or four,
   as in byte-level BPE.
2. Growth rounds: the corpus is segmented by Viterbi with the vocabulary;
   pieces no best path uses go (bytes, the alphabet and the lead prefixes
   stay), and the most frequent pairs of adjacent tokens join as new pieces
   (at most half as many as there are pieces, up to ``growth`` times the
   size).
3. Pruning rounds: the corpus is segmented again (the counts of one hard EM
   step); the pieces of least loss go, at most a quarter per round, until
   the size is reached; one more round then gives its counts.

Until the size is reached, the best paths are those of a lattice with
``dropout`` of the edges of pieces of several characters left out (chosen
by a hash of the span's text): a piece that longer ones cover on the
training text keeps the count it earns where they are missing. The size's
own counts come from the whole lattice.

A round is one pass over the shards on the run's engine. The state after
each round is saved in the work directory, so a run started again goes on
from the last finished round.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..core.model import NUM_SPECIAL
from ..core.text import pack_bytes, unpack_bytes
from ..kernels import unigram as kernels
from ..kernels.ngrams import LEN_SHIFT, unpack
from .boundaries import crosses_boundary, crossing_mask
from .path_counts import count_chars, count_paths
from .settings import size_not_supported
from .unigram_loss import compile_pieces, lattice_scores, prune

SEED_PIECES = 4096  # the seed: bytes and characters, then pairs up to this many pieces (then the lead prefixes)
PRUNE_RATIO = 0.75  # a pruning round keeps at least this share of the pieces
ALPHABET_SHARE = 0.25  # the alphabet takes at most this share of the room above the bytes
LEAD_SHARE = 0.015  # lead prefixes take at most this share of the room above the bytes
MAX_GROWTH_ROUNDS = 24  # half-size rounds: 4096 pieces reach a million in 14
GROWTH_STEP = 0.5  # a growth round adds at most this share of the pieces
_UNLIMITED = 1 << 30


@dataclass
class State:
    """One size's vocabulary entering round ``round``: pieces and their
    estimated counts, and whether it still grows."""
    pieces: list
    counts: np.ndarray
    round: int = 0
    growing: bool = True

    def save(self, work, folder):
        data, bounds = pack_bytes(self.pieces)
        work.save(f'{folder}/state-{self.round:03d}.npz', data=data, bounds=bounds, counts=self.counts,
                  position=np.array([self.round, self.growing], np.int64))

    @classmethod
    def load(cls, work, folder):
        """The last saved state in ``folder``, or None."""
        names = [n for n in work.listdir(folder) if n.startswith('state-')]
        if not names:
            return None
        saved = work.load(f'{folder}/{names[-1]}')
        round_, growing = saved['position'].tolist()
        return cls(unpack_bytes(saved['data'], saved['bounds']), saved['counts'], round_, bool(growing))


@dataclass
class Alphabet:
    """The characters counted in the corpus (n-gram keys, by descending
    count) and which of them are whole characters that fit a piece."""
    keys: np.ndarray
    counts: np.ndarray
    is_char: np.ndarray

    def chars(self, size):
        """The alphabet of a vocabulary of ``size`` ids: its most frequent
        characters, at most ``ALPHABET_SHARE`` of the room above the bytes."""
        room = max(size - NUM_SPECIAL - 256, 0)
        chosen = np.flatnonzero(self.is_char)[:int(ALPHABET_SHARE * room)]
        return {unpack(k) for k in self.keys[chosen].tolist()}

    def lead_prefixes(self, size):
        """The lead prefixes of a vocabulary of ``size`` ids: the bytes but
        the last of the characters of three and four bytes, where two or more
        characters share them, by descending count (their characters' summed),
        at most ``LEAD_SHARE`` of the room above the bytes. With one, a
        character that is no piece costs two tokens, not three or four."""
        found = {}
        ids = np.flatnonzero(self.is_char)
        for key, count in zip(self.keys[ids].tolist(), self.counts[ids].tolist()):
            char = unpack(key)
            if len(char) >= 3:
                total, sharing = found.get(char[:-1], (0, 0))
                found[char[:-1]] = (total + count, sharing + 1)
        shared = sorted(((total, prefix) for prefix, (total, sharing) in found.items() if sharing > 1), reverse=True)
        room = max(size - NUM_SPECIAL - 256, 0)
        return [prefix for _, prefix in shared[:int(LEAD_SHARE * room)]]


def train_unigram(tasks, work, settings, shards, byte_counts, report):
    """Train every size on the prepared ``shards`` (whose bytes occur
    ``byte_counts`` times); one ``{piece: count}`` dict per size (largest
    first). Each round goes to ``report.rounds``; the sizes, rounds and
    counts an earlier run saved, to ``report.reused``."""
    sizes = settings.max_vocab_size
    missing = [size for size in sizes if not work.exists(f'unigram/size-{size}.npz')]
    report.reused.extend(f'size {size}' for size in sizes if size not in missing)
    if missing:  # a run resumed after its last size was saved counts nothing again
        if work.exists('unigram/chars/reduced.npz'):
            report.reused.append('character counts')
        alphabet = count_alphabet(tasks, work, settings, shards)
        for size in missing:
            state = State.load(work, f'unigram/{size}')
            if state is not None:
                report.reused.append(f'size {size} from round {state.round}')
            train_size(tasks, work, settings, shards, size, alphabet, byte_counts, report.rounds)
    work.remove('unigram/chars')
    results = []
    for size in sizes:
        saved = work.load(f'unigram/size-{size}.npz')
        pieces = unpack_bytes(saved['data'], saved['bounds'])
        results.append(dict(zip(pieces, saved['counts'].tolist())))
    return results


def train_size(tasks, work, settings, shards, size, alphabet, byte_counts, rounds):
    """The rounds of one size, from its last saved state (each appended to
    ``rounds``); saves the size."""
    folder = f'unigram/{size}'
    prefixes = alphabet.lead_prefixes(size)
    protected = alphabet.chars(size) | set(prefixes)
    state = State.load(work, folder)
    if state is None:
        state = seed(settings, size, alphabet, byte_counts, prefixes)
        state.save(work, folder)
    while state is not None:
        previous = state.round
        state = run_round(tasks, work, settings, shards, size, state, protected, rounds)
        if state is not None:
            state.save(work, folder)
        work.remove(f'{folder}/state-{previous:03d}.npz')
        work.remove(f'{folder}/round-{previous:03d}')


def count_alphabet(tasks, work, settings, shards):
    """The characters and character pairs of the corpus reaching
    ``min_count``, as an ``Alphabet``."""
    keys, counts = count_chars(tasks, work, settings, shards)
    lengths = (keys >> LEN_SHIFT).astype(np.int64)
    first = ((keys >> (8 * (lengths - 1)).astype(np.uint64)) & np.uint64(0xFF)).astype(np.int64)
    lead_length = np.select([first < 0xC0, first < 0xE0, first < 0xF0], [1, 2, 3], 4)
    is_char = (lengths == lead_length) if settings.ensure_unicode else np.zeros(keys.size, bool)
    fits = lengths <= min(settings.max_piece_length, _UNLIMITED)
    return Alphabet(keys[fits], counts[fits], is_char[fits])


def seed(settings, size, alphabet, byte_counts, prefixes):
    """The seed vocabulary of ``size``: bytes, the most frequent characters,
    the most frequent pairs of characters, with their counts, then the lead
    ``prefixes`` at ``min_count``: the first pass counts what they earn, and a
    larger count (their characters' sum) would make a prefix and a byte beat
    a rare character there."""
    largest = math.ceil(settings.growth * (size - NUM_SPECIAL))
    # beyond the bytes, the most frequent characters take at most half the
    # room, the seed at most half the room (growth needs the rest), and a
    # character left out stays its bytes
    half = max(largest - 256, 0) // 2
    chars = np.flatnonzero(alphabet.is_char)[:half]
    room = max(min(SEED_PIECES - 256, half) - chars.size, 0)
    pair_ids = np.flatnonzero(~alphabet.is_char)
    candidates = ((i, unpack(k)) for i, k in zip(pair_ids.tolist(), alphabet.keys[pair_ids].tolist()))
    pairs, _, _ = _take_within_share(candidates, room, _crossing_quota(settings, largest), set())
    chosen = np.sort(np.concatenate([chars, np.array(pairs, np.int64)]))
    pieces = [bytes([b]) for b in range(256)] + [unpack(k) for k in alphabet.keys[chosen].tolist()] + prefixes
    seed_counts = np.concatenate([byte_counts, alphabet.counts[chosen],
                                  np.full(len(prefixes), settings.min_count)]).astype(np.int64)
    return State(pieces, seed_counts)


def _crossing_quota(settings, size):
    """How many of ``size`` pieces may cross a pre-token boundary."""
    return math.floor(settings.boundary_share * size)


def _save_round_vocab(work, settings, state, round_dir, dropout):
    """The vocabulary the round's tasks segment with: the trie with scores
    of the counts, which pieces may pair, lengths, and which pieces dropout
    may leave out (those of several characters) with its threshold, by id."""
    if work.exists(f'{round_dir}/vocab.npz'):
        return
    trie, data, offsets = compile_pieces(state.pieces, lattice_scores(state.pieces, state.counts,
                                                                      settings.token_penalty, dropout))
    lengths = np.zeros(len(state.pieces) + NUM_SPECIAL, np.int64)
    lengths[NUM_SPECIAL:] = np.diff(offsets)
    pair_ok = np.zeros(lengths.size, bool)
    pair_ok[NUM_SPECIAL:] = kernels.whole_chars(data, offsets) if settings.ensure_unicode else True
    droppable = np.zeros(lengths.size, bool)
    droppable[NUM_SPECIAL:] = kernels.several_chars(data, offsets, settings.ensure_unicode)
    work.save(f'{round_dir}/vocab.npz', units=trie.units, unit_score=trie.unit_score,
              unit_token=trie.unit_token, pair_ok=pair_ok, lengths=lengths, droppable=droppable,
              drop_below=np.uint64(int(dropout * 2.0 ** 64)))


def run_round(tasks, work, settings, shards, size, state, protected, rounds):
    """One pass over the corpus with ``state``'s vocabulary (appended to
    ``rounds``); the state after it, or None when the size is saved.
    ``protected``: the pieces besides the bytes that are never dropped."""
    goal = size - NUM_SPECIAL
    round_dir = f'unigram/{size}/round-{state.round:03d}'
    n = len(state.pieces)
    _save_round_vocab(work, settings, state, round_dir, 0.0 if n == goal and not state.growing else settings.dropout)
    phase = 'grow' if state.growing else 'prune'
    max_length = min(settings.max_piece_length, _UNLIMITED) if state.growing else 0
    counts, score, keys, pair_counts = count_paths(tasks, work, shards, round_dir, max_length, settings.min_count,
                                                   f'{size}: round {state.round} ({phase}, {n} pieces)')
    counts = counts[NUM_SPECIAL:]
    rounds.append({'size': size, 'round': state.round, 'phase': phase, 'pieces': n,
                          'tokens': int(counts.sum()), 'objective': score})
    kept = np.fromiter((p in protected or len(p) == 1 for p in state.pieces), bool, n)
    if state.growing:
        target = math.ceil(settings.growth * goal)
        return grow(state, counts, keys, pair_counts, kept, crossing_mask(state.pieces), target, goal, settings)
    if n == goal:
        _save_size(work, size, state.pieces, counts)
        return None
    keep = max(goal, math.ceil(PRUNE_RATIO * n))
    pieces, new_counts = prune(state.pieces, counts, keep, settings.token_penalty, kept,
                               crossing_mask(state.pieces), _crossing_quota(settings, keep))
    return State(pieces, new_counts, state.round + 1, False)


def grow(state, counts, keys, pair_counts, kept, crossing, target, least, settings):
    """The pieces that best paths use (and the ``kept`` ones: bytes, the
    alphabet and the lead prefixes), with their counts, plus the most
    frequent pairs that are not pieces yet: half as many as there are pieces,
    up to ``target`` in all, those crossing a pre-token boundary
    (``crossing``, of the pieces) up to their share of ``target``.

    Growth ends at ``target``, after ``MAX_GROWTH_ROUNDS``, or when a round
    leaves the vocabulary no larger once it can give ``least`` pieces within
    the crossing share (then no piece is dropped, so pruning can reach the
    size). Raises ValueError when the pieces stay short of ``least``."""
    crossing_room = _crossing_quota(settings, target)
    quota = _crossing_quota(settings, least)
    before = _usable(crossing, quota)
    used = (counts > 0) | kept
    pieces, added, added_counts, grown = _add_pairs(state.pieces, used, crossing, keys, pair_counts, target,
                                                    crossing_room)
    stalled = _usable(grown, quota) <= before
    if _usable(grown, quota) < least <= before:  # dropping unused pieces would leave too few: keep them
        used[:] = True
        pieces, added, added_counts, grown = _add_pairs(state.pieces, used, crossing, keys, pair_counts, target,
                                                        crossing_room)
    size = _usable(grown, quota)
    last_round = state.round + 1 >= MAX_GROWTH_ROUNDS
    if size < least and (not added or last_round):
        raise ValueError(size_not_supported(size + NUM_SPECIAL, settings))
    growing = grown.size < target and not last_round and not (stalled and size >= least)
    return State(pieces + added, np.concatenate([counts[used], added_counts]), state.round + 1, growing)


def _usable(crossing, quota):
    """How many pieces of a vocabulary (given its crossing mask) a vocabulary
    may keep with at most ``quota`` crossing pieces."""
    return int((~crossing).sum()) + min(int(crossing.sum()), quota)


def _add_pairs(old_pieces, used, crossing, keys, pair_counts, target, crossing_room):
    """The ``used`` pieces, the pairs added to them (their pieces and
    counts) and the crossing mask of the whole."""
    pieces = [p for p, u in zip(old_pieces, used.tolist()) if u]
    room = min(math.ceil(GROWTH_STEP * len(pieces)), target - len(pieces))
    chosen, added, added_crossing = _take_within_share(_pair_pieces(keys, old_pieces), room,
                                                       crossing_room - int(crossing[used].sum()), set(pieces))
    grown = np.concatenate([crossing[used], np.array(added_crossing, bool)])
    return pieces, added, pair_counts[np.array(chosen, np.int64)].astype(np.int64), grown


def _pair_pieces(keys, pieces, batch=4096):
    """``(index, piece)`` of each pair key (ids ``left << 32 | right``), in
    order, made a batch at a time: a round reads only the first few of
    millions."""
    for start in range(0, keys.size, batch):
        part = keys[start:start + batch]
        left = ((part >> kernels.PAIR_SHIFT).astype(np.int64) - NUM_SPECIAL).tolist()
        right = ((part & np.uint64(0xFFFFFFFF)).astype(np.int64) - NUM_SPECIAL).tolist()
        for i, (a, b) in enumerate(zip(left, right), start):
            yield i, pieces[a] + pieces[b]


def _take_within_share(candidates, room, crossing_room, known):
    """Of ``candidates`` (index, piece), in order, the first ``room`` not in
    ``known`` (which they join), those crossing a pre-token boundary up to
    ``crossing_room``: their indices, pieces and whether each crosses."""
    chosen, pieces, crossing = [], [], []
    for i, piece in candidates:
        if len(pieces) >= room:
            break
        if piece in known:
            continue
        known.add(piece)
        crosses = crosses_boundary(piece)
        if crosses:
            if crossing_room <= 0:
                continue
            crossing_room -= 1
        chosen.append(i)
        pieces.append(piece)
        crossing.append(crosses)
    return chosen, pieces, crossing


def _save_size(work, size, pieces, counts):
    """A finished size: its pieces with their counts (an unused piece counts 1)."""
    data, bounds = pack_bytes(pieces)
    work.save(f'unigram/size-{size}.npz', data=data, bounds=bounds, counts=np.maximum(counts, 1))
