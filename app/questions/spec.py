"""The question file format: one YAML file per question under question_bank/<pack>/.

This pydantic model is the single definition; `assay bank schema` exports it as JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator

from app.questions.generators import GENERATORS, parameter_names, placeholders
from grader import diagnosis_codes, list_tasks

Topic = Literal[
    "normalization-basics",
    "internal-covariate-shift",
    "mean-variance",
    "scale-shift",
    "train-vs-inference",
    "benefits",
    "placement",
    "small-batch",
    "backward",
    "deployment",
    "applications",
]
# How pages name each topic (the slug stays the API's and the bank's).
TOPIC_NAMES: dict[str, str] = {
    "normalization-basics": "Normalization basics",
    "internal-covariate-shift": "Internal covariate shift",
    "mean-variance": "Mean and variance",
    "scale-shift": "Scale and shift (gamma, beta)",
    "train-vs-inference": "Training vs inference",
    "benefits": "Benefits",
    "placement": "Placement in a network",
    "small-batch": "Small batches and alternatives",
    "backward": "Backward pass",
    "deployment": "Deployment and folding",
    "applications": "Applications",
}
JobRole = Literal[
    "data-scientist", "ai-engineer", "deep-learning-engineer", "ml-engineer", "research-scientist"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,20}$")]
    text: Annotated[str, Field(min_length=1)]
    correct: bool = False
    explanation: Annotated[str, Field(min_length=1, description="Why this option is right or wrong")]
    misconception: Annotated[
        str | None,
        Field(
            description="Grader diagnosis code of the mistake this distractor stands for, so a report can set"
            " a concept answer beside the code's behaviour"
        ),
    ] = None

    @field_validator("misconception")
    @classmethod
    def _known_diagnosis(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if value not in diagnosis_codes():
            raise ValueError(
                f"unknown diagnosis code {value!r} (known: {', '.join(sorted(diagnosis_codes()))})"
            )
        if info.data.get("correct"):
            raise ValueError("a correct option cannot stand for a misconception")
        return value


class RubricCriterion(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,40}$")]
    description: Annotated[str, Field(min_length=1, description="What an answer must say to earn the points")]
    points: Annotated[float, Field(gt=0)]


class _QuestionBase(_Strict):
    uuid: UUID
    title: Annotated[str, Field(min_length=3, max_length=300)]
    topic: Topic
    difficulty: Annotated[int, Field(ge=1, le=3, description="1 easy, 2 medium, 3 hard")]
    roles: Annotated[list[JobRole], Field(min_length=1)]
    points: Annotated[float, Field(gt=0)]
    time_estimate_s: Annotated[int, Field(gt=0, le=3600)]
    prompt: Annotated[str, Field(min_length=1, description="Markdown; $…$ for math")]


class _ChoiceQuestion(_QuestionBase):
    options: Annotated[list[Option], Field(min_length=2, max_length=8)]

    @field_validator("options")
    @classmethod
    def _distinct_ids(cls, options: list[Option]) -> list[Option]:
        ids = [o.id for o in options]
        if len(set(ids)) != len(ids):
            raise ValueError("option ids must be unique")
        return options

    @property
    def correct_ids(self) -> frozenset[str]:
        return frozenset(o.id for o in self.options if o.correct)


class McqSingle(_ChoiceQuestion):
    type: Literal["mcq_single"]

    @field_validator("options")
    @classmethod
    def _exactly_one_correct(cls, options: list[Option]) -> list[Option]:
        correct = sum(o.correct for o in options)
        if correct != 1:
            raise ValueError(f"mcq_single needs exactly one correct option, found {correct}")
        return options


class McqMulti(_ChoiceQuestion):
    type: Literal["mcq_multi"]

    @field_validator("options")
    @classmethod
    def _some_correct(cls, options: list[Option]) -> list[Option]:
        if not any(o.correct for o in options):
            raise ValueError("mcq_multi needs at least one correct option")
        return options


class Written(_QuestionBase):
    type: Literal["written"]
    reference_answer: Annotated[str, Field(min_length=1)]
    rubric: Annotated[list[RubricCriterion], Field(min_length=1)]
    max_words: Annotated[int, Field(gt=0)] = 400

    @field_validator("rubric")
    @classmethod
    def _rubric_adds_up(cls, rubric: list[RubricCriterion], info: ValidationInfo) -> list[RubricCriterion]:
        total, points = sum(c.points for c in rubric), info.data.get("points")
        if points is not None and abs(total - points) > 1e-9:
            raise ValueError(f"rubric points add up to {total:g} but the question is worth {points:g}")
        return rubric


class Tolerance(_Strict):
    """An answer within `abs + rel * |answer|` of the generated answer earns the points."""

    abs: Annotated[float, Field(ge=0)] = 0.0
    rel: Annotated[float, Field(ge=0)] = 1e-3


class Numeric(_QuestionBase):
    type: Literal["numeric"]
    generator: Annotated[
        str, Field(description="Id of the parameter generator in app/questions/generators.py")
    ]
    tolerance: Tolerance = Tolerance()
    unit: Annotated[str, Field(max_length=40)] = ""
    explanation: Annotated[str, Field(min_length=1, description="How the answer is worked out")]

    @field_validator("generator")
    @classmethod
    def _known_generator_matching_the_prompt(cls, value: str, info: ValidationInfo) -> str:
        if value not in GENERATORS:
            raise ValueError(f"unknown generator {value!r} (known: {', '.join(sorted(GENERATORS))})")
        used, provided = placeholders(info.data.get("prompt", "")), parameter_names(value)
        if not used:
            raise ValueError("the prompt must show the candidate's parameters ({{ name }} placeholders)")
        if used - provided:
            raise ValueError(
                f"the prompt uses {sorted(used - provided)} but {value!r} provides {sorted(provided)}"
            )
        return value


class Coding(_QuestionBase):
    type: Literal["coding"]
    task: Annotated[str, Field(description="Grader task id (see `assay tasks list`)")]

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        if value not in list_tasks():
            raise ValueError(f"unknown grader task {value!r} (known: {', '.join(list_tasks())})")
        return value


AnyQuestion = McqSingle | McqMulti | Numeric | Written | Coding
QuestionSpec = Annotated[AnyQuestion, Field(discriminator="type")]
question_adapter: TypeAdapter[AnyQuestion] = TypeAdapter(QuestionSpec)
