"""The saved-heatmap service the API and the web UI share."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import Flask

from heatmap_app import heatmaps
from heatmap_app.models import User

PAGE_URL = "https://93.184.216.34/"


def heatmap_with(*widths_and_sizes: tuple[int, int]) -> SimpleNamespace:
    return SimpleNamespace(
        snapshots=[SimpleNamespace(width=width, has_content=size > 0) for width, size in widths_and_sizes]
    )


@pytest.mark.parametrize(
    ("stored", "wanted", "picked"),
    [
        ([(320, 1), (1024, 1)], 1024, 1024),
        ([(320, 1), (1024, 1)], 700, 1024),
        ([(320, 1), (1024, 1)], 672, 320),  # a tie goes to the smaller width
        ([(320, 1), (1024, 0)], 1024, 320),  # without content is never picked
        ([(320, 1)], 5000, 320),
        ([(1024, 0)], 1024, None),
        ([], 1024, None),
    ],
)
def test_pick_snapshot(stored, wanted: int, picked: int | None) -> None:
    snapshot = heatmaps.pick_snapshot(heatmap_with(*stored), wanted)  # type: ignore[arg-type]

    assert (snapshot.width if snapshot else None) == picked


@pytest.mark.parametrize(
    ("widths", "cleaned"),
    [([1024, 320, 1024], [320, 1024]), ([100, 3000], [100, 3000]), (list(range(100, 1700, 100)), list(range(100, 1700, 100)))],
)
def test_widths_are_sorted_and_deduplicated(widths: list[int], cleaned: list[int]) -> None:
    assert heatmaps.clean_widths(widths) == cleaned


def test_a_created_heatmap_gets_an_8_character_short_id_unique_in_its_project(app: Flask, user: User) -> None:
    created = [heatmaps.create_heatmap(user.current_project, user, {"url": PAGE_URL, "type": "iframe"}) for _ in range(5)]

    short_ids = {heatmap.short_id for heatmap in created}
    assert len(short_ids) == 5 and all(len(short_id) == 8 for short_id in short_ids)


def test_input_errors_name_the_api_field(app: Flask, user: User) -> None:
    with pytest.raises(heatmaps.HeatmapInputError) as error:
        heatmaps.create_heatmap(user.current_project, user, {"url": PAGE_URL, "widths": [1, 2]})

    assert error.value.field == "widths" and "between 100 and 3000" in error.value.message


def test_get_heatmap_raises_not_found_for_another_projects_heatmap(app: Flask, user: User, other_user: User) -> None:
    theirs = heatmaps.create_heatmap(other_user.current_project, other_user, {"url": PAGE_URL, "type": "iframe"})

    with pytest.raises(heatmaps.HeatmapNotFound):
        heatmaps.get_heatmap(user.current_project, theirs.short_id)
    with pytest.raises(heatmaps.HeatmapNotFound):
        heatmaps.get_heatmap_by_id(user.current_project, theirs.id)
    assert heatmaps.get_heatmap(other_user.current_project, theirs.short_id) == theirs
