"""manage.py import_org_chart: all of an HR export or nothing, every bad row named by its line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from portal.access import Cap
from portal.engines import hr_export
from portal.engines.hr_export import InvalidOrgChart, OrgChartPlan, parse_org_chart, read_limited
from portal.models import AuditEvent, Membership, OrgUnit, Role, slug_validator
from tests.factories import UserFactory, grant

User = get_user_model()
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HEADER = "unit,unit_name,kind,parent,email,role\n"

# A four-level tree whose children come before their parents in the file.
TREE = (
    HEADER
    + "payments-team,Payments,team,payments,Dev.One@Acme.example,developer\n"  # line 2
    + "payments-team,,,payments,vera@acme.example,viewer\n"
    + "payments,,department,engineering,ian@acme.example,incident_responder\n"
    + "engineering,Engineering,division,acme,sam@acme.example,security_engineer\n"
    + "acme,Acme Corp,company,,carla@acme.example,ciso\n"
    + "acme,,,,anna@acme.example,auditor\n"
    + "identity-team,,team,payments,,\n"
    + "payments-team,,,payments,dev.one@acme.example,viewer\n"  # same person, second role
)


def counts() -> dict[str, int]:
    return {
        "units": OrgUnit.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def run(tmp_path: Path, content: str | bytes, name: str = "chart.csv", *args: str) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    out = io.StringIO()
    call_command("import_org_chart", str(path), *args, stdout=out)
    return out.getvalue()


def rejected(tmp_path: Path, content: str | bytes, name: str = "chart.csv") -> str:
    """Run an import that must fail; assert nothing at all was written and return the message."""
    before = counts()
    with pytest.raises(CommandError) as exc:
        run(tmp_path, content, name)
    assert counts() == before
    assert "nothing was imported" in str(exc.value)
    return str(exc.value)


# --- The happy path -----------------------------------------------------------------------------------


def test_it_imports_a_four_level_tree(db, tmp_path):
    before = counts()
    out = run(tmp_path, TREE)

    assert "5 units (0 already present), 6 users (0 already present), 7 memberships" in out
    units = {u.slug: u for u in OrgUnit.objects.all()}
    assert units["acme"].parent is None and units["acme"].kind == OrgUnit.Kind.COMPANY
    assert units["engineering"].parent == units["acme"]
    assert units["payments"].parent == units["engineering"]
    assert units["payments-team"].path == f"{units['payments'].path}{units['payments-team'].pk}/"
    assert units["payments-team"].depth == 3
    assert units["payments"].name == "Payments"  # the default from the slug
    assert units["identity-team"].kind == OrgUnit.Kind.TEAM

    dev = User.objects.get(email__iexact="dev.one@acme.example")
    assert dev.username == "dev.one@acme.example"
    assert not dev.has_usable_password()
    assert set(dev.memberships.values_list("org_unit__slug", "role")) == {
        ("payments-team", Role.DEVELOPER),
        ("payments-team", Role.VIEWER),
    }
    assert Membership.objects.filter(
        user__email="carla@acme.example", org_unit__slug="acme", role="ciso"
    ).exists()

    after = counts()
    # One event per unit, user and membership, plus the summary.
    assert after["audit"] - before["audit"] == 5 + 6 + 7 + 1
    summary = AuditEvent.objects.get(action="org_chart.import")
    assert summary.actor_label == "system:import_org_chart"
    assert summary.after["units_created"] == 5 and summary.after["source"] == "chart.csv"


def test_reimporting_the_same_file_changes_nothing(db, tmp_path):
    run(tmp_path, TREE)
    before = counts()

    out = run(tmp_path, TREE)

    assert counts() == before
    assert (
        "created 0 units (5 already present), 0 users (6 already present), 0 memberships (7 already held)"
        in out
    )


def test_an_imported_developer_sees_their_team_only(db, tmp_path):
    run(tmp_path, TREE)
    dev = User.objects.get(username="dev.one@acme.example")
    ciso = User.objects.get(username="carla@acme.example")

    assert set(OrgUnit.objects.visible_to(dev, Cap.ORG_VIEW).values_list("slug", flat=True)) == {
        "payments-team"
    }
    assert OrgUnit.objects.visible_to(ciso, Cap.ORG_VIEW).count() == 5


@pytest.mark.parametrize("name", ["org_chart.csv", "org_chart.json"])
def test_the_documented_examples_import(db, tmp_path, name):
    out = run(tmp_path, (EXAMPLES / name).read_bytes(), name)

    assert "created 6 units" in out
    assert OrgUnit.objects.get(slug="payments-team").path.count("/") == 5  # four levels deep


def test_both_example_files_say_the_same_thing():
    def plan(name: str) -> OrgChartPlan:
        fmt = "json" if name.endswith(".json") else "csv"
        return parse_org_chart((EXAMPLES / name).read_bytes(), fmt=fmt)

    csv_plan, json_plan = plan("org_chart.csv"), plan("org_chart.json")
    assert [(u.slug, u.name, u.kind, u.parent) for u in csv_plan.units] == [
        (u.slug, u.name, u.kind, u.parent) for u in json_plan.units
    ]
    assert [(m.unit, m.email, m.role) for m in csv_plan.memberships] == [
        (m.unit, m.email, m.role) for m in json_plan.memberships
    ]


def test_it_reuses_existing_units_users_and_memberships(org, tmp_path):
    alice = UserFactory(username="alice", email="alice@example.com")
    grant(alice, org.team, Role.DEVELOPER)
    before = counts()

    out = run(
        tmp_path,
        HEADER
        + "team,,,dept,ALICE@example.com,developer\n"  # already held
        + "team,,,dept,alice@example.com,viewer\n"  # new role for a known user
        + "squad,,team,team,new@example.com,developer\n",  # new unit under an existing one
    )

    assert (
        "created 1 units (1 already present), 1 users (1 already present), 2 memberships (1 already held)"
        in out
    )
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    assert set(alice.memberships.values_list("role", flat=True)) == {Role.DEVELOPER, Role.VIEWER}
    assert OrgUnit.objects.get(slug="squad").path.startswith(org.team.path)
    assert OrgUnit.objects.get(slug="team").name == org.team.name  # kept as it was
    assert counts()["units"] == before["units"] + 1


def test_it_numbers_a_username_already_taken_by_someone_else(db, tmp_path):
    UserFactory(username="dev@acme.example", email="someone.else@acme.example")

    run(tmp_path, HEADER + "acme,,,,dev@acme.example,viewer\n")

    assert User.objects.get(email="dev@acme.example").username == "dev@acme.example-2"


def test_dry_run_checks_everything_and_saves_nothing(db, tmp_path):
    before = counts()

    out = run(tmp_path, TREE, "chart.csv", "--dry-run")

    assert "Dry run, nothing saved; would create 5 units" in out
    assert counts() == before


def test_it_accepts_utf8_with_a_byte_order_mark(db, tmp_path):
    run(tmp_path, ("\ufeff" + HEADER + "acme,Acmé Zürich,company,,,\n").encode())

    assert OrgUnit.objects.get(slug="acme").name == "Acmé Zürich"


# --- Bad input: every problem reported, nothing imported -----------------------------------------------


def test_it_names_the_units_of_a_cycle(db, tmp_path):
    message = rejected(
        tmp_path,
        HEADER
        + "acme,,,,,\n"  # 2: fine
        + "a,,,c,,\n"  # 3
        + "b,,,a,,\n"  # 4
        + "c,,,b,,\n"  # 5
        + "loop,,,loop,,\n",  # 6
    )

    assert "line 3: parent links form a cycle: a (line 3) → c (line 5) → b (line 4) → a." in message
    assert "line 6: parent links form a cycle: loop (line 6) → loop." in message


def test_it_rejects_an_unknown_role(db, tmp_path):
    message = rejected(tmp_path, HEADER + "acme,,,,a@x.example,viewer\nacme,,,,b@x.example,admin\n")

    assert "line 3: unknown role 'admin'" in message
    assert "line 2" not in message


def test_it_rejects_an_unknown_parent(db, tmp_path):
    message = rejected(tmp_path, HEADER + "acme,,,,,\nteam,,,nowhere,a@x.example,developer\n")

    assert "line 3: unknown parent 'nowhere'" in message


def test_it_rejects_duplicate_rows(db, tmp_path):
    message = rejected(
        tmp_path,
        HEADER
        + "acme,,,,a@x.example,viewer\n"
        + "acme,,,,A@X.example,viewer\n"  # same person, same role
        + "team,,,acme,,\n"
        + "team,,,acme,,\n",
    )

    assert "line 3: duplicate row (A@X.example as viewer on 'acme'); first given on line 2." in message
    assert "line 5: duplicate row (unit 'team' alone); first given on line 4." in message


def test_it_rejects_a_unit_given_two_parents(db, tmp_path):
    message = rejected(
        tmp_path,
        HEADER + "acme,,,,,\nother,,,,,\nteam,,,acme,a@x.example,viewer\nteam,,,other,b@x.example,viewer\n",
    )

    assert "line 5: unit 'team' is given parent 'other' here but 'acme' on line 4." in message


def test_it_rejects_an_existing_unit_under_another_parent(org, tmp_path):
    message = rejected(tmp_path, HEADER + "team,,,other-division,a@x.example,viewer\n")

    assert "line 2: unit 'team' already exists under 'dept', not 'other-division'" in message


def test_it_rejects_an_invalid_email(db, tmp_path):
    message = rejected(tmp_path, HEADER + "acme,,,,not-an-email,viewer\nacme,,,,b@,viewer\n")

    assert "line 2: invalid email 'not-an-email'." in message
    assert "line 3: invalid email 'b@'." in message


def test_it_rejects_an_email_shared_by_two_users(db, tmp_path):
    UserFactory(username="x1", email="shared@x.example")
    UserFactory(username="x2", email="SHARED@x.example")

    message = rejected(tmp_path, HEADER + "acme,,,,shared@x.example,viewer\n")

    assert "line 2: 'shared@x.example' is the email of several users (x1, x2)" in message


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"", "chart.csv"),
        (b"\xef\xbb\xbf\n\n", "chart.csv"),
        (HEADER.encode(), "chart.csv"),
        (b"[]", "chart.json"),
    ],
)
def test_it_rejects_an_empty_file(db, tmp_path, content, name):
    message = rejected(tmp_path, content, name)

    assert "empty" in message or "no rows" in message


@override_settings(PORTAL_UPLOAD_MAX_BYTES=200)
def test_it_rejects_a_file_over_the_size_limit(db, tmp_path):
    content = HEADER + "".join(f"unit-{i},,,,,\n" for i in range(30))
    assert len(content) > 200

    message = rejected(tmp_path, content)

    assert "larger than the 200-byte limit" in message


def test_it_stops_reading_at_the_size_limit():
    class Stream(io.BytesIO):
        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.asked: list[int | None] = []

        def read(self, size: int | None = -1) -> bytes:
            self.asked.append(size)
            return super().read(size)

    stream = Stream(b"x" * 10_000)
    with pytest.raises(InvalidOrgChart):
        read_limited(stream, 100)
    assert stream.asked == [101] and stream.tell() == 101


def test_it_rejects_a_file_that_is_not_utf8(db, tmp_path):
    message = rejected(tmp_path, (HEADER + "acme,,,,,\nzurich,Zürich,office,acme,,\n").encode("latin-1"))

    assert "line 3: not valid UTF-8 (byte 0xfc" in message


def test_it_rejects_malformed_json(db, tmp_path):
    message = rejected(tmp_path, '[{"unit": "acme"},\n {"unit": "team" "parent": "acme"}]', "chart.json")

    assert "not valid JSON at line 2, column 18" in message


def test_json_errors_name_the_record(db, tmp_path):
    records = [
        {"unit": "acme"},
        {"unit": "team", "parent": "acme", "email": "x@y.example", "role": "boss"},
        "no",
    ]

    message = rejected(tmp_path, json.dumps(records), "chart.json")

    assert "record 2: unknown role 'boss'" in message
    assert "record 3: must be an object." in message


def test_it_rejects_a_csv_missing_required_columns(db, tmp_path):
    message = rejected(tmp_path, "name,email,role\nacme,a@x.example,viewer\n")

    assert "line 1: missing required column(s): unit, parent." in message
    assert "line 1: unknown column(s): 'name'" in message


def test_it_rejects_an_invalid_slug(db, tmp_path):
    message = rejected(tmp_path, HEADER + "Acme Corp,,,,,\nteam,,,-bad,,\n")

    assert "line 2: unit 'Acme Corp' is not a valid slug" in message
    assert "line 3: parent '-bad' is not a valid slug" in message


def test_it_reports_every_bad_row_and_caps_the_list(db, tmp_path):
    content = HEADER + "acme,,,,,\n" + "".join(f"acme,,,,u{i}@x.example,boss\n" for i in range(60))

    message = rejected(tmp_path, content)

    assert message.startswith("chart.csv: 60 problems, nothing was imported.")
    assert "line 3: unknown role 'boss'" in message
    assert "line 52: unknown role 'boss'" in message
    assert "line 53:" not in message
    assert "… and 10 more." in message


def test_a_bad_membership_still_declares_its_unit(db, tmp_path):
    message = rejected(tmp_path, HEADER + "acme,,,,nope,viewer\nteam,,,acme,,\n")

    assert "line 2: invalid email 'nope'." in message
    assert "unknown parent" not in message


# --- The parser on its own ------------------------------------------------------------------------------


def test_it_counts_physical_lines_across_quoted_newlines():
    data = (HEADER + 'acme,"Acme\nCorp",,,,\nteam,,,acme,a@x.example,boss\n').encode()

    with pytest.raises(InvalidOrgChart) as exc:
        parse_org_chart(data, fmt="csv")

    assert [str(e) for e in exc.value.errors] == [
        "line 4: unknown role 'boss'; use one of ciso, security_engineer, incident_responder, developer, auditor, viewer."
    ]


def test_it_orders_parents_before_children():
    plan = parse_org_chart(TREE.encode(), fmt="csv")

    order = [u.slug for u in plan.units]
    assert (
        order.index("acme")
        < order.index("engineering")
        < order.index("payments")
        < order.index("payments-team")
    )


def test_the_parser_mirrors_the_models():
    assert list(hr_export.ROLES) == Role.values
    assert list(hr_export.KINDS) == OrgUnit.Kind.values
    assert hr_export.SLUG_RE.pattern == slug_validator.regex.pattern
