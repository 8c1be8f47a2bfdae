"""A corpus of hostile text for every form, filter, the login and the CSV
import. Each entry is (label, value); values are str unless noted."""

HOSTILE_TEXT = [
    ("nul", "abc\x00def"),
    ("nul-only", "\x00"),
    ("over-long", "a" * 5000),
    ("huge", "x" * 300_000),
    ("confusable-cyrillic", "аdmin"),  # Cyrillic а
    ("full-width", "ａｄｍｉｎ"),
    ("math-bold", "𝐚𝐝𝐦𝐢𝐧"),
    ("rtl-override", "evil\u202egnp.exe"),
    ("zero-width", "ad\u200bmin"),
    ("control", "tab\there\r\nnewline\x1b[31m"),
    ("formula", "=HYPERLINK(\"https://evil.example\",\"x\")"),
    ("full-width-formula", "＝1+1"),
    ("html", "<b>bold</b> <script>alert(1)</script>"),
    ("sql-ish", "' OR 1=1; --"),
    ("huge-number", "99999999999999999999999999"),
    ("negative", "-1"),
    ("far-date", "9999-12-31"),
    ("ancient-date", "0001-01-01"),
    ("bad-date", "2025-02-30"),
    ("emoji", "🙂" * 100),
]

# Raw uploads for the CSV import: bytes, as a browser would send them.
HOSTILE_FILES = [
    ("utf-16", "name,domains\nNorthwind,northwind.example\n".encode("utf-16")),
    ("latin-1", "name,domains\nCafé,cafe.example\n".encode("latin-1")),
    ("binary", bytes(range(256)) * 4),
    ("nul-in-cell", b"name,domains\nNorth\x00wind,northwind.example\n"),
    ("nul-in-notes", b"name,domains,notes\nNorthwind,northwind.example,a\x00b\n"),
    ("long-name", b"name,domains\n" + b"N" * 201 + b",northwind.example\n"),
    ("huge-cell", b"name,domains\nNorthwind," + b"a" * 200_000 + b".example\n"),
    ("long-notes", b"name,domains,notes\nNorthwind,northwind.example," + b"n" * 20_000 + b"\n"),
    ("rtl-name", "name,domains\nevil\u202egnp,northwind.example\n".encode()),
    ("unbalanced-quote", b'name,domains\n"Northwind,northwind.example\n'),
    ("empty", b""),
    ("header-only", b"name,domains\n"),
    ("too-large", b"name,domains\n" + b"x,y.example\n" * 200_000),
]
