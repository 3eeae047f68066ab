"""The JSON shapes of the history API (our extension): one typed definition each, from which the OpenAPI
components are generated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from heatmap_app.heatmap_schemas import UTCTimestamp
from heatmap_app.models import CaptureRun


class RunSnapshot(BaseModel):
    width: int
    height: int = Field(description="Pixels of the stored screenshot (cut at the height cap).")
    page_height: int


class RunChange(BaseModel):
    compared_with: int = Field(description="The run compared with: the completed run before this one.")
    changed_share: float = Field(description="Share of the page that changed, 0-1, the largest over the widths.")
    height_change: int = Field(description="Page pixels gained (or lost, negative) at that width.")


class CaptureRunResponse(BaseModel):
    number: int = Field(description="The run's number (the heatmap's capture generation).")
    trigger: Literal["create", "regenerate", "edit", "schedule", "upload"]
    status: Literal["processing", "completed", "failed"]
    exception: str | None
    url: str
    target_widths: list[int]
    block_consent_modals: bool
    started_at: UTCTimestamp
    ended_at: UTCTimestamp | None
    change: RunChange | None
    snapshots: list[RunSnapshot]

    @classmethod
    def of(cls, run: CaptureRun) -> CaptureRunResponse:
        change = None
        if run.compared_with_generation is not None and run.changed_share is not None:
            change = RunChange(compared_with=run.compared_with_generation, changed_share=run.changed_share,
                               height_change=run.height_change or 0)
        return cls(
            number=run.generation, trigger=run.trigger, status=run.status, exception=run.exception, url=run.url,
            target_widths=run.target_widths, block_consent_modals=run.block_consent_modals,
            started_at=run.started_at, ended_at=run.ended_at, change=change,
            snapshots=[RunSnapshot(width=s.width, height=s.height, page_height=s.page_height)
                       for s in run.snapshots if s.has_content],
        )


class CaptureRunList(BaseModel):
    count: int
    results: list[CaptureRunResponse]


class RunDiffResponse(BaseModel):
    before: int
    after: int
    width: int
    changed_share: float
    height_before: int
    height_after: int
    height_change: int


class ChangedHeatmap(BaseModel):
    id: str
    short_id: str
    name: str | None
    url: str
    project_id: int


class ChangedRun(BaseModel):
    number: int
    trigger: str
    ended_at: UTCTimestamp | None
    compared_with: int | None
    changed_share: float | None
    height_change: int | None


class ChangeWebhookPayload(BaseModel):
    """The body of the "page changed" webhook."""

    event: Literal["heatmap.changed"] = "heatmap.changed"
    heatmap: ChangedHeatmap
    run: ChangedRun

    @classmethod
    def of(cls, run: CaptureRun) -> ChangeWebhookPayload:
        heatmap = run.heatmap
        return cls(
            heatmap=ChangedHeatmap(id=heatmap.id, short_id=heatmap.short_id, name=heatmap.name, url=heatmap.url,
                                   project_id=heatmap.project_id),
            run=ChangedRun(number=run.generation, trigger=run.trigger, ended_at=run.ended_at,
                           compared_with=run.compared_with_generation, changed_share=run.changed_share,
                           height_change=run.height_change),
        )
