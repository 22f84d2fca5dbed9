"""A candidate's report as a PDF (fpdf2, DejaVu fonts so any script a candidate writes prints): the score and
its parts, each answer with its points, the code with its grading and diagnoses, concept answers beside
the code, and the integrity timeline. What the report page shows, for an HR system's file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fastapi import Response
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.core.errors import AppError
from app.core.markdown import render_plain
from app.core.timezones import clock_time, local_time
from app.questions.spec import TOPIC_NAMES
from app.results.report import AttemptReport, ItemReport
from app.results.scoring import Part, format_points

PDF = "application/pdf"
MAX_CODE_LINES = 400  # longer code is cut, with a note that the whole of it is in Assay
MAX_TEXT_CHARS = 20_000
FONTS = {
    ("Sans", ""): "DejaVuSans.ttf",
    ("Sans", "B"): "DejaVuSans-Bold.ttf",
    ("Sans", "I"): "DejaVuSans-Oblique.ttf",
    ("Mono", ""): "DejaVuSansMono.ttf",
}
LINE = 5.0
GREY = (110, 110, 110)


class FontsMissing(AppError):
    status_code = 503
    title = "Report fonts missing"


def _minutes(seconds: float | None) -> str:
    if not seconds:
        return ""
    return f"{int(seconds // 60)} min {int(seconds % 60)} s on screen"


class _Report(FPDF):
    def __init__(self, font_dir: Path, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text
        for (family, style), name in FONTS.items():
            path = font_dir / name
            if not path.is_file():
                raise FontsMissing(
                    f"{path} is missing: install Debian's fonts-dejavu-core (make run does) or point "
                    "ASSAY_REPORT_FONT_DIR at a folder with the DejaVu fonts."
                )
            self.add_font(family, style, str(path))
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Sans", "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.footer_text} · page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)

    def para(self, text: str, *, size: float = 10, style: str = "", grey: bool = False) -> None:
        self.set_font("Sans", style, size)
        if grey:
            self.set_text_color(*GREY)
        self.multi_cell(0, LINE, text[:MAX_TEXT_CHARS], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(2)
        self.para(text, size=size, style="B")
        self.ln(1)

    def code(self, source: str) -> None:
        lines = source.expandtabs(4).splitlines() or [""]
        shown = lines[:MAX_CODE_LINES]
        self.set_font("Mono", "", 8)
        self.set_fill_color(245, 245, 245)
        self.multi_cell(0, 4, "\n".join(shown), fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if len(lines) > MAX_CODE_LINES:
            self.para(f"… {len(lines) - MAX_CODE_LINES} more lines: the whole code is in Assay.", grey=True)

    def rows(self, header: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[int, ...]) -> None:
        self.set_font("Sans", "", 9)
        with self.table(col_widths=widths, text_align="LEFT", line_height=LINE) as table:
            for cells in [header, *rows]:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
        self.ln(2)


def _parts(pdf: _Report, title: str, parts: list[Part]) -> None:
    if not parts:
        return
    pdf.heading(title, 11)
    pdf.rows(
        ("", "Points", "%"),
        [
            (
                p.name,
                f"{format_points(p.earned)} / {format_points(p.max_points)}"
                + (f" + {p.pending} pending" if p.pending else ""),
                "" if p.percent is None else f"{p.percent:.0f}%",
            )
            for p in parts
        ],
        (5, 3, 1),
    )


def _answer(pdf: _Report, r: ItemReport) -> None:
    pdf.heading(f"{r.position}. {r.title}", 11)
    pdf.para(
        " · ".join(
            part
            for part in (
                r.kind.replace("_", " "),
                TOPIC_NAMES.get(r.topic, r.topic),
                r.state,
                f"{format_points(r.points)} / {format_points(r.max_points)} pt",
                _minutes(r.seconds),
            )
            if part
        ),
        size=9,
        grey=True,
    )
    for option in r.options:
        mark = "[x]" if option.chosen else "[ ]"
        verdict = " (correct)" if option.correct else ""
        pdf.para(f"{mark} {render_plain(option.text)}{verdict}", size=9)
    if r.numeric is not None:
        given = r.numeric["given"] if r.numeric["given"] not in (None, "") else "(no answer)"
        unit = f" {r.numeric['unit']}" if r.numeric.get("unit") else ""
        pdf.para(f"Answer: {given}{unit} · expected {r.numeric['expected']:g}{unit}", size=9)
    if r.rubric:
        pdf.para(r.text.strip() or "(no answer)", size=9)
        if r.manual is not None:
            comment = f": {r.manual.comment}" if r.manual.comment else ""
            pdf.para(f"Scored {format_points(r.manual.points)} by a reviewer{comment}", size=9, grey=True)
    if r.code is not None:
        _code(pdf, r)


def _code(pdf: _Report, r: ItemReport) -> None:
    assert r.code is not None
    code = r.code
    if code.source.strip():
        pdf.code(code.source)
    if code.state != "graded":
        pdf.para(
            {"grading": "Still being graded.", "failed": f"Grading failed: {code.error}"}.get(
                code.state, "No code was handed in."
            ),
            size=9,
        )
        return
    passed = sum(c.status == "passed" for c in code.cases)
    pdf.para(f"Grader: {code.verdict.replace('_', ' ')}, {passed} of {len(code.cases)} cases passed", size=9)
    failing = [c for c in code.cases if c.status != "passed"]
    if failing:
        pdf.rows(
            ("Case", "", "Result"),
            [
                (c.name, "sample" if c.visible else "hidden", f"{c.words}. {c.message}".strip())
                for c in failing
            ],
            (3, 1, 6),
        )
    for d in code.diagnoses:
        pdf.para(f"Diagnosis ({d.code}, confidence {d.confidence:.0%}): {d.message}", size=9)


def report_pdf(report: AttemptReport, font_dir: Path) -> bytes:
    invitation = report.invitation
    candidate, assessment = invitation.candidate, invitation.assessment
    pdf = _Report(font_dir, f"{candidate.full_name} · {assessment.title} v{assessment.version}")
    pdf.set_title(f"{candidate.full_name}: {assessment.title}")
    pdf.set_creator("Assay")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.heading(candidate.full_name, 16)
    if not candidate.erased_at:
        pdf.para(candidate.email, grey=True)
    pdf.para(f"{assessment.title} v{assessment.version} · {invitation.current_status.value}", grey=True)
    attempt, score = report.attempt, report.score
    if attempt is None or score is None:
        pdf.para("The candidate has not started yet.")
        return bytes(pdf.output())
    times = f"Started {local_time(attempt.started_at, report.zone)}"
    if attempt.closed_at is not None and attempt.close_reason is not None:
        times += f", finished {local_time(attempt.closed_at, report.zone)} ({report.finished_how})"
    pdf.para(times, grey=True)
    if attempt.closed_at is None:
        pdf.para("The candidate is taking the assessment now; the report is complete when they finish.")
        return bytes(pdf.output())

    pdf.heading("Score")
    verdict = {True: " · pass", False: " · fail", None: ""}[score.passed]
    percent = "" if score.percent is None else f" ({score.percent:.0f}%)"
    pdf.para(
        f"{format_points(score.earned)} / {format_points(score.max_points)} points{percent}{verdict}", size=12
    )
    if score.needs_review:
        pdf.para(f"Provisional: {score.needs_review} written answer(s) await a reviewer.", style="B")
    if score.grading:
        pdf.para(f"Provisional: {score.grading} code answer(s) are still being graded.", style="B")
    _parts(pdf, "By section", report.sections)
    _parts(pdf, "By topic", [replace(p, name=TOPIC_NAMES.get(p.name, p.name)) for p in report.topics])

    if report.links:
        pdf.heading("Concept answers beside the code")
        for link in report.links:
            label = "Agree" if link.agrees else "Contradict"
            pdf.para(
                f"{label} ({link.code}), questions {link.concept.position} and {link.coding.position}: "
                f"{link.sentence}",
                size=9,
            )

    pdf.heading("Answers")
    for item in report.items:
        _answer(pdf, item)

    pdf.heading("Integrity timeline")
    if report.timeline:
        pdf.para(
            "What the candidate's page noticed; leaving the page or pasting is not proof of anything.",
            size=9,
            grey=True,
        )
        pdf.rows(
            ("Time (UTC)", "Event"),
            [
                (
                    clock_time(e.at, report.zone),
                    e.words + (f" (question {e.item_position})" if e.item_position else ""),
                )
                for e in report.timeline
            ],
            (1, 4),
        )
    else:
        pdf.para("No page signals were recorded.", size=9, grey=True)
    return bytes(pdf.output())


def pdf_response(content: bytes, invitation_id: int) -> Response:
    return Response(
        content,
        media_type=PDF,
        headers={
            "Content-Disposition": f'inline; filename="assay-report-{invitation_id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
