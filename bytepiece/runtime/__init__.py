"""What long runs stand on: engines (threads, processes, Dask), work
directories and their locks, atomic files, progress bars, memory, interrupts
and the optional dependencies."""
