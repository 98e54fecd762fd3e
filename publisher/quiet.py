"""Other libraries' output goes to a log file; publisher's own lines go to the terminal.

torch, transformers, optimum, NNCF and OpenVINO print warnings, tracer notes and tables, from
Python (``warnings``, ``logging``, ``print``) and from native code, to both stdout and stderr. A
person releasing a model reads publisher's progress and results; the rest is kept in the output
folder's ``.publisher/library.log`` for when something goes wrong, and shown with ``--verbose``.

The redirection is done on file descriptors 1 and 2, so native code and handlers that hold the
original ``sys.stdout``/``sys.stderr`` are caught too; publisher's own console is pointed at a
duplicate of the original stderr meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator, TextIO


@contextlib.contextmanager
def library_output_to(log_path: Path | None) -> Iterator[TextIO | None]:
    """While active, fds 1 and 2 write to ``log_path`` (appended); yields a text stream on the
    original stderr for publisher's own lines. ``None``: nothing is redirected (verbose).

    Either way every warning is let through (the CLI silences some for the other commands): to the
    log, or to the terminal when the user asked to see them."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        if log_path is None:
            yield None
            return
        with _redirected(log_path) as own:
            yield own


@contextlib.contextmanager
def _redirected(log_path: Path) -> Iterator[TextIO]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    own = os.fdopen(os.dup(saved_err), "w", buffering=1, encoding="utf-8", errors="replace")
    saved_showwarning = warnings.showwarning
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        # Warnings filtered once per location by default would be lost on the second run in one
        # process; record them all in the log instead.
        warnings.showwarning = _to_stderr
        yield own
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        warnings.showwarning = saved_showwarning
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err, log_fd):
            os.close(fd)
        own.close()


def _to_stderr(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def quiet_python_loggers() -> None:
    """Library loggers that write to the terminal at import time, before any redirection."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("torch", "torch.utils._pytree", "torch.utils.cpp_extension", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
