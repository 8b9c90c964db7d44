"""roberta model family."""
