"""The terminal consoles: text that came from a user (method names, file names, sample ids) can never drive the
terminal, since every control character is shown as an escape instead of being sent."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console

# C0 controls but newline and tab, DEL, and C1 controls (0x9b is a one-byte CSI on some terminals)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with each control character (ESC, BEL, CR, backspace, CSI, ...) written as `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SafeConsole(Console):
    """A rich Console without markup or highlighting whose printed strings pass through `printable`; strings inside
    renderables (a table's cells) are the caller's to pass through it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, highlight=False, soft_wrap=True, **kwargs)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(printable(o) if isinstance(o, str) else o for o in objects), **kwargs)
