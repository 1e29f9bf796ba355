"""The one root exception: its message is a sentence a person can act on."""


class WelfareWatchError(Exception):
    """A failure the command line reports as one line, without a stack trace."""


class ConfigError(WelfareWatchError):
    """The configuration is invalid; the message names the bad key."""
