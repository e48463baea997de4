"""Turn a run's results into text tables, ``bench.json`` and a PNG bar chart."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

from .contenders import FLOORS


class Progress:
    """A plain-text progress bar on stderr (no dependency, no terminal tricks beyond ``\\r``)."""

    def __init__(self, stream: IO[str] | None = None, width: int = 28) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = 0
        self.done = 0
        self.width = width

    def add(self, units: int) -> None:
        self.total += units

    def tick(self, label: str = "") -> None:
        self.done += 1
        total = max(self.total, self.done)
        filled = int(self.width * self.done / total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{total} {label[:48]:<48}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _cases(table: dict[str, dict[str, Any]]) -> list[str]:
    """Every case any contender ran, in first-seen order."""
    seen: dict[str, None] = {}
    for row in table.values():
        seen.update(dict.fromkeys(row))
    return list(seen)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def inprocess_text(results: dict[str, Any]) -> str:
    parts = []
    for protocol, table in results.get("inprocess", {}).items():
        if not table:
            continue
        cases = _cases(table)
        rows = []
        for name, row in table.items():
            cells = []
            for case in cases:
                cell = row.get(case)
                cells.append(
                    "-"
                    if cell is None
                    else f"{cell['median_us']:.1f} x{cell['ratio']:.2f} {cell['overhead_us']:+.1f}"
                    + (" !" if cell.get("problem") else "")
                )
            rows.append([name, *cells])
        title = (
            f"{protocol.upper()} in-process, us/request (median): "
            f"'us  x ratio to {FLOORS[protocol]}  +overhead us'"
        )
        parts.append(title + "\n" + _table(rows, ["contender", *cases]))
    return "\n\n".join(parts)


def roundtrips_text(results: dict[str, Any]) -> str:
    table = results.get("roundtrips")
    if not table:
        return ""
    cases = _cases(table)

    def cell(row: dict[str, Any], case: str) -> str:
        if case not in row:
            return "-"
        data = row[case]
        text = f"{data['round_trips']:g} ({data['commands']:g} cmd)"
        if "load" in data:
            text += f" = {data['load']:g}L+{data['apply']:g}A"
        return text

    rows = [[name, *(cell(row, c) for c in cases)] for name, row in table.items()]
    title = (
        "Backend round trips per request (commands; sessionware: L = load, A = apply;"
        " SQLite is in process: statements)"
    )
    return title + "\n" + _table(rows, ["contender", *cases])


def http_text(results: dict[str, Any]) -> str:
    table = results.get("http")
    if not table:
        return ""
    cases = _cases(table)
    rows = []
    for name, row in table.items():
        cells = []
        for case in cases:
            cell = row.get(case)
            if cell is None:
                cells.append("-")
                continue
            cells.append(
                f"{cell['rps']:.0f}/s x{cell['rps_ratio']:.2f} "
                f"p50 {cell['p50_ms']:.2f} p99 {cell['p99_ms']:.1f}"
                + (f" ERR {cell['errors']}" if cell["errors"] else "")
            )
        rows.append([name, *cells])
    tool = next(iter(next(iter(table.values())).values()))["tool"]
    title = f"Over HTTP ({tool}; req/s, x ratio to the bare app, latency ms)"
    return title + "\n" + _table(rows, ["contender", *cases])


def scale_text(results: dict[str, Any]) -> str:
    table = results.get("scale")
    if not table:
        return ""
    rows = [
        [
            f"{int(size):,}",
            f"{row['read_us']:.1f}",
            f"{row['reference_read_us']:.1f}",
            f"{row['vs_1k']:.2f}",
            f"{row['load_us'] * 1000:.0f}",
            f"{row['rss_per_session']:.0f}",
            f"{row['rss_mib']:.0f}",
        ]
        for size, row in table.items()
    ]
    header = ["sessions", "/read us", "1k ref us", "vs 1k", "load ns", "RSS B/session", "RSS MiB"]
    return (
        "Memory backend at scale (ASGI /read; reference store of 1 k timed interleaved)\n"
        + _table(rows, header)
    )


def extras_text(results: dict[str, Any]) -> str:
    lines = []
    imports = results.get("import")
    if imports:
        slow = ", ".join(f"{m['module']} {m['self_ms']:.1f}" for m in imports["slowest"][:4])
        lines.append(
            f"import sessionware: {imports['cpu_ms']:.0f} ms CPU, {imports['wall_ms']:.0f} ms wall"
            f" over `python -c pass` ({imports['python_startup_ms']:.0f} ms);"
            f" -X importtime {imports['importtime_ms']:.0f} ms;"
            f"slowest self ms: {slow}"
        )
    for section in ("guard", "tokens", "stores"):
        data = results.get(section)
        if data:
            text = ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in data.items()
            )
            lines.append(f"{section}: {text}")
    for name, reason in results.get("skipped", {}).items():
        lines.append(f"skipped {name}: {reason}")
    for table in results.get("inprocess", {}).values():
        for name, row in table.items():
            for case, cell in row.items():
                if cell.get("problem"):
                    lines.append(f"! {name} {case}: {cell['problem']} (figure not usable)")
    return "\n".join(lines)


def targets_text(results: dict[str, Any]) -> str:
    marks = {True: "MET    ", False: "NOT MET", None: "n/a    "}
    lines = ["Targets (issue #8)"]
    for target in results.get("targets", []):
        lines.append(f"  {marks[target['met']]} {target['text']}\n            {target['measured']}")
    return "\n".join(lines)


def text(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    head = (
        f"sessionware benchmarks ({results.get('mode')}) on {meta.get('cpu')} x{meta.get('cpus')}, "
        f"Python {meta.get('python')}, load avg {meta.get('load_start')} -> {meta.get('load_end')}"
    )
    sections = [
        head,
        inprocess_text(results),
        roundtrips_text(results),
        http_text(results),
        scale_text(results),
        extras_text(results),
        targets_text(results),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")


def chart(results: dict[str, Any], path: Path) -> bool:
    """A PNG: in-process µs/request per contender and case (one panel per protocol),
    plus HTTP req/s as a ratio to the bare app.  False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = [(p, t) for p, t in results.get("inprocess", {}).items() if t]
    http_table = results.get("http") or {}
    count = len(panels) + (1 if http_table else 0)
    if not count:
        return False
    heights = [max(2.0, 0.45 * len(t) + 1) for _, t in panels]
    if http_table:
        heights.append(max(2.0, 0.4 * len(http_table) + 1))
    fig, axes = plt.subplots(
        count, 1, figsize=(10, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    axes = list(axes) if count > 1 else [axes]
    for ax, (protocol, table) in zip(axes, panels, strict=False):
        names = list(table)
        cases = _cases(table)
        bar = 0.8 / len(cases)
        for index, case in enumerate(cases):
            ys = [i + index * bar for i in range(len(names))]
            values = [table[n][case]["median_us"] if case in table[n] else 0 for n in names]
            ax.barh(ys, values, height=bar, label=case)
        ax.set_yticks([i + 0.4 - bar / 2 for i in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xscale("log")  # SQL and Redis contenders sit orders of magnitude above memory
        ax.set_xlabel("µs per request (in-process, median, log scale; lower is better)")
        ax.set_title(f"{protocol.upper()}: floor = {FLOORS[protocol]}")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    if http_table:
        ax = axes[-1]
        names = list(http_table)
        cases = _cases(http_table)
        bar = 0.8 / len(cases)
        for index, case in enumerate(cases):
            ys = [i + index * bar for i in range(len(names))]
            values = [http_table[n].get(case, {}).get("rps_ratio") or 0 for n in names]
            ax.barh(ys, values, height=bar, label=case)
        ax.axvline(0.9, color="red", linestyle="--", linewidth=1, label="target 0.9")
        ax.set_title("Over HTTP: requests/s relative to the bare app of the same protocol")
        ax.set_yticks([i + 0.4 - bar / 2 for i in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xlabel("HTTP requests/s as a ratio to the bare app (higher is better)")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
