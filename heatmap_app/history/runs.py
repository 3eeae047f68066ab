"""Capture runs: one per generation of a saved heatmap, kept (with their screenshots) up to HEATMAP_RUNS_KEPT
per heatmap, and compared with the run before them to tell whether the page changed."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, current_app
from sqlalchemy import select, update

from heatmap_app import storage
from heatmap_app.extensions import db
from heatmap_app.history.diff import ScreenshotDiff, measure_change, picture_change
from heatmap_app.models import CaptureRun, HeatmapSnapshot, SavedHeatmap
from heatmap_app.models.base import utcnow

SUPERSEDED = "A newer capture of this heatmap started before this one ended."


class RunNotFound(LookupError):
    """No such run of this heatmap (or it is no longer kept), or no screenshot of it at that width."""


def end_unfinished_runs(heatmap: SavedHeatmap) -> None:
    """End the runs still processing (the caller moved the generation on and commits): their jobs write nothing."""
    now = utcnow()
    for run in heatmap.runs:
        if run.status == "processing":
            run.status, run.exception, run.ended_at = "failed", SUPERSEDED, now


def start_run(heatmap: SavedHeatmap, trigger: str) -> CaptureRun:
    """Record the run of the heatmap's new generation (the caller bumped it and commits); a run still processing
    ends now."""
    end_unfinished_runs(heatmap)
    now = utcnow()
    run = CaptureRun(
        generation=heatmap.capture_generation,
        trigger=trigger,
        url=heatmap.url,
        target_widths=list(heatmap.target_widths),
        block_consent_modals=heatmap.block_consent_modals,
        status="processing",
        started_at=now,
    )
    heatmap.runs.insert(0, run)
    return run


def settle_run(heatmap_id: str, generation: int, *, exception: str | None) -> None:
    """End a run (the capture job's settle, in the same transaction)."""
    db.session.execute(
        update(CaptureRun)
        .where(CaptureRun.heatmap_id == heatmap_id, CaptureRun.generation == generation,
               CaptureRun.status == "processing")
        .values(status="failed" if exception else "completed", exception=exception, ended_at=utcnow())
    )


def prune_runs(heatmap_id: str) -> int:
    """Delete the runs past the newest HEATMAP_RUNS_KEPT with their screenshots: rows first, then files, so no
    row ever points at a missing file. How many runs went."""
    keep = current_app.config["HEATMAP_RUNS_KEPT"]
    old_generations = db.session.scalars(
        select(CaptureRun.generation)
        .where(CaptureRun.heatmap_id == heatmap_id)
        .order_by(CaptureRun.generation.desc())
        .offset(keep)
    ).all()
    if not old_generations:
        return 0
    old_snapshots = db.session.scalars(
        select(HeatmapSnapshot).where(
            HeatmapSnapshot.heatmap_id == heatmap_id, HeatmapSnapshot.generation.in_(old_generations)
        )
    ).all()
    for snapshot in old_snapshots:
        db.session.delete(snapshot)
    for run in db.session.scalars(
        select(CaptureRun).where(CaptureRun.heatmap_id == heatmap_id, CaptureRun.generation.in_(old_generations))
    ):
        db.session.delete(run)
    db.session.commit()
    storage.delete_snapshot_files(old_snapshots)
    return len(old_generations)


def list_runs(heatmap: SavedHeatmap) -> list[CaptureRun]:
    return list(heatmap.runs)


def get_run(heatmap: SavedHeatmap, generation: int) -> CaptureRun:
    run = next((run for run in heatmap.runs if run.generation == generation), None)
    if run is None:
        raise RunNotFound(generation)
    return run


def run_snapshot(run: CaptureRun, width: int) -> HeatmapSnapshot:
    snapshot = next((item for item in run.snapshots if item.width == width and item.has_content), None)
    if snapshot is None:
        raise RunNotFound(width)
    return snapshot


def shown_snapshots(heatmap: SavedHeatmap) -> list[HeatmapSnapshot]:
    """What the UI shows of each width: the current run's screenshot, or, while a new run of the same page is under
    way, the last completed run's for the widths the new one has not reached (never a screenshot of another URL or
    consent setting; the API serves the current run's alone)."""
    shown = {snapshot.width: snapshot for snapshot in heatmap.snapshots if snapshot.has_content}
    if heatmap.status == "processing":
        previous = next((run for run in heatmap.runs
                         if run.status == "completed" and run.generation < heatmap.capture_generation), None)
        if previous is not None and (previous.url, previous.block_consent_modals) != (heatmap.url,
                                                                                      heatmap.block_consent_modals):
            previous = None
        for snapshot in previous.snapshots if previous is not None else []:
            if snapshot.has_content and snapshot.width in heatmap.target_widths:
                shown.setdefault(snapshot.width, snapshot)
    return sorted(shown.values(), key=lambda snapshot: snapshot.width)


def previous_completed_run(run: CaptureRun) -> CaptureRun | None:
    return db.session.scalar(
        select(CaptureRun)
        .where(CaptureRun.heatmap_id == run.heatmap_id, CaptureRun.generation < run.generation,
               CaptureRun.status == "completed")
        .order_by(CaptureRun.generation.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class RunComparison:
    """How run `after` differs from run `before`: the figure at each width both have."""

    before: CaptureRun
    after: CaptureRun
    by_width: dict[int, ScreenshotDiff]

    @property
    def largest(self) -> tuple[int, ScreenshotDiff] | None:
        if not self.by_width:
            return None
        return max(self.by_width.items(), key=lambda item: (item[1].changed_share, item[0]))


def compare_runs(before: CaptureRun, after: CaptureRun) -> RunComparison:
    before_by_width = {snapshot.width: snapshot for snapshot in before.snapshots if snapshot.has_content}
    figures = {
        snapshot.width: measure_change(
            storage.read_snapshot(before_by_width[snapshot.width]), storage.read_snapshot(snapshot)
        )
        for snapshot in after.snapshots
        if snapshot.has_content and snapshot.width in before_by_width
    }
    return RunComparison(before=before, after=after, by_width=figures)


def measure_runs(before: CaptureRun, after: CaptureRun, width: int) -> ScreenshotDiff:
    """How far two runs differ at one width (RunNotFound if either lacks it)."""
    return measure_change(
        storage.read_snapshot(run_snapshot(before, width)), storage.read_snapshot(run_snapshot(after, width))
    )


def diff_picture_response(before: CaptureRun, after: CaptureRun, width: int) -> Response:
    """The highlight JPEG of two runs at one width, its figures in X-Heatmap-* headers, for the UI and the API."""
    figure, picture = picture_change(
        storage.read_snapshot(run_snapshot(before, width)), storage.read_snapshot(run_snapshot(after, width))
    )
    return Response(picture, mimetype="image/jpeg", headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
        "X-Heatmap-Changed-Share": f"{figure.changed_share:.4f}", "X-Heatmap-Height-Change": str(figure.height_change),
    })


def record_change(run: CaptureRun) -> bool:
    """Compare a completed run with the previous completed one, store the figure on the run, and mark the heatmap
    changed (or no longer changed) when this is its newest run. Whether the page changed past the threshold."""
    previous = previous_completed_run(run)
    if previous is None:
        return False
    largest = compare_runs(previous, run).largest
    if largest is None:
        return False
    width, figure = largest
    run.compared_with_generation = previous.generation
    run.changed_share = round(figure.changed_share, 4)
    run.height_change = figure.height_change
    changed = figure.changed_share > current_app.config["HEATMAP_CHANGE_THRESHOLD"]
    heatmap = run.heatmap
    if heatmap.capture_generation == run.generation:
        heatmap.changed_at = utcnow() if changed else None
    db.session.commit()
    current_app.logger.info("Run %s of heatmap %s: %.1f%% changed at %s px", run.generation, heatmap.id,
                            figure.changed_share * 100, width)
    return changed
