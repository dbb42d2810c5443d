"""Bare views for ``bench/overhead_bench.py``: the inventory list's first 50 rows, read with the same
query and rendered by the same template engine (HTML) or serialized as plain JSON, with nothing
else: no authentication, no form, no layout, no DRF. They are the floor the real pages are compared
with, in the same gunicorn process and the same run. Mounted only by ``bench.overhead_settings``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines

from inventory import selectors
from inventory.models import Api

ROWS = 50
# The fields ApiListSerializer returns, the unit as its slug.
JSON_FIELDS = (
    "slug", "name", "org_unit__slug", "lifecycle", "exposure", "data_classification", "status",
    "completeness", "has_spec", "component_count", "updated_at",
)  # fmt: skip


def _rows() -> list[Api]:
    return list(Api.objects.select_related("org_unit").order_by("name", "id")[:ROWS])


@login_not_required
def bare_html(request: HttpRequest) -> HttpResponse:
    apis = _rows()
    cutoff = selectors.stale_cutoff()
    for api in apis:
        api.is_stale = selectors.is_stale(api, cutoff)  # type: ignore[attr-defined]
    template = engines["django"].get_template("inventory/_api_rows.html")
    return HttpResponse(template.render({"apis": apis}))


@login_not_required
def bare_json(request: HttpRequest) -> JsonResponse:
    rows = list(Api.objects.order_by("name", "id").values(*JSON_FIELDS)[:ROWS])
    return JsonResponse({"results": rows})
