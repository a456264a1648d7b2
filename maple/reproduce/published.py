"""The figures the seed thread published, as shipped package data (``data/seed.csv``).

The seed thread is the maple tree v6 cover letter (Liam R. Howlett, 2022-02-15,
``20220215143728.3810954-1-Liam.Howlett@oracle.com``) and its replies. Every row of
``seed.csv`` is one row the thread printed:

=====================  =====================================================================
table                  what it is
=====================  =====================================================================
``mel-v5-brk1``        Mel Gorman's will-it-scale table (2022-02-23): Hmean brk1 ops/s,
                       5.17.0-rc3 vanilla vs mm-maplevma-v5r1 (the v5 patch set), one
                       figure per task count
``liam-v6-wis``        the cover letter's Hmean ranges (v6 on v5.17-rc4, 144-core x86):
                       min..max over task counts the letter does not print
``liam-v6-kernbench``  the cover letter's kernbench table: Amean user/syst/elsp per job count
``wilcox-brk2``        the will-it-scale brk2 commit (d4ab020), quoted by Matthew Wilcox
                       (2022-02-23): brk2 "worse by about 10-15%" than brk1
=====================  =====================================================================

Percentages carry mmtests' sign: positive is better (more ops/s, less time). Ranges are
stored as ``published_lo <= published_hi``; single figures have ``lo == hi``. ``printed`` is
the figure exactly as the thread printed it. Rows the thread printed that maplebench has no
workload for (freqmine-medium, signal1-processes, pthread_mutex1-threads, aim9 brk_test, Mel's
"kernel building ... -1.5%") are not in the file (docs/reproduce.md lists them).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

#: package data file, inside ``maple.reproduce.data``
DATA_FILE = "seed.csv"

COLUMNS = (
    "table", "operation", "workload", "mode", "metric", "tasks", "printed",
    "published_lo", "published_hi", "base_kernel", "new_kernel", "base_kind", "new_kind",
    "author", "date", "message_id",
)

#: lore.kernel.org address of a message id
LORE = "https://lore.kernel.org/linux-mm/{}/"


@dataclass(frozen=True, slots=True)
class PublishedRow:
    """One published row.

    ``tasks`` is the task (or job) count the figure is for, or ``None`` when the thread gives
    a range over counts it does not print. ``metric`` is the run column the figure is about
    (``ops`` for will-it-scale Hmean rows, ``user``/``syst``/``elsp`` for kernbench Amean rows).
    ``base_kind``/``new_kind`` are the maplebench eras closest to the kernels compared.
    """

    table: str
    operation: str
    workload: str
    mode: str
    metric: str
    tasks: int | None
    printed: str
    published_lo: float
    published_hi: float
    base_kernel: str
    new_kernel: str
    base_kind: str
    new_kind: str
    author: str
    date: str
    message_id: str

    @property
    def is_range(self) -> bool:
        return self.published_lo != self.published_hi

    @property
    def url(self) -> str:
        return LORE.format(self.message_id)

    def published_text(self) -> str:
        """``-33.73`` for a single figure, ``-44.16..-37.42`` for a range (low..high)."""
        if self.is_range:
            return f"{self.published_lo:.2f}..{self.published_hi:.2f}"
        return f"{self.published_lo:.2f}"


def _row(raw: dict[str, str], line: int) -> PublishedRow:
    try:
        tasks = int(raw["tasks"]) if raw["tasks"] else None
        lo, hi = float(raw["published_lo"]), float(raw["published_hi"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{DATA_FILE} line {line}: {exc}") from None
    if lo > hi:
        raise ValueError(f"{DATA_FILE} line {line}: published_lo {lo} > published_hi {hi}")
    fields = {k: raw[k] for k in COLUMNS}
    fields.update(tasks=tasks, published_lo=lo, published_hi=hi)
    return PublishedRow(**fields)


def parse(text: str) -> list[PublishedRow]:
    """Rows of a ``seed.csv``-shaped text; ``ValueError`` naming the line of a bad row."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"{DATA_FILE}: missing columns {', '.join(missing)}")
    return [_row(raw, n) for n, raw in enumerate(reader, start=2)]


def load() -> list[PublishedRow]:
    """Every published row, in the file's order (tables, then the thread's row order)."""
    text = resources.files("maple.reproduce.data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse(text)


def tables(rows: list[PublishedRow] | None = None) -> list[str]:
    """Table names in first-seen order."""
    seen: dict[str, None] = {}
    for r in rows if rows is not None else load():
        seen.setdefault(r.table, None)
    return list(seen)

