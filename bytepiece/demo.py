"""The main job end to end on the bundled sample corpus: train a vocabulary,
then encode, decode and sample with it.

    python -m bytepiece.demo [--vocab-size 8000] [--out bytepiece-demo.model]

The sample corpus (``bytepiece/data/sample``): classical Chinese poems (public
domain), the Python tutorial sources and a few standard-library modules (PSF
licence).
"""

import argparse
import os
import sys

from .tokenizer import Tokenizer
from .train import Trainer

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'sample')

EXAMPLES = [
    '床前明月光，疑是地上霜。举头望明月，低头思故乡。',
    'Python is an easy to learn, powerful programming language.',
    'def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n',
]


def show(pieces):
    """Pieces as text; a piece that is not whole UTF-8 is shown as its bytes."""
    out = []
    for p in pieces:
        try:
            out.append(p.decode('utf-8'))
        except UnicodeDecodeError:
            out.append(''.join(f'<{b:02x}>' for b in p))
    return out


def sample_files():
    return sorted(os.path.join(SAMPLE_DIR, name) for name in os.listdir(SAMPLE_DIR) if not name.startswith('.'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--vocab-size', type=int, default=8000)
    parser.add_argument('--min-count', type=int, default=4)
    parser.add_argument('--out', default='bytepiece-demo.model', help='where the trained model is written')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)

    files = sample_files()
    size = sum(os.path.getsize(f) for f in files) / 1e6
    print(f'training on {len(files)} sample files ({size:.2f} MB): {", ".join(map(os.path.basename, files))}')
    trainer = Trainer(max_vocab_size=args.vocab_size, min_count=args.min_count)  # the unigram method
    # a paragraph a document: the code keeps its line breaks and indentation
    report = trainer.train(files=files, workers=2, text_documents='paragraph', progress=not args.no_progress)
    trainer.save(args.out)
    print(report)
    print(f'saved {args.out}')

    tokenizer = Tokenizer(args.out, seed=42)
    print(f'vocab_size = {tokenizer.vocab_size}')
    print('(<e3> is a byte of a piece that is no whole character: a character this small vocabulary\n'
          ' does not hold whole, or a draw that split one, is spelled out in its UTF-8 bytes)')
    for text in EXAMPLES:
        ids = tokenizer.encode(text)
        pieces = show(tokenizer.tokenize(text))
        decoded = tokenizer.decode(ids)
        print(f'\ntext:    {text!r}')
        print(f'pieces:  {pieces}')
        print(f'ids:     {ids}')
        print(f'decoded: round trip {"ok" if decoded == text else "FAILED"}')
        if decoded != text:
            return 1
        for draw in range(3):
            sampled = tokenizer.tokenize(text, alpha=0.1)
            print(f'sample {draw} (alpha=0.1): {show(sampled)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
