"""Pure engines of the portal: no Django import, tested without a database."""
