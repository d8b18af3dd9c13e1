"""Number checks shared by configs, transforms and command lines: counts
are integers >= 1 (0 is never "use the default")."""
import argparse
import numbers


class ConfigError(ValueError):
    """A config key or value that would be ignored or misread; the message
    names the file or key and the fix."""


def check_count(value, what: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; :class:`ConfigError` naming
    ``what`` otherwise (floats such as 7.5 and bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f'{what} must be an integer >= {minimum}, got '
                          f'{value!r} ({type(value).__name__}).')
    if value < minimum:
        raise ConfigError(f'{what} must be an integer >= {minimum}, got '
                          f'{value}' + (' (0 does not mean "use the '
                                        'default": leave the setting out for '
                                        'that).' if value == 0 else '.'))
    return int(value)


def positive_int(text: str) -> int:
    """``argparse`` type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected an integer >= 1, got {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f'must be >= 1, got {value} (0 does not mean "use the default": '
            'leave the option out for that)')
    return value


def non_negative_int(text: str) -> int:
    """``argparse`` type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected an integer >= 0, got {text!r}') from None
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {value}')
    return value
