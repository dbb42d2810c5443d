"""Pure engines of the inventory: no Django import, tested without a database."""
