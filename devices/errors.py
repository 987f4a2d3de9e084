"""Errors of the device registry."""


class DeviceError(Exception):
    """Base class for errors raised by :mod:`devices`."""


class InvalidValue(DeviceError, ValueError):
    """A value a meter, an intake or a form carries is not acceptable; the message says why."""


class RegistryRejected(DeviceError):
    """An import was refused; ``problems`` lists every reason, nothing was written."""

    def __init__(self, problems: list[object]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
