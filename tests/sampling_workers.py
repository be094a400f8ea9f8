"""Worker-side code for tests/test_workers.py: a module of its own, light to
import, so that spawned processes and DataLoader workers can find it."""

import os
import warnings

from bytepiece import Tokenizer

try:
    from torch.utils.data import Dataset, IterableDataset, get_worker_info
except ImportError:  # the DataLoader tests skip; the process tests need none of this
    Dataset = IterableDataset = object
    get_worker_info = None

ALPHA = 0.1
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bytepiece', 'data', 'sample')
MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'bytepiece.eu.plus.80k.zip')


def sample_texts(n=1000):
    """``n`` lines of 8+ characters, Chinese poems and English prose alternating."""
    sources = []
    for name in ('tang300.txt', 'python-tutorial.rst'):
        with open(os.path.join(SAMPLE, name), encoding='utf-8') as f:
            sources.append([line.strip() for line in f if len(line.strip()) >= 8])
    return [sources[i % 2][i // 2] for i in range(n)]


def tokenizer(seed=None):
    return Tokenizer(MODEL, seed=seed)


def draws(tok, texts, example_key=None, first_index=0):
    """One draw per text: from the tokenizer's stream, or with the seed
    ``example_key + (index,)``."""
    if example_key is None:
        return [tuple(tok.encode(t, alpha=ALPHA)) for t in texts]
    return [tuple(tok.encode(t, alpha=ALPHA, seed=example_key + (first_index + i,))) for i, t in enumerate(texts)]


def draw_job(queue, name, tok, texts, reseed=None, example_key=None, first_index=0):
    """A worker process: ``reseed``, if given, is ``(seed, worker)`` for
    ``set_seed``. Puts ``(name, draws, warning messages)`` on ``queue``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        if reseed is not None:
            tok.set_seed(reseed[0], worker=reseed[1])
        result = draws(tok, texts, example_key, first_index)
    queue.put((name, result, [str(w.message) for w in caught]))


def as_list(batch):
    """A DataLoader collate_fn that keeps the items as they are."""
    return batch


class TextDraws(Dataset):
    """Map-style: item ``i`` is ``(worker id, draw of text i % len(texts))``;
    with ``batch_size=len(texts)`` and two workers, each worker draws every
    text once per epoch."""

    def __init__(self, tok, texts, copies=2):
        self.tok = tok
        self.texts = texts
        self.copies = copies

    def __len__(self):
        return len(self.texts) * self.copies

    def __getitem__(self, index):
        return get_worker_info().id, tuple(self.tok.encode(self.texts[index % len(self.texts)], alpha=ALPHA))


class TextDrawStream(IterableDataset):
    """Iterable: every worker draws every text, ``(worker id, draw)``."""

    def __init__(self, tok, texts):
        self.tok = tok
        self.texts = texts

    def __iter__(self):
        worker = get_worker_info().id
        for text in self.texts:
            yield worker, tuple(self.tok.encode(text, alpha=ALPHA))
