"""The comparison study: its specs, its runner and its figures."""
