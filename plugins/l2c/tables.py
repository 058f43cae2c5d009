"""Tables as plain text, drawn by rich: what the CLI prints (``l2c summary``, ``l2c runs``,
``l2c-dev evaluate``) and what the demo and the tests read.

rich sizes the columns to their content; the table is rendered to a string (no colour, no markup,
no terminal needed) so it goes to a terminal, a log or a test assertion alike.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence


def table_text(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    right: Iterable[int] = (),
) -> str:
    """``rows`` under ``headers`` as text lines; columns whose index is in ``right`` are right-aligned.

    Cells are printed as ``str(cell)``, never interpreted as rich markup.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    right = set(right)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="", highlight=False)
    for i, header in enumerate(headers):
        table.add_column(Text(header), justify="right" if i in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    console = Console(
        file=io.StringIO(), width=1000, color_system=None, markup=False, emoji=False, highlight=False
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())
