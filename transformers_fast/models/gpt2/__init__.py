"""gpt2 model family."""
