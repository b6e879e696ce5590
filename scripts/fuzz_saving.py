"""Damage thousands of saved files and count what loading them does (outside CI).

    .venv/bin/python scripts/fuzz_saving.py                 # 2,000 files of each kind
    .venv/bin/python scripts/fuzz_saving.py --files 200 --seed 3 --kinds "model .keras"

Each file is a real saved file (save_weights to '.weights.h5' and '.h5', model.save to
'.keras' and '.h5'), truncated, or with 1-8 bytes flipped anywhere, or with 1-8 bytes flipped
where no checksum covers (a third of the files each), loaded the way a user would
(`load_weights` into a model, `load_model`). The harness and the rules are the ones of
tests/test_saving_safety.py (CI runs a few dozen of them through Hypothesis):

    exact                         the saved weights (and config), bit for bit
    refused                       one ValueError naming the file; the model untouched
    changed: metadata             other numbers, with damage outside every checksummed range
                                  (HDF5 metadata and attributes carry no checksum)
    changed: unchecksummed array  damage inside a scalar array (HDF5 cannot checksum those)
    VIOLATION ...                 anything else: another exception type, a message without
                                  the file's name, a half-loaded model, or other numbers from
                                  a file damaged only where a checksum covers

Violations are kept under --keep (default: fuzz_saving/ in the temp folder) to reproduce
them; the exit status is 1 if there was any. A load that runs longer than --hang-s seconds
(HDF5 looping forever in C, as a damaged string heap once made it) stops the run with a
traceback; the damaged file is then the one in the folder printed on stderr.
"""
import argparse
import faulthandler
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests"), os.path.join(HERE, "..")]

from test_saving_safety import (DAMAGES, FILE_KINDS, Violation, damage,  # noqa: E402
                                make_original, try_damaged)


def report(counts):
    for how in DAMAGES:
        rows = sorted(((n, outcome) for (h, outcome), n in counts.items() if h == how),
                      reverse=True)
        print(f"  {how}: {sum(n for n, _ in rows)} files")
        for n, outcome in rows:
            print(f"    {n:6d}  {outcome}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="damaged files per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="*", default=sorted(FILE_KINDS),
                        choices=sorted(FILE_KINDS))
    parser.add_argument("--keep", default=os.path.join(tempfile.gettempdir(), "fuzz_saving"),
                        help="where the files of violations are kept")
    parser.add_argument("--hang-s", type=float, default=60,
                        help="a load taking longer than this is a hang: stop there")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    total, violations = Counter(), 0
    print(f"{args.files} damaged files per kind, seed {args.seed}")
    for name in args.kinds:
        counts, start = Counter(), time.perf_counter()
        with tempfile.TemporaryDirectory() as directory:
            print(f"({name}: damaged files are written to {directory})", file=sys.stderr)
            original = make_original(FILE_KINDS[name], directory)
            for i in range(args.files):
                how = DAMAGES[i % len(DAMAGES)]
                raw, ranges = damage(original, how, lambda lo, hi: int(rng.integers(lo, hi + 1)))
                # A load that hangs (HDF5 looping in C) cannot be interrupted: the watchdog
                # ends the run, printing where, and the damaged file stays in `directory`.
                faulthandler.dump_traceback_later(args.hang_s, exit=True)
                try:
                    outcome = try_damaged(original, raw, ranges, directory)
                except Violation as error:
                    outcome = f"VIOLATION {str(error)[:100]}"
                    violations += 1
                    os.makedirs(args.keep, exist_ok=True)
                    kept = os.path.join(args.keep, f"{name.replace(' ', '_')}-{i}"
                                        f"{original.kind.suffix}")
                    shutil.copyfile(os.path.join(directory,
                                                 "damaged" + original.kind.suffix), kept)
                faulthandler.cancel_dump_traceback_later()
                counts[how, outcome] += 1
        total.update(counts)
        seconds = time.perf_counter() - start
        print(f"\n{name} ({len(original.raw):,} bytes, {len(original.covered)} checksummed "
              f"ranges; {args.files} files, {seconds:.1f} s)")
        report(counts)
    print(f"\nall kinds ({args.files * len(args.kinds)} files)")
    report(total)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
