"""The child process that builds a run's search index (`search.index_in_subprocess` starts it): it opens the
file the way the parent's store did."""

from __future__ import annotations

from pathlib import Path

from cstui.store import Store
from cstui.store.opening import Opened, connect


def index_run(path: str, uri: str, scratch: str, run: str) -> int:
    opened = Opened(connect(uri), uri, read_only=True, search_scratch=Path(scratch) if scratch else None)
    with Store(Path(path), mode="read", _opened=opened) as store:
        return 0 if store.search_index_current(run) else store.index_for_search(run)
