"""Fuzz the readers of outside data on many inputs: the targets of
``tests/test_fuzz.py`` (the model loader; corpus files in JSON lines, text,
Parquet, compressed and damaged; the CLI's ids), each on ``--examples``
inputs drawn by hypothesis. An input passes when it gives a result or one of
our clear errors (a ValueError or OSError naming the file).

    python benchmarks/fuzz.py [--examples 2600]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ('test_the_model_loader_gives_a_model_or_a_clear_error',
           'test_corpus_files_give_documents_or_a_clear_error',
           'test_parquet_files_give_documents_or_a_clear_error',
           'test_decode_gives_text_or_one_clear_line')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--examples', type=int, default=2600, help='inputs per target')
    args = parser.parse_args(argv)
    os.environ['BYTEPIECE_FUZZ_EXAMPLES'] = str(args.examples)
    sys.path[:0] = [os.path.join(HERE, '..'), os.path.join(HERE, '..', 'tests')]
    import test_fuzz
    failures = 0
    print(f'| target | inputs | unexpected | seconds |\n|---|---:|---:|---:|')
    for name in TARGETS:
        start = time.perf_counter()
        try:
            getattr(test_fuzz, name)()
            unexpected = 0
        except Exception as e:  # hypothesis reports the smallest failing input
            unexpected = 1
            print(f'{name}: {type(e).__name__}: {e}', file=sys.stderr)
        failures += unexpected
        print(f'| {name} | {test_fuzz.INPUTS_TRIED[name]:,} | {unexpected} | {time.perf_counter() - start:.1f} |')
    print(f'total inputs: {sum(test_fuzz.INPUTS_TRIED.values()):,}; targets with an unexpected exception: '
          f'{failures}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
