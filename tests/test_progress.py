"""Progress: tqdm bars on a terminal, one line per bar in a log."""

import sys

from bytepiece import Trainer
from bytepiece.demo import sample_files
from bytepiece.runtime.progress import LineBar, NoBar, progress_bar


def test_a_log_gets_one_line_per_bar_and_no_carriage_returns(capsys):
    with progress_bar(True, desc='Read corpus', total=3_000_000, unit='B') as bar:
        assert isinstance(bar, LineBar)
        for _ in range(3):
            bar.update(1_000_000)
        bar.set_postfix_str('12 tokens')
    err = capsys.readouterr().err
    assert '\r' not in err and err.count('\n') == 1
    assert err.startswith('Read corpus: 3.0 MB in ') and err.rstrip().endswith('(12 tokens)')
    assert isinstance(progress_bar(False, desc='x'), NoBar)


def test_training_writes_a_line_per_phase_to_a_log(capsys):
    report = Trainer(max_vocab_size=2000, min_count=4).train(files=sample_files(), workers=2)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert '\r' not in err and lines[0].startswith('Read corpus: ')
    rounds = [line for line in lines if line.startswith('2000: round ')]
    assert len(rounds) == len(report.rounds)
    assert lines[-1].startswith('Bytes per token: 1 sizes in ')


def test_a_terminal_gets_tqdm(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, 'isatty', lambda: True, raising=False)
    with progress_bar(True, desc='Work', total=2) as bar:
        bar.update(2)
    assert not isinstance(bar, LineBar) and '\r' in capsys.readouterr().err
