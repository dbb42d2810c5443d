"""Functional cases on the API's testing page: uploaded as a YAML file or typed into a textarea, for
whoever may run the API's tests (testing.run). A refused document names its line and saves nothing."""

# ruff: noqa: F811 - the fixtures imported from views_fixtures are the tests' parameters

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from portal.audit import Actor
from portal.models import AuditEvent
from testing.models import FunctionalCase
from testing.services.cases import cases_save
from tests.testing.views_fixtures import Tested, tested, view_checks  # noqa: F401 - fixtures

GOOD = """name: items answer
steps:
  - name: list
    request: {method: GET, path: /items}
    expect: {status: 200}
"""
TWO = GOOD + "---\n" + GOOD.replace("items answer", "items again")
BAD_STATUS = GOOD.replace("status: 200", "status: banana")  # line 5


def save_url(tested: Tested) -> str:
    return f"/testing/apis/{tested.api.slug}/cases/"


def test_the_page_lists_cases_and_offers_the_form_to_those_who_may_run(tested: Tested, alice, bob, login):
    cases_save(actor=Actor(user=alice), api=tested.api, name="smoke", source=GOOD)
    page = login(alice).get(f"/testing/apis/{tested.api.slug}/").content.decode()
    assert "smoke" in page and 'id="cases-form"' in page and 'enctype="multipart/form-data"' in page
    assert f'href="/testing/apis/{tested.api.slug}/cases/smoke/"' in page
    page = login(bob).get(f"/testing/apis/{tested.api.slug}/").content.decode()
    assert "smoke" in page and 'id="cases-form"' not in page and "/cases/smoke/delete/" not in page


def test_it_saves_an_uploaded_file(tested: Tested, alice, login):
    upload = SimpleUploadedFile("cases.yaml", TWO.encode(), content_type="application/yaml")
    response = login(alice).post(save_url(tested), {"name": "smoke", "file": upload})
    assert response.status_code == 302 and response["Location"].endswith("#cases")
    case = FunctionalCase.objects.get(api=tested.api, name="smoke")
    assert case.case_count == 2 and case.source == TWO and case.updated_by.username == "alice"


def test_it_saves_and_replaces_from_the_textarea(tested: Tested, alice, login):
    client = login(alice)
    assert client.post(save_url(tested), {"name": "smoke", "source": GOOD}).status_code == 302
    edit = client.get(f"/testing/apis/{tested.api.slug}/cases/smoke/").content.decode()
    assert "items answer" in edit and 'value="smoke"' in edit
    assert client.post(save_url(tested), {"name": "smoke", "source": TWO}).status_code == 302
    assert FunctionalCase.objects.get().case_count == 2
    assert AuditEvent.objects.filter(action="testing.cases_save").count() == 2


def test_a_refused_document_names_its_line_and_saves_nothing(tested: Tested, alice, login):
    response = login(alice).post(save_url(tested), {"name": "smoke", "source": BAD_STATUS})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 5: status &#x27;banana&#x27; is not an HTTP status" in page
    assert "status: banana" in page  # the document stays in the textarea, to be fixed
    upload = SimpleUploadedFile("cases.yaml", b"a: [\n")
    response = login(alice).post(save_url(tested), {"name": "smoke", "file": upload})
    assert response.status_code == 400 and "Line 2: malformed YAML" in response.content.decode()
    assert not FunctionalCase.objects.exists()


def test_it_refuses_a_file_and_a_text_together_and_a_binary_file(tested: Tested, alice, login):
    client = login(alice)
    both = {"name": "x", "source": GOOD, "file": SimpleUploadedFile("c.yaml", GOOD.encode())}
    assert "not both" in client.post(save_url(tested), both).content.decode()
    binary = {"name": "x", "file": SimpleUploadedFile("c.yaml", b"\xff\xfe\x00bin")}
    response = client.post(save_url(tested), binary)
    assert response.status_code == 400 and "not UTF-8 text" in response.content.decode()
    assert client.post(save_url(tested), {"name": "x"}).status_code == 400
    assert not FunctionalCase.objects.exists()


def test_it_deletes_a_document(tested: Tested, alice, login):
    cases_save(actor=Actor(user=alice), api=tested.api, name="smoke", source=GOOD)
    client = login(alice)
    assert client.post(f"/testing/apis/{tested.api.slug}/cases/smoke/delete/").status_code == 302
    assert not FunctionalCase.objects.exists()
    assert client.post(f"/testing/apis/{tested.api.slug}/cases/smoke/delete/").status_code == 404


def test_cases_need_the_run_capability(tested: Tested, alice, bob, charlie, login, client):
    cases_save(actor=Actor(user=alice), api=tested.api, name="smoke", source=GOOD)
    data = {"name": "other", "source": GOOD}
    assert login(bob).post(save_url(tested), data).status_code == 403
    assert login(bob).get(f"/testing/apis/{tested.api.slug}/cases/smoke/").status_code == 403
    assert login(bob).post(f"/testing/apis/{tested.api.slug}/cases/smoke/delete/").status_code == 403
    assert login(charlie).post(save_url(tested), data).status_code == 404
    assert client.post(save_url(tested), data).status_code == 302  # to the login page
    assert list(FunctionalCase.objects.values_list("name", flat=True)) == ["smoke"]


def test_the_api_page_reads_the_same_queries_for_few_and_many_documents(
    tested: Tested, alice, login, django_assert_max_num_queries
):
    client = login(alice)
    cases_save(actor=Actor(user=alice), api=tested.api, name="one", source=GOOD)
    client.get(f"/testing/apis/{tested.api.slug}/")
    with django_assert_max_num_queries(14) as few:
        client.get(f"/testing/apis/{tested.api.slug}/")
    for i in range(6):
        cases_save(actor=Actor(user=alice), api=tested.api, name=f"more {i}", source=GOOD)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/testing/apis/{tested.api.slug}/").status_code == 200


def test_a_name_must_fit_in_the_documents_urls(tested: Tested, alice, login):
    response = login(alice).post(save_url(tested), {"name": "a/b", "source": GOOD})
    assert response.status_code == 400 and "A name without slashes." in response.content.decode()
    assert not FunctionalCase.objects.exists()
