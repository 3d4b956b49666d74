"""Editing records over the API: checked as imports are, versioned, audited by the database."""
