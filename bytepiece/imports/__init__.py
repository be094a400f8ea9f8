"""Reading other libraries' unigram models."""
