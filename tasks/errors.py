"""Errors that end a command with a one-line reason and a non-zero exit."""


class ShopguardError(Exception):
    """A failure the user can act on; its message is shown as the single line of output."""


class DataMissingError(ShopguardError):
    """Expected input (a partition, a model, a table) does not exist."""


class DataRootError(ShopguardError):
    """The data root named by --data-dir / SHOPGUARD_DATA_DIR cannot be used: a usage error (exit 2)."""


class DiskFull(ShopguardError):
    """The disk (or quota) filled up during a write; the previous partition is untouched."""


class ValidationStopped(ShopguardError):
    """A batch-level expectation failed: the day is stopped and nothing downstream runs."""


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (its class name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
