"""The portal's settings plus the bare views of ``bench/overhead_bench.py`` (never used outside it)."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.overhead_urls"
