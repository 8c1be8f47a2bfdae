"""CSV cells that a spreadsheet will not run as formulas: the one function
every CSV we write passes each cell through.

Exports carry text that came from outside (names, subjects). Excel, LibreOffice
and Google Sheets treat a cell as a formula when it starts with = + - @ (and,
after their own input normalisation, the full-width ＝ ＋ － ＠), also when
blanks, a tab, CR, LF or NUL come first. Such a cell is prefixed with a quote.
NUL never reaches the file (spreadsheets cut the cell there).
"""

import csv

_FORMULA_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_LEADING_JUNK = " \t\r\n\x00\x0b\x0c\u00a0\u3000"


def cell(value):
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    text = value.replace("\x00", "\ufffd")
    if value and (value[0] in _LEADING_JUNK or value.lstrip(_LEADING_JUNK)[:1] in _FORMULA_SIGNS):
        return "'" + text
    return text


class Echo:
    """A file-like object whose write returns the line, for streamed CSV."""

    def write(self, value):
        return value


def csv_line_writer():
    writer = csv.writer(Echo())
    return lambda row: writer.writerow([cell(v) for v in row])
