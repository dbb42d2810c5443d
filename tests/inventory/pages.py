"""The inventory's pages by URL name, as the view tests request them."""

from __future__ import annotations

from django.urls import reverse


def url(name: str, *args: object) -> str:
    return reverse(f"inventory:{name}", args=args)
