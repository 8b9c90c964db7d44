"""bert model family."""
