"""The verbs of the inventory, one module per aggregate. Import the module you need:

- ``registration``: the API record (create, update, idempotent upsert and register, confirm);
- ``review``: the review workflow (``API_WORKFLOW`` and ``api_transition``), and
  ``review_notifications``: who is mailed about its moves;
- ``staleness``: telling the owners of records not re-confirmed for a long time;
- ``environments``: environments, the servers behind them and their performance baselines;
- ``windows``: planned downtime windows;
- ``consumers``: who relies on an API;
- ``components``: SBOM and lockfile uploads, declared runtimes and frameworks;
- ``specs``: OpenAPI documents;
- ``catalog_import``: Backstage catalog files;
- ``discovered``: shadow, undocumented and zombie endpoints found in gateway logs.
"""
