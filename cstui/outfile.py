"""Writing what the user asked for to the place they named, without surprises.

A regular file is written to a temporary file beside it and renamed over it at the end, so an interrupted
export never leaves half a file under the real name. Anything else — `-` (standard output), a device such as
/dev/stdout, a FIFO — is written directly: renaming over a device node would replace it (for the whole machine,
as root) and a FIFO would become a regular file that nobody reads.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def is_stream(out: Path | str) -> bool:
    """`-`, or a path that exists and is not a regular file (a device, a FIFO, a socket)."""
    if str(out) == "-":
        return True
    try:
        mode = os.stat(out).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextmanager
def output_file(out: Path | str) -> Iterator[BinaryIO]:
    """A binary file to write `out` through (see the module docstring)."""
    if str(out) == "-":
        sys.stdout.flush()
        yield sys.stdout.buffer  # type: ignore[misc]
        sys.stdout.buffer.flush()
        return
    path = Path(out)
    if is_stream(path):
        with path.open("wb") as fh:
            yield fh
        return
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("wb") as fh:
            yield fh
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_terminal(out: Path | str) -> bool:
    """Is `out` a terminal? Only a character device can be one: anything else is never opened to ask (opening a
    FIFO's write end and closing it would hand its reader an early end of file)."""
    if str(out) == "-":
        return sys.stdout.isatty()
    try:
        if not stat.S_ISCHR(os.stat(out).st_mode):
            return False
        fd = os.open(out, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)
