"""IMS QTI 2.1 content packages: export choice and written questions, import them back or from other tools.

A package is a zip with `imsmanifest.xml` and one `assessmentItem` file per question. Everything a QTI tool
understands is in its standard place: the prompt as XHTML, options as `simpleChoice` with the explanation as
`feedbackInline`, the correct answers and the scoring (a mapping that gives partial credit on multi-answer
items, as Assay does) in `responseDeclaration`/`responseProcessing`, a written item's rubric and reference
answer in `rubricBlock view="scorer"`. What QTI has no place for (topic, difficulty, roles, time estimate,
word limit, rubric ids, misconception tags) and the Markdown each text was rendered from travel in an
Assay namespace in the manifest. On import, a text whose rendered form was edited in another tool is taken
from the edited XHTML (converted to Markdown) rather than from the stale Markdown.

Numeric and coding questions have no QTI equivalent (per-candidate parameters, sandboxed grading) and are
reported as skipped.
"""

from __future__ import annotations

import hashlib
import re
import uuid as uuid_module
import xml.etree.ElementTree as ET  # builds XML; untrusted XML is parsed with defusedxml only
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from markdownify import markdownify
from pydantic import ValidationError

from app.core.markdown import markdown
from app.questions.service import QuestionSpecModel, question_yaml
from app.questions.spec import McqMulti, McqSingle, Written, question_adapter

QTI = "http://www.imsglobal.org/xsd/imsqti_v2p1"
CP = "http://www.imsglobal.org/xsd/imscp_v1p1"
ASSAY = "urn:x-assay:qti-metadata:1"
ITEM_TYPES = {"imsqti_item_xmlv2p1", "imsqti_item_xmlv2p2"}
ITEM_PREFIX = "assay-"
# An uploaded package is untrusted: bound what it may make us read.
MAX_MEMBER_BYTES = 2_000_000
MAX_PACKAGE_BYTES = 50_000_000
MAX_ITEMS = 2_000

Exportable = McqSingle | McqMulti | Written


class QtiError(ValueError):
    """The package cannot be read at all (not a zip, no manifest, unsafe or malformed XML)."""


@dataclass
class QtiExport:
    items: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass
class QtiImport:
    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportDefaults:
    """Bank fields for items that come from other tools and carry no Assay metadata."""

    topic: str | None = None
    difficulty: int = 2
    roles: tuple[str, ...] = ("ml-engineer",)
    time_estimate_s: int = 90


def _a(tag: str) -> str:
    """An Assay metadata element's name as a parsed manifest spells it."""
    return f"{{{ASSAY}}}{tag}"


def _fingerprint(element: ET.Element) -> str:
    """What a reader sees of an element, ignoring markup and spacing: re-serialization by another tool
    keeps it, an edit to the wording changes it."""
    return hashlib.sha256(" ".join("".join(element.itertext()).split()).encode()).hexdigest()[:16]


def _qti_element(tag: str, html: str, **attributes: str) -> ET.Element:
    """Wrap rendered XHTML in an element of the item body."""
    element = SafeET.fromstring(f"<{tag}>{html}</{tag}>")
    element.attrib.update(attributes)
    return element


class _ItemWriter:
    """One question as an assessmentItem, and its Markdown sources for the manifest.

    Documents are built with plain tag names and their namespaces declared on the root, which serializes
    them exactly as QTI tools expect (a default namespace, no generated ns0: prefixes)."""

    def __init__(self, spec: Exportable) -> None:
        self.spec = spec
        self.identifier = f"{ITEM_PREFIX}{spec.uuid}"
        self.sources: list[tuple[str, str, str]] = []  # (field, fingerprint, markdown)

    def _text(self, name: str, source: str, tag: str, *, block: bool, **attributes: str) -> ET.Element:
        html = markdown.render(source) if block else markdown.renderInline(source)
        element = _qti_element(tag, html, **attributes)
        self.sources.append((name, _fingerprint(element), source))
        return element

    def item(self) -> ET.Element:
        spec = self.spec
        root = ET.Element(
            "assessmentItem",
            {
                "xmlns": QTI,
                "identifier": self.identifier,
                "title": spec.title,
                "adaptive": "false",
                "timeDependent": "false",
            },
        )
        choice = isinstance(spec, McqSingle | McqMulti)
        if choice:
            self._response_declaration(root)
        else:
            ET.SubElement(
                root, "responseDeclaration", identifier="RESPONSE", cardinality="single", baseType="string"
            )
        for identifier, cardinality, base, default in (
            ("SCORE", "single", "float", "0"),
            ("MAXSCORE", "single", "float", f"{spec.points:g}"),
        ):
            outcome = ET.SubElement(
                root, "outcomeDeclaration", identifier=identifier, cardinality=cardinality, baseType=base
            )
            ET.SubElement(ET.SubElement(outcome, "defaultValue"), "value").text = default
        if choice:
            ET.SubElement(
                root,
                "outcomeDeclaration",
                identifier="FEEDBACK",
                cardinality="multiple",
                baseType="identifier",
            )
        body = ET.SubElement(root, "itemBody")
        body.append(self._text("prompt", spec.prompt, "div", block=True, **{"class": "assay-prompt"}))
        if isinstance(spec, Written):
            self._written_body(body, spec)
        else:
            self._choice_body(body, spec)
            self._response_processing(root)
        return root

    def _response_declaration(self, root: ET.Element) -> None:
        spec = self.spec
        assert isinstance(spec, McqSingle | McqMulti)
        multi = isinstance(spec, McqMulti)
        declaration = ET.SubElement(
            root,
            "responseDeclaration",
            identifier="RESPONSE",
            cardinality="multiple" if multi else "single",
            baseType="identifier",
        )
        correct = ET.SubElement(declaration, "correctResponse")
        for option in spec.options:
            if option.correct:
                ET.SubElement(correct, "value").text = option.id
        # Assay's scoring: each right tick earns its share, each wrong tick takes a share away, never below 0.
        share = spec.points / len(spec.correct_ids)
        mapping = ET.SubElement(
            declaration,
            "mapping",
            lowerBound="0",
            upperBound=f"{spec.points:g}",
            defaultValue="0",
        )
        for option in spec.options:
            value = share if option.correct else (-share if multi else 0.0)
            ET.SubElement(mapping, "mapEntry", mapKey=option.id, mappedValue=f"{value:.6g}")

    def _choice_body(self, body: ET.Element, spec: McqSingle | McqMulti) -> None:
        interaction = ET.SubElement(
            body,
            "choiceInteraction",
            responseIdentifier="RESPONSE",
            shuffle="true",
            maxChoices="0" if isinstance(spec, McqMulti) else "1",
        )
        for option in spec.options:
            choice = self._text(f"options.{option.id}.text", option.text, "simpleChoice", block=False)
            choice.set("identifier", option.id)
            choice.append(
                self._text(
                    f"options.{option.id}.explanation",
                    option.explanation,
                    "feedbackInline",
                    block=False,
                    outcomeIdentifier="FEEDBACK",
                    identifier=option.id,
                    showHide="show",
                )
            )
            interaction.append(choice)

    def _written_body(self, body: ET.Element, spec: Written) -> None:
        ET.SubElement(
            body,
            "extendedTextInteraction",
            responseIdentifier="RESPONSE",
            expectedLength=str(spec.max_words * 6),  # QTI counts characters; about six per word
            format="plain",
        )
        rubric = ET.SubElement(body, "rubricBlock", {"view": "scorer", "class": "assay-rubric"})
        table = ET.SubElement(rubric, "table")
        header = ET.SubElement(ET.SubElement(table, "thead"), "tr")
        for title in ("Criterion", "Points"):
            ET.SubElement(header, "th").text = title
        rows = ET.SubElement(table, "tbody")
        for criterion in spec.rubric:
            row = ET.SubElement(rows, "tr", id=f"rubric-{criterion.id}")
            row.append(self._text(f"rubric.{criterion.id}", criterion.description, "td", block=False))
            ET.SubElement(row, "td").text = f"{criterion.points:g}"
        reference = ET.SubElement(body, "rubricBlock", {"view": "scorer", "class": "assay-reference-answer"})
        reference.append(self._text("reference_answer", spec.reference_answer, "div", block=True))

    @staticmethod
    def _response_processing(root: ET.Element) -> None:
        processing = ET.SubElement(root, "responseProcessing")
        score = ET.SubElement(processing, "setOutcomeValue", identifier="SCORE")
        ET.SubElement(score, "mapResponse", identifier="RESPONSE")
        feedback = ET.SubElement(processing, "setOutcomeValue", identifier="FEEDBACK")
        ET.SubElement(ET.SubElement(feedback, "multiple"), "variable", identifier="RESPONSE")

    def metadata(self) -> ET.Element:
        spec = self.spec
        question = ET.Element(
            "assay:question",
            {
                "type": spec.type,
                "topic": spec.topic,
                "difficulty": str(spec.difficulty),
                "time-estimate-s": str(spec.time_estimate_s),
                "roles": " ".join(spec.roles),
            },
        )
        if isinstance(spec, Written):
            question.set("max-words", str(spec.max_words))
        for name, fingerprint, source in self.sources:
            ET.SubElement(question, "assay:source", field=name, fingerprint=fingerprint).text = source
        if isinstance(spec, McqSingle | McqMulti):
            for option in spec.options:
                if option.misconception:
                    ET.SubElement(
                        question, "assay:misconception", option=option.id
                    ).text = option.misconception
        return question


def export_qti(specs: Iterable[QuestionSpecModel], destination: Path) -> QtiExport:
    """Write a QTI 2.1 content package of every choice and written question in `specs`."""
    report = QtiExport()
    manifest = ET.Element(
        "manifest", {"xmlns": CP, "xmlns:assay": ASSAY, "identifier": "assay-question-bank"}
    )
    ET.SubElement(manifest, "organizations")
    resources = ET.SubElement(manifest, "resources")
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as package:
        for spec in specs:
            if not isinstance(spec, McqSingle | McqMulti | Written):
                report.skipped.append(f"{spec.title}: {spec.type} questions have no QTI equivalent")
                continue
            writer = _ItemWriter(spec)
            href = f"items/{writer.identifier}.xml"
            item = writer.item()
            package.writestr(href, ET.tostring(item, encoding="utf-8", xml_declaration=True))
            resource = ET.SubElement(
                resources,
                "resource",
                identifier=f"res-{writer.identifier}",
                type="imsqti_item_xmlv2p1",
                href=href,
            )
            ET.SubElement(resource, "metadata").append(writer.metadata())
            ET.SubElement(resource, "file", href=href)
            report.items += 1
        package.writestr("imsmanifest.xml", ET.tostring(manifest, encoding="utf-8", xml_declaration=True))
    return report


# --- import -------------------------------------------------------------------------------------------------


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _first(element: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in element.iter() if _local(e.tag) == name), None)


def _html(element: ET.Element, *, skip: frozenset[str] = frozenset()) -> ET.Element:
    """A copy of the element with namespaces dropped and the named child elements left out."""
    copy = ET.Element(_local(element.tag), {k: v for k, v in element.attrib.items() if "}" not in k})
    copy.text = element.text
    for child in element:
        if _local(child.tag) in skip:
            if child.tail:
                last = copy[-1] if len(copy) else None
                if last is None:
                    copy.text = (copy.text or "") + child.tail
                else:
                    last.tail = (last.tail or "") + child.tail
            continue
        kept = _html(child, skip=skip)
        kept.tail = child.tail
        copy.append(kept)
    return copy


def _as_markdown(element: ET.Element, *, outer: bool = False) -> str:
    """XHTML from another tool as Markdown: a block of an item body whole (`outer`), or what is inside a
    choice, a feedback or a table cell."""
    if outer:
        html = ET.tostring(element, encoding="unicode")
    else:
        html = (element.text or "") + "".join(ET.tostring(child, encoding="unicode") for child in element)
    return str(markdownify(html, heading_style="ATX", bullets="-")).strip()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "question"


class _ItemReader:
    def __init__(self, item: ET.Element, metadata: ET.Element | None, defaults: ImportDefaults) -> None:
        self.item, self.defaults = item, defaults
        self.metadata = metadata
        self.sources = {
            s.get("field", ""): (s.get("fingerprint", ""), s.text or "")
            for s in (metadata.findall(_a("source")) if metadata is not None else [])
        }

    def text(
        self, name: str, element: ET.Element, *, skip: frozenset[str] = frozenset(), outer: bool = False
    ) -> str:
        """The Markdown source exported with the item, unless the item's text was edited since."""
        html = _html(element, skip=skip)
        fingerprint, source = self.sources.get(name, ("", ""))
        if fingerprint and fingerprint == _fingerprint(html):
            return source
        return _as_markdown(html, outer=outer)

    def spec_data(self) -> dict[str, Any]:
        item, meta = self.item, self.metadata
        identifier = item.get("identifier", "")
        if identifier.startswith(ITEM_PREFIX):
            question_uuid = identifier.removeprefix(ITEM_PREFIX)
        else:  # a foreign item keeps one identity across imports
            question_uuid = str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"qti:{identifier}"))
        body = _first(item, "itemBody")
        if body is None:
            raise ValueError("the item has no itemBody")
        data: dict[str, Any] = {
            "uuid": question_uuid,
            "title": item.get("title") or identifier,
            "topic": meta.get("topic") if meta is not None else self.defaults.topic,
            "difficulty": int(meta.get("difficulty", "2")) if meta is not None else self.defaults.difficulty,
            "roles": (meta.get("roles", "").split() if meta is not None else list(self.defaults.roles)),
            "time_estimate_s": (
                int(meta.get("time-estimate-s", "90")) if meta is not None else self.defaults.time_estimate_s
            ),
            "points": self._max_score(),
        }
        if data["topic"] is None:
            raise ValueError("the item carries no Assay topic; pass a default topic for imported items")
        choice = _first(body, "choiceInteraction")
        text = _first(body, "extendedTextInteraction")
        interactions = {"choiceInteraction", "extendedTextInteraction", "rubricBlock"}
        prompt_parts = [self.text("prompt", e, outer=True) for e in body if _local(e.tag) not in interactions]
        if choice is not None:
            inner_prompt = _first(choice, "prompt")
            if inner_prompt is not None:
                prompt_parts.append(_as_markdown(_html(inner_prompt)))
            data.update(self._choice(choice))
        elif text is not None:
            data.update(self._written(body, data["points"]))
        else:
            raise ValueError("only choiceInteraction and extendedTextInteraction items can be imported")
        parts = [part for part in prompt_parts if part.strip()]
        data["prompt"] = parts[0] if len(parts) == 1 else "\n\n".join(p.strip() for p in parts) + "\n"
        return data

    def _max_score(self) -> float:
        for outcome in _children(self.item, "outcomeDeclaration"):
            if outcome.get("identifier") == "MAXSCORE":
                value = _first(outcome, "value")
                if value is not None and value.text:
                    return float(value.text)
        mapping = _first(self.item, "mapping")
        if mapping is not None and mapping.get("upperBound"):
            return float(mapping.get("upperBound", "1"))
        return 1.0

    def _choice(self, interaction: ET.Element) -> dict[str, Any]:
        declaration = next(
            (d for d in _children(self.item, "responseDeclaration") if d.get("identifier") == "RESPONSE"),
            None,
        )
        correct_node = _first(declaration, "correctResponse") if declaration is not None else None
        if declaration is None or correct_node is None:
            raise ValueError("the choice item declares no correctResponse")
        correct = {v.text for v in correct_node if _local(v.tag) == "value"}
        multi = interaction.get("maxChoices", "1") != "1" or declaration.get("cardinality") == "multiple"
        modal = {f.get("identifier"): f for f in _children(self.item, "modalFeedback")}
        tags = {}
        if self.metadata is not None:
            tags = {m.get("option"): m.text for m in self.metadata.findall(_a("misconception"))}
        options = []
        for choice in _children(interaction, "simpleChoice"):
            qti_id = choice.get("identifier", "")
            option_id = re.sub(r"[^a-z0-9_-]+", "-", qti_id.lower())[:20]
            feedback = _first(choice, "feedbackInline")
            if feedback is None:
                feedback = modal.get(qti_id)
            if feedback is None:
                raise ValueError(
                    f"option {qti_id!r} has no feedback; Assay needs an explanation for every option"
                )
            option: dict[str, Any] = {
                "id": option_id,
                "text": self.text(f"options.{option_id}.text", choice, skip=frozenset({"feedbackInline"})),
                "correct": qti_id in correct,
                "explanation": self.text(f"options.{option_id}.explanation", feedback),
            }
            if tags.get(option_id):
                option["misconception"] = tags[option_id]
            options.append(option)
        return {"type": "mcq_multi" if multi else "mcq_single", "options": options}

    def _written(self, body: ET.Element, points: float) -> dict[str, Any]:
        blocks = [b for b in _children(body, "rubricBlock") if b.get("view", "") in {"scorer", "tutor"}]
        rubric_block = next((b for b in blocks if b.get("class") == "assay-rubric"), None)
        reference_block = next((b for b in blocks if b.get("class") == "assay-reference-answer"), None)
        data: dict[str, Any] = {"type": "written"}
        if self.metadata is not None and self.metadata.get("max-words"):
            data["max_words"] = int(self.metadata.get("max-words", "400"))
        if rubric_block is not None and reference_block is not None:
            criteria = []
            for row in (r for r in rubric_block.iter() if _local(r.tag) == "tr" and r.get("id")):
                cells = _children(row, "td")
                criterion_id = row.get("id", "").removeprefix("rubric-")
                criteria.append(
                    {
                        "id": criterion_id,
                        "description": self.text(f"rubric.{criterion_id}", cells[0]),
                        "points": float("".join(cells[1].itertext())),
                    }
                )
            data["rubric"] = criteria
            data["reference_answer"] = self.text("reference_answer", _children(reference_block, "div")[0])
            return data
        if not blocks:
            raise ValueError('the written item has no scorer rubric (rubricBlock view="scorer")')
        # A foreign item's guidance for scorers becomes one criterion worth all the points.
        guidance = "\n\n".join(_as_markdown(_html(block)) for block in blocks)
        data["rubric"] = [{"id": "guidance", "description": guidance, "points": points}]
        data["reference_answer"] = guidance + "\n"
        return data


def _read_xml(package: zipfile.ZipFile, name: str) -> ET.Element:
    try:
        info = package.getinfo(name)
    except KeyError:
        raise QtiError(f"{name}: not in the package") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise QtiError(f"{name}: larger than {MAX_MEMBER_BYTES // 1_000_000} MB")
    try:
        root: ET.Element = SafeET.fromstring(package.read(info))
    except (ET.ParseError, DefusedXmlException) as exc:
        raise QtiError(f"{name}: not safe, well-formed XML ({exc})") from None
    return root


def import_qti(source: Path, pack_dir: Path, defaults: ImportDefaults = ImportDefaults()) -> QtiImport:
    """Turn each item of a QTI package into a bank file in `pack_dir` (an item imported before overwrites its
    file). Items that cannot become valid questions are reported and skipped; the others are written."""
    report = QtiImport()
    try:
        package = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise QtiError(f"{source}: not a zip content package ({exc})") from None
    with package:
        if sum(info.file_size for info in package.infolist()) > MAX_PACKAGE_BYTES:
            raise QtiError(f"{source}: unpacks to more than {MAX_PACKAGE_BYTES // 1_000_000} MB")
        manifest = _read_xml(package, "imsmanifest.xml")
        resources = [
            r for r in manifest.iter() if _local(r.tag) == "resource" and r.get("type") in ITEM_TYPES
        ]
        if len(resources) > MAX_ITEMS:
            raise QtiError(f"{source}: more than {MAX_ITEMS} items")
        existing = _files_by_uuid(pack_dir)
        pack_dir.mkdir(parents=True, exist_ok=True)
        taken = {path.name for path in pack_dir.glob("*.yaml")}
        for resource in resources:
            href = str(PurePosixPath(resource.get("href", "")))
            try:
                item = _read_xml(package, href)
                spec = question_adapter.validate_python(
                    _ItemReader(item, resource.find(f".//{_a('question')}"), defaults).spec_data()
                )
            except QtiError as exc:
                report.problems.append(str(exc))
                continue
            except ValidationError as exc:
                fields = "; ".join(
                    f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors()
                )
                report.problems.append(f"{href}: {fields}")
                continue
            except (ValueError, IndexError) as exc:
                report.problems.append(f"{href}: {exc}")
                continue
            path = existing.get(str(spec.uuid))
            if path is None:
                path = pack_dir / _free_name(_slug(spec.title), taken)
            path.write_text(question_yaml(spec), encoding="utf-8")
            report.written.append(path)
    return report


def _files_by_uuid(pack_dir: Path) -> dict[str, Path]:
    found = {}
    for path in pack_dir.glob("*.yaml"):
        match = re.search(r"^uuid:\s*([0-9a-f-]{36})", path.read_text(encoding="utf-8"), re.M)
        if match:
            found[match.group(1)] = path
    return found


def _free_name(slug: str, taken: set[str]) -> str:
    name, n = f"{slug}.yaml", 2
    while name in taken:
        name, n = f"{slug}-{n}.yaml", n + 1
    taken.add(name)
    return name
