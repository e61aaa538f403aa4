"""What the release's migration adds to a local image-tag deploy (the emulator, one branch environment).

Alternates deploys of new tags with the migration (``release.migrate_command`` as configured: a
targeted apply of the task definition, the one-off migration, then the full apply) and without it
(the same target with no migration command), ``--runs`` times each, and reports the medians (min/max),
their ratio and the migration's own one-off time from the deploy history.

Run: ``.venv/bin/python bench/bench_migration.py [--runs 5]`` (needs the local PostgreSQL of
``.ci/install-postgis.sh``).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers next to this script

from _common import Clock, Stats, ratio, say, session, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from deploytool import release, stackops
    from deploytool.config import ReleaseSettings
    from deploytool.localrun import push_stand_in_image

    with session() as s:
        with_migration = s.target
        without = dataclasses.replace(
            with_migration, settings=with_migration.settings.model_copy(update={"release": ReleaseSettings()})
        )
        branch = "bench/migration"
        tags = ["mig-base"] + [f"mig-{kind}-{i}" for i in range(1, args.runs + 1) for kind in ("on", "off")]
        for tag in tags:
            push_stand_in_image(with_migration, tag)
        say("first deploy (creates the environment, migrates after the apply)")
        release.deploy_release(with_migration, branch, "mig-base")
        on: list[float] = []
        off: list[float] = []
        one_off: list[float] = []
        names = with_migration.names(branch)
        for i in range(1, args.runs + 1):
            for kind, target, sample in (("on", with_migration, on), ("off", without, off)):
                with Clock() as clock:
                    release.deploy_release(target, branch, f"mig-{kind}-{i}")
                sample.append(clock.seconds)
                if kind == "on":
                    record = with_migration.ledger().records(with_migration.env, names.workspace)[-1]
                    one_off.append(float(record.extra["migration"]["duration_s"]))
                say(f"run {i} migration {kind}: {clock.seconds:.1f} s")
        stackops.destroy(with_migration, branch)
    rows = [
        ["image-tag deploy, with the migration", *Stats.of(on).cells()],
        ["image-tag deploy, without", *Stats.of(off).cells()],
        ["the migration's one-off run alone", *Stats.of(one_off).cells(2)],
    ]
    say(table(["local deploy (seconds)", "median", "min", "max", "n"], rows))
    say(
        f"added: {statistics.median(on) - statistics.median(off):.1f} s per deploy; "
        f"ratio with/without {ratio(statistics.median(on), statistics.median(off))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
