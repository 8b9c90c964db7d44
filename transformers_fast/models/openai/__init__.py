"""OpenAI GPT (pytorch-transformers 1.2.0 classes)."""
