"""Teacher-vs-student reports: JSON for machines, Markdown for people and pull requests."""
