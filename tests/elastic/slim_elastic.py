"""Run ``elastic`` as a slim install would: the optional extras' modules cannot be
imported (a meta-path finder refuses them), so a test sees what a core-only install does.
Usage: python tests/elastic/slim_elastic.py [--allow MODULE,...] ARGS..."""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder

from elastic.extras import EXTRAS


class RefuseExtras(MetaPathFinder):
    def __init__(self, refused: set[str]) -> None:
        self.refused = refused

    def find_spec(self, name, path=None, target=None):
        if name.split(".", 1)[0] in self.refused:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def main() -> int:
    args = sys.argv[1:]
    allowed: set[str] = set()
    if args[:1] == ["--allow"]:
        allowed, args = set(args[1].split(",")), args[2:]
    refused = {m for e in EXTRAS.values() for m in e.modules} - allowed
    assert not refused & set(sys.modules), "an extra was imported before the test started"
    sys.meta_path.insert(0, RefuseExtras(refused))
    from elastic.cli import main as elastic_main

    return elastic_main(args)


if __name__ == "__main__":
    sys.exit(main())
