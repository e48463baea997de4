"""``python -m benchmarks [--full] [--only a,b] [--out DIR]``: see benchmarks/README.md."""

from __future__ import annotations

import argparse

from .runner import SECTIONS, run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="sessionware against the session layers users would pick instead.",
    )
    parser.add_argument("--full", action="store_true", help="every contender and case (~15-25 min)")
    parser.add_argument(
        "--only",
        help=f"comma-separated sections ({', '.join(SECTIONS)}) and/or contender name fragments",
    )
    parser.add_argument("--out", default=".", help="directory for bench.json and bench.png")
    args = parser.parse_args(argv)
    run(quick=not args.full, only=args.only, full=args.full, out_dir=args.out)


if __name__ == "__main__":
    main()
