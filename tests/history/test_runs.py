"""Capture runs: each capture keeps its own screenshots, only the newest HEATMAP_RUNS_KEPT runs stay (rows and files
together), and a completed run is compared with the one before it."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from heatmap_app import heatmaps, storage
from heatmap_app.extensions import db
from heatmap_app.history.runs import get_run, record_change
from heatmap_app.models import CaptureRun, HeatmapSnapshot


def files_under(root: str) -> set[str]:
    return {str(path.relative_to(root)) for path in Path(root).rglob("*.jpg")}


def test_every_run_keeps_its_own_screenshots_and_only_the_current_one_is_served(app: Flask, captured_run) -> None:
    heatmap = captured_run(color="steelblue")
    first_run_files = {storage.snapshot_file_path(snapshot) for snapshot in heatmap.snapshots}
    captured_run(heatmap, color="orange")

    runs = [(run.generation, run.trigger, run.status) for run in heatmap.runs]
    assert runs == [(2, "regenerate", "completed"), (1, "create", "completed")]
    assert {snapshot.generation for snapshot in heatmap.snapshots} == {2}
    assert {storage.snapshot_file_path(snapshot) for snapshot in get_run(heatmap, 1).snapshots} == first_run_files
    assert all(path.is_file() for path in first_run_files)


def test_runs_past_the_kept_number_go_with_their_rows_and_files_together(app: Flask, captured_run) -> None:
    heatmap = captured_run()
    for color in ("orange", "purple", "green", "black"):  # five runs, three kept
        captured_run(heatmap, color=color)

    kept = db.session.scalars(select(CaptureRun.generation).where(CaptureRun.heatmap_id == heatmap.id)).all()
    snapshots = db.session.scalars(select(HeatmapSnapshot).where(HeatmapSnapshot.heatmap_id == heatmap.id)).all()
    assert sorted(kept) == [3, 4, 5]
    assert sorted({snapshot.generation for snapshot in snapshots}) == [3, 4, 5]
    # Every row points at its file and every file on disk belongs to a row: nothing orphaned either way.
    expected = {snapshot.file_path for snapshot in snapshots} | {snapshot.thumbnail_path for snapshot in snapshots}
    assert files_under(app.config["MEDIA_ROOT"]) == expected


def test_a_run_that_changed_the_page_marks_the_heatmap_changed_and_a_same_looking_one_clears_it(
    app: Flask, captured_run
) -> None:
    heatmap = captured_run(color="steelblue")
    captured_run(heatmap, color="orange")

    assert record_change(get_run(heatmap, 2)) is True
    run = get_run(heatmap, 2)
    assert (run.compared_with_generation, run.changed_share, run.height_change) == (1, 1.0, 0)
    assert heatmap.changed_at is not None

    captured_run(heatmap, color="orange")
    assert record_change(get_run(heatmap, 3)) is False
    assert get_run(heatmap, 3).changed_share == 0.0
    assert heatmap.changed_at is None


def test_a_run_superseded_by_a_newer_one_ends_failed_and_says_why(app: Flask, captured_run) -> None:
    heatmap = captured_run()
    heatmaps.regenerate_heatmap(heatmap)
    heatmaps.regenerate_heatmap(heatmap)

    statuses = {run.generation: (run.status, run.exception) for run in heatmap.runs}
    assert statuses[2][0] == "failed" and "newer capture" in statuses[2][1]
    assert statuses[3] == ("processing", None)
    assert db.session.scalar(select(func.count()).select_from(CaptureRun)) == 3
