"""The verbs of the inventory: registration and review (registry), discovery from logs, catalog import."""

from inventory.services.catalog import CatalogImportResult, CatalogRejected, catalog_import  # noqa: F401
from inventory.services.discovery import (  # noqa: F401
    IngestResult,
    discovered_dismiss,
    discovered_register,
    discovery_ingest,
)
from inventory.services.registry import *  # noqa: F403
