"""pss checks (registered on import)."""
