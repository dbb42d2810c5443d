"""The verbs of the inventory: registration and review (registry), discovery from logs, catalog import."""

from inventory.services.catalog import CatalogImportResult, CatalogRejected, catalog_import  # noqa: E402, F401
from inventory.services.discovery import (  # noqa: E402, F401
    IngestResult,
    discovered_dismiss,
    discovered_register,
    discovery_ingest,
)
from inventory.services.registry import *  # noqa: F403
from inventory.services.registry import (  # noqa: F401  (names used by other modules)
    TRANSITIONS,
    IllegalTransition,
    _authorize,
    _authorize_unit,
    completeness_of,
    refresh_summary,
    stale_cutoff,
    window_as_engine,
)
