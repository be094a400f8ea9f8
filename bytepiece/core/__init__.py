"""The encoding core: the vocabulary and its pieces, special tokens, text to
bytes, the encode pipeline, seeds and lattice statistics, model files."""
