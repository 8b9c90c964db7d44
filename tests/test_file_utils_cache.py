"""1.2.0's URL cache (file_utils.cached_path and its helpers): the same cache file names and metadata as 1.2.0,
downloads from a server on this machine, the last download served when the server is gone, and 1.2.0's errors."""
from __future__ import annotations

import functools
import os
import http.server
import sys
import threading
import types

import pytest
from pytorch_transformers import file_utils as reference

from transformers_fast import file_utils


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "data.txt").write_bytes(b"hello cache\n" * 1000)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    @functools.lru_cache(maxsize=None)  # once: a second shutdown() would wait for a loop that has ended
    def stop():
        httpd.shutdown()
        httpd.server_close()

    yield stop, f"http://127.0.0.1:{httpd.server_address[1]}"
    stop()


def test_cached_path_downloads_once_and_works_offline(server, tmp_path):
    stop, base = server
    cache = tmp_path / "cache"
    url = f"{base}/data.txt"
    path = file_utils.cached_path(url, cache_dir=cache)
    assert open(path, "rb").read() == b"hello cache\n" * 1000
    assert path.endswith(reference.url_to_filename(url))  # no ETag from this server: 1.2.0's name
    assert file_utils.filename_to_url(reference.url_to_filename(url), cache_dir=cache) == (url, None)
    assert reference.filename_to_url(reference.url_to_filename(url), cache_dir=str(cache)) == (url, None)
    stop()
    assert file_utils.cached_path(url, cache_dir=cache) == path  # served from the cache


def test_names_and_errors_equal_1_2_0(tmp_path):
    for url, etag in [("https://example.org/a.bin", None), ("https://example.org/a.bin", '"abc"'), ("s3://b/k", "x")]:
        assert file_utils.url_to_filename(url, etag) == reference.url_to_filename(url, etag)
    assert file_utils.split_s3_path("s3://bucket/dir/key") == reference.split_s3_path("s3://bucket/dir/key")
    for bad in ("s3://bucket", "s3:///key"):
        with pytest.raises(ValueError):
            reference.split_s3_path(bad)
        with pytest.raises(ValueError):
            file_utils.split_s3_path(bad)
    local = tmp_path / "here.txt"
    local.write_text("x")
    assert file_utils.cached_path(str(local)) == reference.cached_path(str(local)) == str(local)
    for missing, error in [(str(tmp_path / "nope"), EnvironmentError), ("ftp://host/file", ValueError)]:
        with pytest.raises(error):
            reference.cached_path(missing)
        with pytest.raises(error):
            file_utils.cached_path(missing)
    with pytest.raises(EnvironmentError):
        file_utils.filename_to_url("nothing", cache_dir=tmp_path)


def test_s3_through_boto3(tmp_path, monkeypatch):
    """s3:// URLs go through boto3 as in 1.2.0 (a stand-in boto3 here: no network)."""
    objects = {("bucket", "dir/key"): b"from s3"}

    class NotFound(Exception):
        response = {"Error": {"Code": "404"}}

    class Resource:
        def Object(self, bucket, key):
            if (bucket, key) not in objects:
                raise NotFound()
            return types.SimpleNamespace(e_tag='"tag1"')

        def Bucket(self, bucket):
            return types.SimpleNamespace(download_fileobj=lambda key, f: f.write(objects[(bucket, key)]))

    boto3 = types.SimpleNamespace(resource=lambda name, config=None: Resource())
    config = types.ModuleType("botocore.config")
    config.Config = lambda proxies=None: None
    monkeypatch.setitem(sys.modules, "boto3", boto3)
    monkeypatch.setitem(sys.modules, "botocore", types.ModuleType("botocore"))
    monkeypatch.setitem(sys.modules, "botocore.config", config)
    path = file_utils.cached_path("s3://bucket/dir/key", cache_dir=tmp_path)
    assert open(path, "rb").read() == b"from s3"
    assert path.endswith(reference.url_to_filename("s3://bucket/dir/key", '"tag1"'))
    with pytest.raises(EnvironmentError, match="not found"):
        file_utils.cached_path("s3://bucket/missing", cache_dir=tmp_path)


@pytest.mark.parametrize("env", [{}, {"PYTORCH_PRETRAINED_BERT_CACHE": "/old"},
                                 {"PYTORCH_PRETRAINED_BERT_CACHE": "/old", "PYTORCH_TRANSFORMERS_CACHE": "/new"}])
def test_cache_location_names_as_1_2_0(env):
    """One pathlib.Path under both names (scripts join onto it with "/"), PYTORCH_TRANSFORMERS_CACHE first."""
    import subprocess

    script = ("import pytorch_transformers as a, transformers_fast as b; "
              "print(repr(a.PYTORCH_PRETRAINED_BERT_CACHE), repr(a.PYTORCH_TRANSFORMERS_CACHE)); "
              "print(repr(b.PYTORCH_PRETRAINED_BERT_CACHE), repr(b.PYTORCH_TRANSFORMERS_CACHE))")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTORCH_PRETRAINED_BERT_CACHE",
                                                              "PYTORCH_TRANSFORMERS_CACHE")}
    out = subprocess.run([sys.executable, "-c", script], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == out[1] and "PosixPath" in out[1]
