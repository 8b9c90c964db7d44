"""xlm model family."""
