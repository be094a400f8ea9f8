"""Reading ahead: an iterator's next items made on a thread of their own."""

import queue
import threading

_END = object()


def prefetch(items, depth=1):
    """Yield the items of the iterable ``items``, which a reading thread takes
    up to ``depth`` ahead (decompressing and parsing overlap the caller's
    work). An error of the reader is raised here, in order; stopping early
    stops the reader."""
    ahead = queue.Queue(depth)
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ahead.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put((_END, None))
        except BaseException as e:  # handed to the caller, raised there
            ahead.put((_END, e))

    reader = threading.Thread(target=produce, daemon=True, name='bytepiece-prefetch')
    reader.start()
    try:
        while True:
            item, error = ahead.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        reader.join()
