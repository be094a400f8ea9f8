"""The progress bar of ``encode_files``: input bytes, with tokens per second."""

import sys
import threading
import time


class Progress:
    """A bar over the input bytes of ``parts`` (its total when every part is
    an uncompressed text or JSON-lines range, whose size is its bytes), or
    nothing when ``enabled`` is false. ``update`` may be called from any
    thread."""

    def __init__(self, parts, enabled):
        self._lock = threading.Lock()
        self._tokens = 0
        self._start = time.time()
        self._bar = None
        if enabled:
            from tqdm import tqdm
            exact = all(p.compression is None and p.format != 'parquet' for p in parts)
            self._bar = tqdm(total=sum(p.size for p in parts) if exact else None, desc='encode', unit='B',
                             unit_scale=True, file=sys.stderr)

    def update(self, input_bytes, tokens):
        if self._bar is None:
            return
        with self._lock:
            self._tokens += tokens
            rate = self._tokens / max(time.time() - self._start, 1e-9)
            self._bar.set_postfix_str(f'{rate / 1e6:.2f} M tokens/s', refresh=False)
            self._bar.update(input_bytes)

    def close(self):
        if self._bar is not None:
            self._bar.close()
