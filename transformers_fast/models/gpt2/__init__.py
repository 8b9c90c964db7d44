"""GPT-2 (pytorch-transformers 1.2.0 classes)."""
