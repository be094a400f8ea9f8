"""Models written for other libraries: Hugging Face tokenizers and
SentencePiece."""
