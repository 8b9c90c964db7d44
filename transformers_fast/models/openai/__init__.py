"""openai model family."""
