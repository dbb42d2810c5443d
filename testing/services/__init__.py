"""The verbs of testing: keyword-only, one transaction each, audited where people act.

``runs`` (creating a run for a slot, who may ask for which server, enqueuing it), ``execution``
(running it once whatever the broker does, finishing it, reconciling findings, recovering stuck
runs), ``schedule`` (the beat sweep and default plans), ``plans``, ``identities``, ``cases``,
``findings`` (the workflow and fingerprints), ``targets`` (what a run tests, read from the
inventory, and the scanner's client), ``summary`` (the latest outcome on the API).
"""
