"""Reading corpora: files, folders, globs and URLs cut into partitions, and
the records of each under an error policy."""
