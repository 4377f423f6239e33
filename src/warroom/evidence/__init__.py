"""Evidence: files kept by content hash for an incident, with their chain of custody."""
