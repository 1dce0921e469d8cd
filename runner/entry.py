"""The console script's first module: `mktows-run --help` from the help click last rendered,
anything else (and a help that may have changed) through the command line (runner.cli).

Importing click alone is ~3.8x a bare `python -c pass` here, most of `--help`'s cost; the
root help is a pure function of the runner's code, click's, and the terminal's width, so the
text click rendered for the same three is printed again without importing click. Nothing but
os and sys is imported on that path. The cache is one text file in the user's cache
directory (`$XDG_CACHE_HOME/mktows-run`, else `~/.cache/mktows-run`): its first line is the
key it was rendered for; a missing, foreign, truncated, oversized or undecodable file is
simply a slower `--help` (click renders it, and it is written again).
"""

from __future__ import annotations

import os
import sys

from runner import __version__

HELP_ARGS = (["--help"], ["-h"])
MAX_BYTES = 64 * 1024  # the root help is ~2 KiB: a bigger file is not ours
_FILE = "help.txt"


def columns() -> int:
    """The terminal's width as shutil.get_terminal_size finds it ($COLUMNS, else stdout's
    terminal, else 80), without importing shutil (~2.5 ms: it imports bz2, lzma, ...)."""
    try:
        width = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        width = 0
    if width <= 0:
        try:
            width = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            width = 0
    return width if width > 0 else 80


def help_width() -> int:
    """The width click formats help at (cli._Context): the terminal's, at most 80, less 2."""
    return max(min(columns(), 80) - 2, 50)


def _cache_file() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else None)
    return os.path.join(base, "mktows-run", _FILE) if base else None


def _stamp(path: str) -> str:
    info = os.stat(path)
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


def _click_init() -> str | None:
    """Where `import click` would find click, without importing it."""
    for entry in sys.path:
        candidate = os.path.join(entry or ".", "click", "__init__.py")
        if os.path.isfile(candidate):
            return candidate
    return None


def help_key(width: int) -> str | None:
    """What the root help depends on: the runner's version and its modules (the help's text
    lives in cli.py, its defaults in the modules it imports), click's installation (its
    __init__ and its distribution folder, which an upgrade replaces) and the width; None
    when it cannot be told."""
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        runner_files = sorted(e.name for e in os.scandir(here) if e.name.endswith(".py"))
        runner_stamp = ";".join(_stamp(os.path.join(here, n)) for n in runner_files)
        click_init = _click_init()
        if click_init is None:
            return None
        site = os.path.dirname(os.path.dirname(click_init))
        dists = sorted(n for n in os.listdir(site) if n.lower().startswith("click-"))
    except OSError:
        return None
    return f"mktows-run {__version__} width={width} {runner_stamp} {_stamp(click_init)} {dists}"


def cached_help(width: int) -> str | None:
    """The root help rendered for `width` with this code, or None."""
    path, key = _cache_file(), help_key(width)
    if path is None or key is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO planted there cannot block
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if not os.path.isfile(path) or os.fstat(f.fileno()).st_size > MAX_BYTES:
                return None
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    try:
        first, sep, text = data.decode("utf-8").partition("\n")
    except UnicodeDecodeError:
        return None
    return text if sep and first == key and text.startswith("Usage: ") else None


def remember_help(width: int, text: str) -> None:
    """Keep the root help click rendered at `width` (atomically; a cache that cannot be
    written only costs the next `--help` its speed)."""
    path, key = _cache_file(), help_key(width)
    if path is None or key is None or "\n" in key:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(f"{key}\n{text}".encode())
        os.replace(tmp, path)
    except (OSError, UnicodeEncodeError):
        import contextlib  # (only here: the help's path imports os and sys alone)

        with contextlib.suppress(OSError):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in HELP_ARGS:
        text = cached_help(help_width())
        if text is not None:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except BrokenPipeError:  # `mktows-run --help | head`
                pass
            return
    from runner.cli import main as cli_main

    cli_main(argv)
