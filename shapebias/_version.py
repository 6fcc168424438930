"""The package version, in one place (``setup.cfg`` reads it; nothing imports ``shapebias``)."""

__version__ = "0.1.0"
