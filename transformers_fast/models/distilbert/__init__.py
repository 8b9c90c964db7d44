"""distilbert model family."""
