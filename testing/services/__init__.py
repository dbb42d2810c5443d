"""The verbs of testing: keyword-only, one transaction each, audited where people act.

``runs`` (creating a run for a slot, enqueuing it), ``execution`` (running it once, whatever the
broker does), ``schedule`` (the beat sweep), ``plans``, ``identities``, ``cases``, ``findings``.
"""
