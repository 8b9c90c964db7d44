"""Inference fast paths shared by the model families: the padding-free encoder, the KV-cache decoder."""
