"""Text as a message, a log line or a file quotes it."""


def printable(text: str) -> str:
    """``text`` safe to print on one line and to encode: every character that is not printable
    (controls, line breaks, lone surrogates, ...) becomes an escape such as ``\\x00`` or ``\\ud800``."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
