"""Checks for text people type that others will read: names must not carry
invisible or direction-changing characters (a name can then look like
another), and nothing we store may hold NUL."""

import unicodedata

from django.core.exceptions import ValidationError

# Unicode "format" characters include the bidi overrides (U+202A-U+202E,
# U+2066-U+2069) and zero-width characters that make one name look like another.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn"}


def single_line_name_validate(value):
    """Refuse control, format (bidi, zero-width), private-use and unassigned characters in a name."""
    bad = next((ch for ch in value if unicodedata.category(ch) in _HIDDEN_CATEGORIES), None)
    if bad is not None:
        raise ValidationError(
            f"Remove the invisible or control character U+{ord(bad):04X} from the name.", code="hidden_character"
        )
    return value
