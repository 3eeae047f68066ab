"""Users get an organization and a project; personal API keys are shown once and stored hashed."""

import hashlib
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from heatmap_app.accounts import (
    AccountError,
    authenticate,
    create_api_key,
    create_user,
    end_sessions,
    find_api_key,
    key_has_scope,
    record_api_key_use,
    revoke_api_key,
    user_for_session,
)
from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey, User
from heatmap_app.models.base import parse_id, utcnow
from tests.conftest import PASSWORD


def test_a_new_user_gets_an_organization_with_one_project(app: Flask) -> None:
    user = create_user("Ada@Example.com ", "long enough", first_name="Ada", organization_name="Analytical")

    assert user.email == "ada@example.com"
    assert [org.name for org in user.organizations] == ["Analytical"]
    assert len(user.projects) == 1
    assert user.current_project == user.projects[0]
    assert user.current_project.api_token.startswith("phc_")
    assert user.password_hash.startswith("scrypt:")


def test_the_first_user_of_an_install_is_its_admin(app: Flask) -> None:
    first = create_user("first@example.com", "long enough")
    second = create_user("second@example.com", "long enough")

    assert first.is_staff and not second.is_staff


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [("not-an-email", "long enough", "email"), ("a@example.com", "short", "password")],
)
def test_bad_account_input_is_refused_with_the_field(app: Flask, email: str, password: str, field: str) -> None:
    with pytest.raises(AccountError) as error:
        create_user(email, password)
    assert error.value.field == field


def test_an_email_cannot_be_used_twice(app: Flask, user: User) -> None:
    with pytest.raises(AccountError, match="already exists"):
        create_user(user.email.upper(), "long enough")


def test_an_api_key_is_shown_once_and_only_its_sha256_is_stored(app: Flask, user: User) -> None:
    key, raw_key = create_api_key(user, "CI", ["heatmap:read"])

    assert raw_key.startswith("phx_") and len(raw_key) == 4 + 49  # 35 random bytes in 57 symbols
    assert key.secure_value == "sha256$" + hashlib.sha256(raw_key.encode()).hexdigest()
    assert key.mask_value == f"phx_...{raw_key[-4:]}"
    stored = db.session.execute(select(PersonalAPIKey.__table__)).one()._asdict()
    assert raw_key not in {str(value) for value in stored.values()}
    assert find_api_key(raw_key) == key


def test_two_keys_never_share_a_value(app: Flask, user: User) -> None:
    values = {create_api_key(user, f"k{i}", ["*"])[1] for i in range(20)}
    assert len(values) == 20


def test_write_implies_read_and_star_implies_everything(app: Flask, user: User) -> None:
    read_key, _ = create_api_key(user, "r", ["heatmap:read"])
    write_key, _ = create_api_key(user, "w", ["heatmap:write"])
    star_key, _ = create_api_key(user, "s", ["*"])

    assert key_has_scope(read_key, "heatmap:read") and not key_has_scope(read_key, "heatmap:write")
    assert key_has_scope(write_key, "heatmap:read") and key_has_scope(write_key, "heatmap:write")
    assert key_has_scope(star_key, "heatmap:write")


def test_unknown_scopes_and_foreign_projects_are_refused(app: Flask, user: User, other_user: User) -> None:
    with pytest.raises(AccountError, match="Unknown scope"):
        create_api_key(user, "bad", ["heatmap:delete"])
    with pytest.raises(AccountError, match="projects you belong to"):
        create_api_key(user, "foreign", ["*"], [other_user.current_project_id])


def test_revoked_keys_and_keys_of_inactive_users_are_not_found(app: Flask, user: User) -> None:
    revoked, revoked_raw = create_api_key(user, "old", ["*"])
    _, live_raw = create_api_key(user, "live", ["*"])

    assert revoke_api_key(user, revoked.id)
    assert find_api_key(revoked_raw) is None
    user.is_active = False
    db.session.commit()
    assert find_api_key(live_raw) is None


def test_last_used_at_is_written_at_most_once_an_hour(app: Flask, user: User) -> None:
    key, _ = create_api_key(user, "k", ["*"])
    record_api_key_use(key)
    first_use = key.last_used_at

    record_api_key_use(key)
    assert key.last_used_at == first_use

    key.last_used_at = utcnow() - timedelta(hours=1, seconds=1)
    db.session.commit()
    record_api_key_use(key)
    assert key.last_used_at is not None and key.last_used_at > first_use


def test_the_current_project_falls_back_to_the_first_reachable_one(app: Flask, user: User) -> None:
    from heatmap_app.accounts import current_project, switch_project
    from heatmap_app.models import Project

    first = user.current_project
    second = Project(organization=user.organizations[0], name="Second", api_token="phc_second_project")
    db.session.add(second)
    db.session.commit()
    switch_project(user, second)
    scoped_to_first, _ = create_api_key(user, "first only", ["*"], [first.id])

    assert current_project(user) == second
    assert current_project(user, scoped_to_first) == first


def test_nobody_switches_to_a_project_of_another_organization(app: Flask, user: User, other_user: User) -> None:
    from heatmap_app.accounts import switch_project

    with pytest.raises(AccountError):
        switch_project(user, other_user.current_project)


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("2147483647", 2**31 - 1), ("2147483648", None), ("0", None), ("²", None), ("١", None),
     ("-1", None), (" 1", None), ("", None), ("9" * 5000, None)],
)
def test_ids_are_ascii_digits_within_a_32_bit_integer(text: str, number: int | None) -> None:
    assert parse_id(text) == number


def test_a_session_id_names_the_user_and_their_current_session_token(app: Flask, user: User) -> None:
    session_id = user.get_id()

    assert user_for_session(session_id) == user
    for forged in (str(user.id), f"{user.id}:", f"{user.id}:{'x' * 43}", f"²:{user.session_token}",
                   f"99999999999999999999:{user.session_token}", f"{user.id}:é"):
        assert user_for_session(forged) is None
    end_sessions(user)
    assert user_for_session(session_id) is None
    assert user_for_session(user.get_id()) == user


def test_an_inactive_user_has_no_session_and_cannot_log_in(app: Flask, user: User) -> None:
    session_id = user.get_id()
    user.is_active = False
    db.session.commit()

    assert user_for_session(session_id) is None
    assert authenticate(user.email, PASSWORD) is None
    assert authenticate("nobody@example.com", PASSWORD) is None
