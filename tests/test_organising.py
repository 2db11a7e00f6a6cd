"""REST: priorities, due dates and tags on tasks; the filters and orders of `GET /api/tasks`;
`GET /api/tags`. (Contract: "Data", "Organising tasks".)"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import Account, create_task


def listed(client: TestClient, account: Account, **params: Any) -> list[str]:
    response = client.get("/api/tasks", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


def bad_field(response: Any) -> list[str]:
    assert response.status_code == 400, response.text
    return [error["field"] for error in response.json()["errors"]]


# Data -----------------------------------------------------------------------------------------


def test_a_new_task_has_priority_none_no_due_date_no_tags_and_version_1(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "plain")
    assert (task["priority"], task["due_at"], task["tags"], task["version"]) == (
        "none",
        None,
        [],
        1,
    )


def test_a_task_is_created_with_priority_due_date_and_tags(
    client: TestClient, alice: Account
) -> None:
    task = create_task(
        client,
        alice,
        "full",
        priority="high",
        due_at="2030-01-02T03:04:05+02:00",
        tags=["Work", "home"],
    )
    assert task["priority"] == "high"
    assert task["due_at"] == "2030-01-02T01:04:05Z"
    assert task["tags"] == ["home", "Work"]
    assert client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json() == task


def test_a_due_date_without_a_time_zone_is_refused(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/tasks", json={"title": "t", "due_at": "2030-01-02T03:04:05"}, headers=alice.headers
    )
    assert bad_field(response) == ["due_at"]
    assert listed(client, alice) == []


@pytest.mark.parametrize("priority", ["urgent", "HIGH", None, 3])
def test_an_unknown_or_null_priority_is_refused(
    client: TestClient, alice: Account, priority: object
) -> None:
    response = client.post(
        "/api/tasks", json={"title": "t", "priority": priority}, headers=alice.headers
    )
    assert bad_field(response) == ["priority"]


def test_tags_are_one_per_name_case_insensitively_first_spelling_kept(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "t", tags=["Work", "WORK", " work ", "Straße", "STRASSE"])
    assert task["tags"] == ["Straße", "Work"]


def test_a_tag_keeps_the_spelling_first_written_while_a_task_carries_it(
    client: TestClient, alice: Account
) -> None:
    create_task(client, alice, "first", tags=["Work"])
    assert create_task(client, alice, "second", tags=["WORK"])["tags"] == ["Work"]


def test_a_tag_no_task_carries_is_gone_and_the_next_spelling_is_its_own(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "first", tags=["Work"])
    client.patch(f"/api/tasks/{task['id']}", json={"tags": []}, headers=alice.headers)
    assert client.get("/api/tags", headers=alice.headers).json() == []
    assert create_task(client, alice, "second", tags=["WORK"])["tags"] == ["WORK"]


def _put_no_tags(client: TestClient, account: Account, task_id: int) -> None:
    response = client.put(f"/api/tasks/{task_id}", json={"tags": []}, headers=account.headers)
    assert response.status_code == 200, response.text


def _patch_null_tags(client: TestClient, account: Account, task_id: int) -> None:
    response = client.patch(f"/api/tasks/{task_id}", json={"tags": None}, headers=account.headers)
    assert response.status_code == 200, response.text


def _replace_the_tags(client: TestClient, account: Account, task_id: int) -> None:
    response = client.put(f"/api/tasks/{task_id}", json={"tags": ["x"]}, headers=account.headers)
    assert response.status_code == 200, response.text


def _purge(client: TestClient, account: Account, task_id: int) -> None:
    assert client.delete(f"/api/tasks/{task_id}", headers=account.headers).status_code == 200
    response = client.delete(f"/api/trash/{task_id}", headers=account.headers)
    assert response.status_code == 200, response.text


def _empty_the_trash(client: TestClient, account: Account, task_id: int) -> None:
    assert client.delete(f"/api/tasks/{task_id}", headers=account.headers).status_code == 200
    response = client.delete("/api/trash", headers=account.headers)
    assert response.json() == {"purged": 1}


UNCARRY = [_put_no_tags, _patch_null_tags, _replace_the_tags, _purge, _empty_the_trash]


@pytest.mark.parametrize("uncarry", UNCARRY, ids=lambda way: way.__name__.strip("_"))
def test_a_tag_gone_while_other_tags_are_carried_takes_the_next_spelling(
    client: TestClient, alice: Account, uncarry: Any
) -> None:
    create_task(client, alice, "other", tags=["home"])
    task = create_task(client, alice, "first", tags=["Work"])
    uncarry(client, alice, task["id"])
    tags = client.get("/api/tags", headers=alice.headers).json()
    assert "work" not in {tag["name"].casefold() for tag in tags}
    assert create_task(client, alice, "second", tags=["WORK"])["tags"] == ["WORK"]
    assert listed(client, alice, tag="work") == ["second"]


def test_a_tag_gone_takes_the_next_spelling_though_another_user_carries_theirs(
    client: TestClient, alice: Account, bob: Account
) -> None:
    create_task(client, bob, "bob's", tags=["Work"])
    task = create_task(client, alice, "first", tags=["Work"])
    _put_no_tags(client, alice, task["id"])
    assert create_task(client, alice, "second", tags=["WORK"])["tags"] == ["WORK"]
    assert create_task(client, bob, "bob's too", tags=["WORK"])["tags"] == ["Work"]


def test_a_gone_tag_written_in_an_update_takes_that_spelling(
    client: TestClient, alice: Account
) -> None:
    create_task(client, alice, "other", tags=["home"])
    first = create_task(client, alice, "first", tags=["Work"])
    _put_no_tags(client, alice, first["id"])
    second = create_task(client, alice, "second")
    response = client.put(
        f"/api/tasks/{second['id']}", json={"tags": ["WORK"]}, headers=alice.headers
    )
    assert response.json()["tags"] == ["WORK"]
    assert client.get(f"/api/tasks/{second['id']}", headers=alice.headers).json()["tags"] == [
        "WORK"
    ]


def test_a_tag_carried_only_by_a_trashed_task_keeps_its_spelling_for_the_restore(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "first", tags=["Work"])
    client.delete(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert client.get("/api/tags", headers=alice.headers).json() == []
    assert create_task(client, alice, "second", tags=["WORK"])["tags"] == ["Work"]
    restored = client.post(f"/api/trash/{task['id']}/restore", headers=alice.headers).json()
    assert restored["tags"] == ["Work"]
    assert client.get("/api/tags", headers=alice.headers).json() == [
        {"name": "Work", "task_count": 2}
    ]


@pytest.mark.parametrize(
    "tags",
    [[""], ["   "], ["x" * 41], ["a\nb"], ["\u200b"], [f"t{i}" for i in range(21)], "work", [1]],
)
def test_bad_tags_are_refused_and_nothing_is_stored(
    client: TestClient, alice: Account, tags: object
) -> None:
    response = client.post("/api/tasks", json={"title": "t", "tags": tags}, headers=alice.headers)
    assert bad_field(response)[0].startswith("tags")
    assert listed(client, alice) == []
    assert client.get("/api/tags", headers=alice.headers).json() == []


def test_twenty_distinct_tags_are_allowed(client: TestClient, alice: Account) -> None:
    names = [f"tag{i:02}" for i in range(20)]
    assert create_task(client, alice, "t", tags=[*names, "TAG00"])["tags"] == names


def test_update_changes_priority_due_date_and_replaces_the_tags(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "t", tags=["a", "b"], due_at="2030-01-01T00:00:00Z")
    response = client.put(
        f"/api/tasks/{task['id']}",
        json={"priority": "low", "tags": ["c", "A"], "due_at": "2031-01-01T00:00:00Z"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["priority"], changed["due_at"], changed["tags"]) == (
        "low",
        "2031-01-01T00:00:00Z",
        ["a", "c"],
    )


def test_update_with_null_due_date_removes_it_and_null_tags_remove_every_tag(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "t", tags=["a"], due_at="2030-01-01T00:00:00Z")
    response = client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": None, "tags": None}, headers=alice.headers
    )
    assert (response.json()["due_at"], response.json()["tags"]) == (None, [])
    assert listed(client, alice, tag="a") == []


def test_update_leaves_out_fields_as_they_are(client: TestClient, alice: Account) -> None:
    task = create_task(
        client, alice, "t", priority="high", tags=["a"], due_at="2030-01-01T00:00:00Z"
    )
    changed = client.patch(
        f"/api/tasks/{task['id']}", json={"title": "renamed"}, headers=alice.headers
    ).json()
    assert (changed["priority"], changed["tags"], changed["due_at"]) == (
        "high",
        ["a"],
        "2030-01-01T00:00:00Z",
    )


def test_update_with_null_priority_is_refused(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t", priority="high")
    response = client.patch(
        f"/api/tasks/{task['id']}", json={"priority": None}, headers=alice.headers
    )
    assert bad_field(response) == ["priority"]


def test_an_update_of_a_missing_task_with_tags_stores_no_tag(
    client: TestClient, alice: Account, bob: Account
) -> None:
    task = create_task(client, bob, "bob's", tags=["b"])
    response = client.patch(
        f"/api/tasks/{task['id']}", json={"tags": ["new"]}, headers=alice.headers
    )
    assert response.status_code == 404
    assert client.get("/api/tags", headers=alice.headers).json() == []
    assert client.get(f"/api/tasks/{task['id']}", headers=bob.headers).json()["tags"] == ["b"]


# Filters --------------------------------------------------------------------------------------


def test_priority_filter_takes_repeated_or_comma_separated_values(
    client: TestClient, alice: Account
) -> None:
    for priority in ("none", "low", "medium", "high"):
        create_task(client, alice, priority, priority=priority)
    assert set(listed(client, alice, priority=["high", "low"])) == {"high", "low"}
    assert set(listed(client, alice, priority="medium,none")) == {"medium", "none"}


def test_an_unknown_priority_filter_is_a_400_on_priority(
    client: TestClient, alice: Account
) -> None:
    response = client.get("/api/tasks", params={"priority": "high,urgent"}, headers=alice.headers)
    assert bad_field(response) == ["priority"]


def test_tag_filter_wants_every_tag_case_insensitively(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "both", tags=["Work", "Urgent"])
    create_task(client, alice, "work only", tags=["work"])
    create_task(client, alice, "none")
    assert listed(client, alice, tag="WORK", sort="title") == ["both", "work only"]
    assert listed(client, alice, tag=["work", "urgent"]) == ["both"]


def test_due_before_is_strict_and_due_after_inclusive(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "early", due_at="2030-01-01T00:00:00Z")
    create_task(client, alice, "edge", due_at="2030-06-01T00:00:00Z")
    create_task(client, alice, "none")
    edge = "2030-06-01T02:00:00+02:00"
    assert listed(client, alice, due_before=edge) == ["early"]
    assert listed(client, alice, due_after=edge) == ["edge"]


def test_a_due_filter_without_a_time_zone_is_refused(client: TestClient, alice: Account) -> None:
    response = client.get(
        "/api/tasks", params={"due_before": "2030-01-01T00:00:00"}, headers=alice.headers
    )
    assert bad_field(response) == ["due_before"]


def test_overdue_is_incomplete_and_due_before_now_and_false_is_the_rest(
    client: TestClient, alice: Account
) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    create_task(client, alice, "overdue", due_at=past)
    done = create_task(client, alice, "done late", due_at=past)
    client.patch(f"/api/tasks/{done['id']}/toggle", headers=alice.headers)
    create_task(client, alice, "upcoming", due_at=future)
    create_task(client, alice, "undated")
    assert listed(client, alice, overdue="true") == ["overdue"]
    assert set(listed(client, alice, overdue="false")) == {"done late", "upcoming", "undated"}


def test_filters_combine_with_each_other_and_with_completed_and_q(
    client: TestClient, alice: Account
) -> None:
    create_task(client, alice, "report draft", priority="high", tags=["work"])
    create_task(client, alice, "report final", priority="low", tags=["work"])
    create_task(client, alice, "party plan", priority="high", tags=["work"])
    params = {"q": "report", "priority": "high", "tag": "work", "completed": "false"}
    assert listed(client, alice, **params) == ["report draft"]
    response = client.get("/api/tasks", params=params, headers=alice.headers)
    assert response.headers["X-Total-Count"] == "1"


# Orders ---------------------------------------------------------------------------------------


def test_sort_by_due_date_puts_tasks_without_one_last_in_both_directions(
    client: TestClient, alice: Account
) -> None:
    create_task(client, alice, "undated 1")
    create_task(client, alice, "later", due_at="2031-01-01T00:00:00Z")
    create_task(client, alice, "undated 2")
    create_task(client, alice, "sooner", due_at="2030-01-01T00:00:00Z")
    assert listed(client, alice, sort="due_at") == ["sooner", "later", "undated 1", "undated 2"]
    assert listed(client, alice, sort="-due_at") == ["later", "sooner", "undated 2", "undated 1"]


def test_sort_by_priority_orders_none_low_medium_high(client: TestClient, alice: Account) -> None:
    for priority in ("high", "none", "medium", "low"):
        create_task(client, alice, priority, priority=priority)
    assert listed(client, alice, sort="priority") == ["none", "low", "medium", "high"]
    assert listed(client, alice, sort="-priority") == ["high", "medium", "low", "none"]


def test_sort_by_title_is_case_insensitive_with_ties_by_id(
    client: TestClient, alice: Account
) -> None:
    first = create_task(client, alice, "apple")["id"]
    create_task(client, alice, "Banana")
    second = create_task(client, alice, "APPLE")["id"]
    response = client.get("/api/tasks", params={"sort": "title"}, headers=alice.headers)
    assert [task["id"] for task in response.json()][:2] == [first, second]
    assert listed(client, alice, sort="-title") == ["Banana", "APPLE", "apple"]


def test_sort_orders_completed_and_incomplete_tasks_together(
    client: TestClient, alice: Account
) -> None:
    older = create_task(client, alice, "older")
    create_task(client, alice, "newer")
    client.patch(f"/api/tasks/{older['id']}/toggle", headers=alice.headers)
    assert listed(client, alice) == ["newer", "older"]
    assert listed(client, alice, sort="created_at") == ["older", "newer"]
    assert listed(client, alice, sort="-updated_at") == ["older", "newer"]


@pytest.mark.parametrize("sort", ["due", "+title", "-", "title,-id", "id"])
def test_an_unknown_sort_is_a_400_on_sort(client: TestClient, alice: Account, sort: str) -> None:
    response = client.get("/api/tasks", params={"sort": sort}, headers=alice.headers)
    assert bad_field(response) == ["sort"]


def test_sort_pages_by_offset_without_gaps_or_repeats(client: TestClient, alice: Account) -> None:
    for index in range(7):
        due = None if index % 3 == 0 else f"2030-01-0{index + 1}T00:00:00Z"
        create_task(client, alice, f"t{index}", due_at=due)
    whole = listed(client, alice, sort="-due_at")
    paged = [
        title
        for offset in range(0, 7, 3)
        for title in listed(client, alice, sort="-due_at", limit=3, offset=offset)
    ]
    assert paged == whole
    assert len(set(whole)) == 7


# Tags -----------------------------------------------------------------------------------------


def test_tags_lists_the_callers_tags_of_live_tasks_with_counts_sorted_by_name(
    client: TestClient, alice: Account, bob: Account
) -> None:
    create_task(client, alice, "a", tags=["work", "Home"])
    create_task(client, alice, "b", tags=["WORK"])
    trashed = create_task(client, alice, "c", tags=["garden"])
    client.delete(f"/api/tasks/{trashed['id']}", headers=alice.headers)
    create_task(client, bob, "bob's", tags=["secret"])
    response = client.get("/api/tags", headers=alice.headers)
    assert response.json() == [{"name": "Home", "task_count": 1}, {"name": "work", "task_count": 2}]


def test_another_users_tag_of_the_same_name_is_their_own(
    client: TestClient, alice: Account, bob: Account
) -> None:
    create_task(client, alice, "a", tags=["Work"])
    assert create_task(client, bob, "b", tags=["WORK"])["tags"] == ["WORK"]
    assert listed(client, bob, tag="work") == ["b"]


def test_tags_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/tags").status_code == 401


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_an_instant_that_utc_cannot_write_is_a_400_not_a_500(
    client: TestClient, alice: Account, moment: str
) -> None:
    response = client.post(
        "/api/tasks", json={"title": "t", "due_at": moment}, headers=alice.headers
    )
    assert bad_field(response) == ["due_at"]
    response = client.get("/api/tasks", params={"due_before": moment}, headers=alice.headers)
    assert bad_field(response) == ["due_before"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_the_ends_of_the_calendar_are_due_dates_like_any_other(
    client: TestClient, alice: Account, moment: str
) -> None:
    task = create_task(client, alice, "t", due_at=moment)
    assert task["due_at"] == moment
    assert listed(client, alice, due_after=moment) == ["t"]


@pytest.mark.parametrize("moment", [12345, 1.5, True])
def test_a_due_date_that_is_a_number_is_refused(
    client: TestClient, alice: Account, moment: object
) -> None:
    response = client.post(
        "/api/tasks", json={"title": "t", "due_at": moment}, headers=alice.headers
    )
    assert bad_field(response) == ["due_at"]


def test_priority_filter_values_count_once(client: TestClient, alice: Account) -> None:
    create_task(client, alice, "high", priority="high")
    assert listed(client, alice, priority=",".join(["high"] * 25)) == ["high"]
    assert listed(client, alice, priority=["high"] * 25) == ["high"]
