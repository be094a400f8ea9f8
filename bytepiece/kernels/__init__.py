"""Numba kernels: pure functions over numpy arrays, apart from the Python API."""
