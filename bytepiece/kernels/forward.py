"""Forward statistics of the segmentation lattice: log partition function and entropy."""

import math

import numpy as np
from numba import njit

from .lattice import logaddexp


@njit(cache=True, nogil=True)
def forward_stats(buf, bounds, trie, alpha, lone_ok):
    """``(log Z, entropy)`` of the segmentation distribution
    p(seg) = exp(alpha * score(seg)) / Z, summed over the independent spans;
    a one-byte edge ending after byte ``k`` is left out where ``lone_ok``
    (empty: all allowed) is False at ``k``."""
    units, unit_score, unit_token = trie
    root_base = units[0]
    n = buf.size
    logz = np.empty(n + 1, np.float64)
    mean = np.empty(n + 1, np.float64)  # E[score of the path to e] under p
    total_logz = 0.0
    total_entropy = 0.0
    for i in range(bounds.size - 1):
        a = bounds[i]
        b = bounds[i + 1]
        if a == b:
            continue
        logz[a] = 0.0
        mean[a] = 0.0
        for e in range(a + 1, b + 1):
            node = root_base + buf[e - 1]
            acc_logz = logz[e - 1] + alpha * unit_score[node]
            acc_mean = mean[e - 1] + unit_score[node]
            if lone_ok.size and not lone_ok[e - 1]:
                acc_logz = -np.inf
                acc_mean = 0.0
            for k in range(e - 2, a - 1, -1):
                child = units[2 * node] + buf[k]
                if units[2 * child + 1] != node:
                    break
                node = child
                if unit_token[node] < 0:
                    continue
                score = unit_score[node]
                w = logz[k] + alpha * score
                new = logaddexp(acc_logz, w)
                acc_mean = acc_mean * math.exp(acc_logz - new) + math.exp(w - new) * (mean[k] + score)
                acc_logz = new
            logz[e] = acc_logz
            mean[e] = acc_mean
        total_logz += logz[b]
        total_entropy += logz[b] - alpha * mean[b]
    return total_logz, total_entropy
