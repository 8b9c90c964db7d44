"""transfo_xl model family."""
