"""CSV cells that a spreadsheet will not run as formulas.

Exports carry text that came from outside (names, subjects): a cell starting
with = + - @ would be evaluated by Excel, so it is prefixed with a quote.
"""

import csv

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class Echo:
    """A file-like object whose write returns the line, for streamed CSV."""

    def write(self, value):
        return value


def csv_line_writer():
    writer = csv.writer(Echo())
    return lambda row: writer.writerow([cell(v) for v in row])
