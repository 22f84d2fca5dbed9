"""QTI 2.1 packages: the shipped bank survives a round trip, the scoring other tools read matches Assay's,
edits made in another tool win over the exported Markdown, foreign items import, hostile packages do not."""

from __future__ import annotations

import itertools
import re
import zipfile
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from app.questions.qti import QTI, ImportDefaults, QtiError, export_qti, import_qti
from app.questions.service import load_bank
from app.questions.spec import McqMulti, McqSingle, Written

BANK = load_bank()
SPECS = [entry.spec for entry in BANK.entries]
EXPORTABLE = [spec for spec in SPECS if isinstance(spec, McqSingle | McqMulti | Written)]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("qti") / "bank.zip"
    export_qti(SPECS, path)
    return path


def _items(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.startswith("items/")}


def _rewrite(package: Path, destination: Path, edit: dict[str, tuple[str, str]]) -> Path:
    """Copy a package, replacing text in the named members (as a recruiter editing in another tool)."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(destination, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name in edit:
                old, new = edit[name]
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            target.writestr(name, data)
    return destination


def test_export_skips_only_what_qti_cannot_express() -> None:
    report = export_qti(SPECS, Path("/dev/null"))
    assert report.items == len(EXPORTABLE) >= 92
    assert len(report.skipped) == len(SPECS) - len(EXPORTABLE)
    assert all(re.search(r": (numeric|coding) questions have no QTI equivalent$", s) for s in report.skipped)


def test_round_trip_gives_back_every_choice_and_written_question(package: Path, tmp_path: Path) -> None:
    report = import_qti(package, tmp_path / "bank" / "imported")
    assert report.problems == [] and len(report.written) == len(EXPORTABLE)
    imported = load_bank(tmp_path / "bank")
    assert imported.problems == []
    assert sorted((e.spec for e in imported.entries), key=lambda s: str(s.uuid)) == sorted(
        EXPORTABLE, key=lambda s: str(s.uuid)
    )
    # Importing again updates the same files instead of adding copies.
    again = import_qti(package, tmp_path / "bank" / "imported")
    assert sorted(again.written) == sorted(report.written)
    assert len(list((tmp_path / "bank" / "imported").glob("*.yaml"))) == len(EXPORTABLE)


def _score(root: object, chosen: set[str]) -> float:
    """What a QTI engine computes with the item's mapping: the sum of mapped values, within the bounds."""
    mapping = root.find(f".//{{{QTI}}}mapping")  # type: ignore[attr-defined]
    values = {e.get("mapKey"): float(e.get("mappedValue")) for e in mapping}
    total = sum(values.get(choice, float(mapping.get("defaultValue"))) for choice in chosen)
    return float(min(max(total, float(mapping.get("lowerBound"))), float(mapping.get("upperBound"))))


def test_qti_scoring_matches_assays_for_every_answer(package: Path) -> None:
    items = _items(package)
    for spec in EXPORTABLE:
        root = SafeET.fromstring(items[f"items/assay-{spec.uuid}.xml"])
        assert root.tag == f"{{{QTI}}}assessmentItem" and root.get("title") == spec.title
        if isinstance(spec, Written):
            assert root.find(f".//{{{QTI}}}extendedTextInteraction") is not None
            assert len(root.findall(f".//{{{QTI}}}rubricBlock[@view='scorer']")) == 2
            continue
        correct = {v.text for v in root.iterfind(f".//{{{QTI}}}correctResponse/{{{QTI}}}value")}
        assert correct == spec.correct_ids
        ids = [o.id for o in spec.options]
        feedback = root.findall(f".//{{{QTI}}}simpleChoice/{{{QTI}}}feedbackInline")
        assert [f.get("identifier") for f in feedback] == ids
        answers = [set(c) for n in range(len(ids) + 1) for c in itertools.combinations(ids, n)]
        if isinstance(spec, McqSingle):
            answers = [{choice} for choice in ids]
        for chosen in answers:
            hits, false_alarms = len(chosen & spec.correct_ids), len(chosen - spec.correct_ids)
            expected = spec.points * max(0.0, (hits - false_alarms) / len(spec.correct_ids))
            assert _score(root, chosen) == pytest.approx(expected, abs=1e-5), (spec.title, chosen)


def test_a_text_edited_in_another_tool_wins_over_the_exported_markdown(package: Path, tmp_path: Path) -> None:
    spec = next(s for s in EXPORTABLE if s.title == "Which axes a convolutional batch norm averages over")
    assert isinstance(spec, McqSingle)
    member = f"items/assay-{spec.uuid}.xml"
    edited = _rewrite(
        package,
        tmp_path / "edited.zip",
        {member: ("Over all four axes: a single mean", "Over <em>every</em> axis: a single mean")},
    )
    report = import_qti(edited, tmp_path / "bank" / "imported")
    assert report.problems == []
    imported = next(e.spec for e in load_bank(tmp_path / "bank").entries if e.spec.uuid == spec.uuid)
    assert isinstance(imported, McqSingle)
    changed = {
        o.id: o.text for o in imported.options if o.text != next(p for p in spec.options if p.id == o.id).text
    }
    assert changed == {"d": "Over *every* axis: a single mean and variance for the whole tensor."}
    assert imported.prompt == spec.prompt and imported.options[1].misconception == "per_sample_statistics"


FOREIGN_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="MANIFEST-1">
  <organizations/>
  <resources>
    <resource identifier="i1" type="imsqti_item_xmlv2p1" href="choice.xml"/>
    <resource identifier="i2" type="imsqti_item_xmlv2p1" href="essay.xml"/>
    <resource identifier="i3" type="imsqti_item_xmlv2p1" href="bare.xml"/>
    <resource identifier="i4" type="imsqti_item_xmlv2p1" href="missing.xml"/>
  </resources>
</manifest>
"""
FOREIGN_CHOICE = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="ITEM-BN-7" title="Momentum"
    adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>ChoiceB</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <outcomeDeclaration identifier="FEEDBACK" cardinality="single" baseType="identifier"/>
  <itemBody>
    <p>Our team uses <strong>PyTorch</strong>.</p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <prompt>What does <code>momentum=0.1</code> weight?</prompt>
      <simpleChoice identifier="ChoiceA">The old running value</simpleChoice>
      <simpleChoice identifier="ChoiceB">The new batch statistic</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
  <modalFeedback outcomeIdentifier="FEEDBACK" identifier="ChoiceA" showHide="show"
    >That is Keras.</modalFeedback>
  <modalFeedback outcomeIdentifier="FEEDBACK" identifier="ChoiceB" showHide="show">Right.</modalFeedback>
</assessmentItem>
"""
FOREIGN_ESSAY = """<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="ESSAY-1"
    title="Explain eval mode" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">
    <defaultValue><value>3</value></defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <p>Why does a model behave differently after <code>model.eval()</code>?</p>
    <extendedTextInteraction responseIdentifier="RESPONSE"/>
    <rubricBlock view="scorer"><p>Full marks for naming running statistics.</p></rubricBlock>
  </itemBody>
</assessmentItem>
"""
BARE_CHOICE = FOREIGN_CHOICE.replace('identifier="ITEM-BN-7"', 'identifier="BARE"').split("<modalFeedback")[0]


def _foreign_package(path: Path, **members: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name.replace("_", "."), text)
    return path


def test_items_from_another_tool_import_with_defaults(tmp_path: Path) -> None:
    package = _foreign_package(
        tmp_path / "foreign.zip",
        imsmanifest_xml=FOREIGN_MANIFEST,
        choice_xml=FOREIGN_CHOICE,
        essay_xml=FOREIGN_ESSAY,
        bare_xml=BARE_CHOICE + "</assessmentItem>",
    )
    defaults = ImportDefaults(topic="train-vs-inference", difficulty=1, roles=("data-scientist",))
    report = import_qti(package, tmp_path / "bank" / "imported", defaults)
    assert report.problems == [
        "bare.xml: option 'ChoiceA' has no feedback; Assay needs an explanation for every option",
        "missing.xml: not in the package",
    ]
    specs = {e.spec.title: e.spec for e in load_bank(tmp_path / "bank").entries}
    choice, essay = specs["Momentum"], specs["Explain eval mode"]
    assert isinstance(choice, McqSingle) and isinstance(essay, Written)
    assert choice.prompt == "Our team uses **PyTorch**.\n\nWhat does `momentum=0.1` weight?\n"
    assert [(o.id, o.text, o.correct, o.explanation) for o in choice.options] == [
        ("choicea", "The old running value", False, "That is Keras."),
        ("choiceb", "The new batch statistic", True, "Right."),
    ]
    assert (choice.topic, choice.difficulty, choice.roles, choice.points) == (
        "train-vs-inference",
        1,
        ["data-scientist"],
        1.0,
    )
    assert essay.points == 3 and [(c.id, c.points) for c in essay.rubric] == [("guidance", 3)]
    assert essay.rubric[0].description == "Full marks for naming running statistics."


def test_a_foreign_item_needs_a_topic(tmp_path: Path) -> None:
    package = _foreign_package(
        tmp_path / "f.zip", imsmanifest_xml=FOREIGN_MANIFEST, choice_xml=FOREIGN_CHOICE
    )
    report = import_qti(package, tmp_path / "bank" / "imported")
    assert report.problems[0] == (
        "choice.xml: the item carries no Assay topic; pass a default topic for imported items"
    )


def test_invalid_values_name_the_field(tmp_path: Path) -> None:
    package = _foreign_package(
        tmp_path / "f.zip", imsmanifest_xml=FOREIGN_MANIFEST, choice_xml=FOREIGN_CHOICE
    )
    report = import_qti(package, tmp_path / "b" / "p", ImportDefaults(topic="cooking"))
    assert report.problems[0].startswith("choice.xml: topic: Input should be")


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<manifest>&lol2;</manifest>
"""


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (None, "not a zip content package"),
        ({"readme.txt": "hello"}, "imsmanifest.xml: not in the package"),
        ({"imsmanifest.xml": BOMB}, "imsmanifest.xml: not safe, well-formed XML"),
        (
            {"imsmanifest.xml": "<manifest><unclosed></manifest>"},
            "imsmanifest.xml: not safe, well-formed XML",
        ),
    ],
    ids=["not_a_zip", "no_manifest", "entity_expansion", "malformed"],
)
def test_unreadable_or_hostile_packages_are_refused(
    tmp_path: Path, members: dict[str, str] | None, message: str
) -> None:
    path = tmp_path / "p.zip"
    if members is None:
        path.write_text("not a zip")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in members.items():
                archive.writestr(name, text)
    with pytest.raises(QtiError, match=re.escape(message)):
        import_qti(path, tmp_path / "bank" / "x")
    assert not (tmp_path / "bank" / "x").exists() or not list((tmp_path / "bank" / "x").iterdir())
