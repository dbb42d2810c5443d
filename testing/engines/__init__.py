"""Pure engines of the testing app: no Django import, tested without a database.

``safe_http`` is the one outbound HTTP client every scanner check goes through.
"""
