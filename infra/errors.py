"""Errors of the shared infrastructure layer."""


class InfraError(Exception):
    """Base class for errors raised by :mod:`infra`."""


class SettingsError(InfraError):
    """A setting has a value the service cannot use."""


class MigrationError(InfraError):
    """The schema cannot be brought up to date safely."""


class SandboxError(InfraError):
    """A private PostgreSQL cluster or Mosquitto broker could not be started or stopped."""
