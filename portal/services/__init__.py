"""The verbs of the portal, one module per aggregate: ``org`` (units, memberships, people),
``tokens`` (personal API tokens) and ``org_import`` (an HR export applied whole or not at all)."""
