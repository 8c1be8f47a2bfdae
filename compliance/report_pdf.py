"""The pack's PDF report, drawn with fpdf2.

Deterministic by construction: the creation date is the snapshot's collection
time and the fonts are the vendored DejaVu files (compliance/fonts, same bytes
on every machine). Names are data from outside: they are drawn as plain text
(no markdown), with control characters blanked and characters the font cannot
draw shown as U+FFFD; the HTML copy and the CSVs keep the exact names. The
page-total alias is made of control characters for the same reason: fpdf2's
default "{nb}" would also be rewritten inside a display name, while a control
character can never survive pdf_text().
"""

import logging
import unicodedata
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import FontFace

from .evaluate import FAILING, MET, NOT_MET, RESULT_LABELS
from .report import VERIFY_NOTE, pack_files, provenance_items, reading_notes, report_facts

# fontTools logs every subsetting step at INFO (dozens of lines per PDF), which
# would flood the application log on each download.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FILES = {"": FONT_DIR / "DejaVuSans.ttf", "B": FONT_DIR / "DejaVuSans-Bold.ttf"}
FAMILY = "DejaVu"
PAGE_TOTAL_ALIAS = "\x01N\x01"
ACCOUNT_FONT_SIZE = 7.8  # points
ACCOUNT_LINE = 3.8  # mm per line of an account row
ACCOUNT_PAD_X, ACCOUNT_PAD_Y = 1.5, 0.8  # mm

INK = (15, 23, 42)
MUTED = (100, 116, 139)
LINE = (203, 213, 225)
PANEL = (241, 245, 249)
RESULT_COLOURS = {  # (fill, text), the same palette as the web pages
    MET: ((220, 252, 231), (20, 83, 45)),
    NOT_MET: ((254, 226, 226), (127, 29, 29)),
    "not_evidenced": ((254, 243, 199), (120, 53, 15)),
}
# Bidirectional overrides and isolates: fpdf2 does no bidi layout, so they
# could only draw as stray glyphs; they are dropped.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@lru_cache(maxsize=1)
def drawable_codepoints():
    """Code points that both vendored fonts can draw."""
    maps = [set(TTFont(path).getBestCmap()) for path in FONT_FILES.values()]
    return frozenset.intersection(*map(frozenset, maps))


def pdf_text(value, keep_newlines=False):
    """Text safe to hand to fpdf2: no control characters, nothing the font cannot draw.

    Newlines survive only in our own layout text (keep_newlines=True); in data
    they become spaces, so a name cannot add lines to a cell.
    """
    drawable = drawable_codepoints()
    out = []
    for char in unicodedata.normalize("NFC", "" if value is None else str(value)):
        if char in _BIDI_CONTROLS:
            continue
        if char == "\n" and keep_newlines:
            out.append(char)
        elif unicodedata.category(char) == "Cc":
            out.append(" ")
        elif ord(char) in drawable:
            out.append(char)
        else:
            out.append("\ufffd")
    return "".join(out)


def account_detail(account):
    parts = []
    if account.role_names:
        parts.append(", ".join(account.role_names))
    if not account.in_scope:
        parts.append(account.scope_label)
    parts.append(f"MFA {account.mfa_label}")
    return "; ".join(parts)


class ReportPDF(FPDF):
    def __init__(self, source):
        super().__init__(orientation="P", unit="mm", format="letter")
        self.source = source
        self.alias_nb_pages(PAGE_TOTAL_ALIAS)
        self.set_margins(16, 18, 16)
        self.set_auto_page_break(True, margin=16)
        for style, path in FONT_FILES.items():
            self.add_font(FAMILY, style, str(path))
        self.set_creation_date(source.as_of_utc)
        self.set_lang("en")
        self.set_title(pdf_text(f"Evidence pack: {source.evaluation.framework.label}, {source.customer_name}, {source.taken_on}"))
        self.set_author("Vectis")
        self.set_creator(f"Vectis {source.app_version}")
        self.set_text_color(*INK)

    # --- page furniture ---------------------------------------------------------
    def header(self):
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*MUTED)
        s = self.source
        self.set_xy(self.l_margin, 8)
        self.cell(self.epw * 0.8, 5, pdf_text(
            f"Vectis evidence pack · {s.customer_name} · {s.evaluation.framework.short_label} · snapshot {s.taken_on}"))
        self.cell(self.epw * 0.2, 5, f"Page {self.page_no()} of {PAGE_TOTAL_ALIAS}", align="R")
        self.set_draw_color(*LINE)
        self.line(self.l_margin, 13.5, self.l_margin + self.epw, 13.5)
        self.set_text_color(*INK)
        self.set_y(self.t_margin)

    def footer(self):
        self.set_y(-11)
        self.set_font(FAMILY, "", 7)
        self.set_text_color(*MUTED)
        self.cell(0, 4, pdf_text(
            f"Built from posture snapshot {self.source.snapshot_id} of {self.source.taken_on}. "
            "Figures show MFA registration, not enforcement. Hashes: manifest.json."), align="C")
        self.set_text_color(*INK)

    # --- building blocks -----------------------------------------------------------
    def heading(self, text, size=12, space_before=4):
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(space_before)
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, size * 0.5, pdf_text(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def paragraph(self, text, size=8.5, colour=INK):
        self.set_font(FAMILY, "", size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.48, pdf_text(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*INK)

    def key_value_table(self, items, label_width=46):
        self.set_font(FAMILY, "", 8.5)
        with self.table(col_widths=(label_width, self.epw - label_width), width=self.epw, first_row_as_headings=False,
                        text_align="LEFT", line_height=4.2, padding=(1.2, 1.8, 1.2, 1.8),
                        borders_layout="HORIZONTAL_LINES", v_align="TOP") as table:
            self.set_draw_color(*LINE)
            for label, value in items:
                row = table.row()
                row.cell(pdf_text(label), style=FontFace(emphasis="BOLD", color=MUTED))
                lines = value if isinstance(value, list) else [value]
                row.cell("\n".join(pdf_text(line) for line in lines))

    def result_tag_style(self, result):
        fill, text = RESULT_COLOURS[result]
        return FontFace(emphasis="BOLD", color=text, fill_color=fill)

    def accounts_table(self, accounts):
        """Every account, one row each, wrapped by words. Drawn line by line
        rather than with fpdf2's table(): a 10,000-user customer has thousands of
        rows, and table() lays each cell out character by character (most of a
        pack's build time before)."""
        widths = (52, 62, self.epw - 114)
        self._accounts_heading(widths)
        self.set_font(FAMILY, "", ACCOUNT_FONT_SIZE)
        for account in accounts:
            cells = [pdf_text(account.display_name or "(no display name)"), pdf_text(account.upn),
                     pdf_text(account_detail(account))]
            lines = [self._wrap(text, width - 2 * ACCOUNT_PAD_X) for text, width in zip(cells, widths, strict=True)]
            height = max(len(column) for column in lines) * ACCOUNT_LINE + 2 * ACCOUNT_PAD_Y
            if self.get_y() + height > self.page_break_trigger:
                self.add_page()
                self._accounts_heading(widths)
                self.set_font(FAMILY, "", ACCOUNT_FONT_SIZE)
            self._accounts_row(widths, lines, height)

    def _accounts_heading(self, widths):
        self.set_font(FAMILY, "B", ACCOUNT_FONT_SIZE)
        self.set_text_color(*MUTED)
        self.set_fill_color(*PANEL)
        height = ACCOUNT_LINE + 2 * ACCOUNT_PAD_Y
        self.rect(self.l_margin, self.get_y(), sum(widths), height, style="F")
        self._accounts_row(widths, [["Display name"], ["User principal name"], ["Roles, scope, MFA"]], height)
        self.set_text_color(*INK)

    def _accounts_row(self, widths, lines, height):
        top, x = self.get_y(), self.l_margin
        for width, column in zip(widths, lines, strict=True):
            for n, line in enumerate(column):
                # text() places a baseline: one line height down, less the descent.
                self.text(x + ACCOUNT_PAD_X, top + ACCOUNT_PAD_Y + (n + 1) * ACCOUNT_LINE - 0.9, line)
            x += width
        self.set_draw_color(*LINE)
        self.line(self.l_margin, top + height, self.l_margin + sum(widths), top + height)
        self.set_y(top + height)

    def _wrap(self, text, width):
        """Greedy word wrap within `width` (mm); a word wider than a line is cut by characters."""
        if self.get_string_width(text) <= width:
            return [text]
        lines, line = [], ""
        for word in text.split(" "):
            candidate = f"{line} {word}" if line else word
            if self.get_string_width(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while len(word) > 1 and self.get_string_width(word) > width:
                cut = len(word) - 1
                while cut > 1 and self.get_string_width(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
        return lines

    # --- sections ----------------------------------------------------------------
    def cover(self):
        s = self.source
        self.add_page()
        self.set_font(FAMILY, "B", 17)
        self.multi_cell(0, 8, "MFA and privileged-access evidence", align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FAMILY, "", 11)
        self.set_text_color(*MUTED)
        self.multi_cell(0, 5.5, pdf_text(f"{s.evaluation.framework.label} · {s.customer_name} · snapshot {s.taken_on}"),
                        align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*INK)
        self.ln(3)
        self.key_value_table(report_facts(s))
        self.heading("Reading this pack", size=10.5)
        notes = reading_notes(s)
        accounts = s.evaluation.population.accounts
        if any("\ufffd" in pdf_text(a.display_name + a.upn) for a in accounts):
            notes.append("Some names hold characters this PDF's font cannot draw; they are shown as \ufffd here. "
                         "report.html and the CSVs hold the exact names.")
        for note in notes:
            self.paragraph("• " + note)
            self.ln(0.6)

    def summary(self):
        self.heading("Control results")
        self.set_font(FAMILY, "", 8.5)
        with self.table(col_widths=(36, self.epw - 64, 28), width=self.epw, text_align="LEFT", line_height=4.2,
                        padding=(1.2, 1.8, 1.2, 1.8), borders_layout="HORIZONTAL_LINES", v_align="TOP",
                        headings_style=FontFace(emphasis="BOLD", color=MUTED, fill_color=PANEL)) as table:
            table.row(["Control", "Title and figure", "Result"])
            for row in self.source.evaluation.rows:
                cells = table.row()
                cells.cell(pdf_text(row.control.ref_id), style=FontFace(emphasis="BOLD"))
                cells.cell(pdf_text(row.control.title) + "\n" + pdf_text(row.figure))
                cells.cell(RESULT_LABELS[row.result], style=self.result_tag_style(row.result))

    def control(self, row):
        if self.get_y() > self.h - 70:
            self.add_page()
        self.ln(4)
        self.set_font(FAMILY, "", 8.5)
        with self.table(col_widths=(36, self.epw - 36), width=self.epw, first_row_as_headings=False,
                        text_align="LEFT", line_height=4.2, padding=(1.3, 1.8, 1.3, 1.8),
                        borders_layout="HORIZONTAL_LINES", v_align="TOP") as table:
            self.set_draw_color(*LINE)
            head = FontFace(emphasis="BOLD", fill_color=PANEL, size_pt=9.5)
            table.row([pdf_text(row.control.ref_id), pdf_text(row.control.title)], style=head)
            label = FontFace(emphasis="BOLD", color=MUTED)
            for name, text in (("Requirement", row.control.summary), ("Measured", row.measured),
                               ("Figure", row.figure), ("Rule", row.rule)):
                cells = table.row()
                cells.cell(name, style=label)
                cells.cell(pdf_text(text), style=FontFace(emphasis="BOLD") if name == "Figure" else None)
            cells = table.row()
            cells.cell(RESULT_LABELS[row.result], style=self.result_tag_style(row.result))
            cells.cell(pdf_text(row.why))
        for group in row.named:
            if self.get_y() > self.h - 40:  # keep a list's heading with its first names
                self.add_page()
            self.ln(1.5)
            self.set_font(FAMILY, "B", 8.5)
            colour = RESULT_COLOURS[NOT_MET][1] if group.kind == FAILING else INK
            self.set_text_color(*colour)
            self.multi_cell(0, 4.5, pdf_text(group.heading), align="L", new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(*INK)
            self.accounts_table(group.accounts)

    def controls(self):
        self.add_page()
        self.heading("Control rows", space_before=0)
        self.paragraph("Each row: what the control asks (our summary), what this pack measured, the figure, the rule "
                       "applied, and the result with its reason. Accounts are named below the row they affect.",
                       colour=MUTED)
        for row in self.source.evaluation.rows:
            self.control(row)

    def privileged(self):
        population = self.source.evaluation.population
        self.heading(f"Privileged role holders ({len(population.privileged)})")
        if not population.privileged:
            self.paragraph("No account of this customer holds a privileged role in this snapshot.", colour=MUTED)
            return
        self.paragraph("Every account holding a role from the privileged-role rule, in or out of scope "
                       "(privileged_users.csv has the role template ids).", colour=MUTED)
        self.ln(1)
        self.accounts_table(population.privileged)

    def provenance(self):
        self.heading("Data provenance")
        self.key_value_table(provenance_items(self.source), label_width=52)
        self.heading("Files in this pack", size=10.5)
        self.key_value_table(list(pack_files(self.source)), label_width=40)
        self.ln(2)
        self.paragraph(VERIFY_NOTE, colour=MUTED)

    def render(self):
        self.cover()
        self.summary()
        self.controls()
        self.privileged()
        self.provenance()
        return self


def report_pdf(source):
    """The report as PDF bytes."""
    return bytes(ReportPDF(source).render().output())

