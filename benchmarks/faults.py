"""The fault suite, run several times: each scenario, how often it ran and
passed, its median time, and for the killed Dask workers what the kill
cost against an undisturbed run of the same job (medians).

    python benchmarks/faults.py [--rounds 5]
    python benchmarks/faults.py --scale FILE.jsonl [--task map_paths] [--runs 3]

``--scale`` times instead one larger job on a Dask ``LocalCluster`` of two
worker processes: training at 32,000 ids on FILE (e.g. ``train_scale.py``'s
``linux-125mb.jsonl``), undisturbed and with a worker killed at the first
task of ``--task``, in alternating runs; the models must be identical.

The scenarios are the tests of ``tests/test_faults_*.py``,
``tests/test_lock.py`` and ``tests/test_flaky_inputs.py``: real faults (a
full tmpfs, SIGKILL, files cut short on disk, a read-only file system, a
file system that fails now and then), no patched exceptions. The full-disk
and read-only cases need root (mount).
"""

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..')
SUITE = ['tests/test_faults_disk.py', 'tests/test_faults_dask.py', 'tests/test_faults_files.py',
         'tests/test_lock.py', 'tests/test_flaky_inputs.py']
KILL = re.compile(r'killed in (.+?): ([0-9.]+) s against ([0-9.]+) s')


def one_round(folder, k):
    report = os.path.join(folder, f'round-{k}.xml')
    done = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-s', '-p', 'no:cacheprovider', f'--junitxml={report}',
                           *SUITE], cwd=ROOT, capture_output=True, text=True)
    cases = {}
    for case in ET.parse(report).getroot().iter('testcase'):
        failed = any(child.tag in ('failure', 'error') for child in case)
        skipped = any(child.tag == 'skipped' for child in case)
        cases[f"{case.get('classname').rsplit('.', 1)[-1]}::{case.get('name')}"] = (
            'skipped' if skipped else 'failed' if failed else 'passed', float(case.get('time')))
    return cases, KILL.findall(done.stdout)


def at_scale(path, task, runs):
    """Median seconds of the job undisturbed and with a worker killed."""
    import distributed
    sys.path[:0] = [ROOT, os.path.join(ROOT, 'tests')]
    from test_faults_dask import KillOnce
    from bytepiece import Trainer
    times = collections.defaultdict(list)
    models = set()
    with tempfile.TemporaryDirectory() as folder, \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        for k in range(2 * runs):
            killed = k % 2 == 1
            if killed:
                client.register_plugin(KillOnce(task, os.path.join(folder, f'marker-{k}')), name=f'kill-{k}')
            start = time.perf_counter()
            trainer = Trainer(max_vocab_size=32000, min_count=8)
            trainer.train(files=path, engine=client, work_dir=os.path.join(folder, f'w{k}'), progress=False)
            times['killed' if killed else 'undisturbed'].append(time.perf_counter() - start)
            models.add(repr(trainer.pieces))
            if killed:
                client.unregister_worker_plugin(f'kill-{k}')
                assert os.path.exists(os.path.join(folder, f'marker-{k}')), 'the worker was killed'
                client.wait_for_workers(2, timeout=120)
            print(f'run {k}: {"killed" if killed else "undisturbed"} {times["killed" if killed else "undisturbed"][-1]:.1f} s',
                  file=sys.stderr)
    assert len(models) == 1, 'the same model every run'
    return {kind: statistics.median(values) for kind, values in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--scale', default=None, metavar='FILE')
    parser.add_argument('--task', default='map_paths')
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args(argv)
    if args.scale:
        medians = at_scale(args.scale, args.task, args.runs)
        print(f'{os.path.basename(args.scale)}, a worker killed at the first {args.task}: '
              f'{medians["killed"]:.1f} s against {medians["undisturbed"]:.1f} s undisturbed (medians of '
              f'{args.runs}), the same model')
        return 0
    outcomes, times, kills = collections.defaultdict(list), collections.defaultdict(list), collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.rounds):
            cases, killed = one_round(folder, k)
            for name, (outcome, seconds) in cases.items():
                outcomes[name].append(outcome)
                times[name].append(seconds)
            for phase, seconds, undisturbed in killed:
                kills[phase].append((float(seconds), float(undisturbed)))
    print('| scenario (test) | runs | passed | median s |\n|---|---:|---:|---:|')
    for name in sorted(outcomes):
        print(f'| {name} | {len(outcomes[name])} | {outcomes[name].count("passed")} | '
              f'{statistics.median(times[name]):.2f} |')
    print('\n| Dask worker killed in | runs | median s, killed | median s, undisturbed | cost |\n|---|---:|---:|---:|---:|')
    for phase, pairs in sorted(kills.items()):
        killed, undisturbed = (statistics.median(x) for x in zip(*pairs))
        print(f'| {phase} | {len(pairs)} | {killed:.2f} | {undisturbed:.2f} | {killed - undisturbed:+.2f} s |')
    failures = sum(o.count('failed') for o in outcomes.values())
    print(f'\nfailed: {failures} of {sum(map(len, outcomes.values()))} runs')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
