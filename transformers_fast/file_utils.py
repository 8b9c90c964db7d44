"""Where pretrained files come from: a local folder or file, or the Hugging Face hub cache (offline first).

Shortcut names of pytorch-transformers 1.2.0 (`bert-base-uncased`) map to today's hub repositories
(`google-bert/bert-base-uncased`); their configs also ship inside this package (transformers_fast/configs).
A hub file is taken from the local cache when it is there; otherwise it is downloaded through
`huggingface_hub`, unless HF_HUB_OFFLINE=1 or local_files_only=True.
"""
from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import pickle
import posixpath
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"
GENERATION_CONFIG_NAME = "generation_config.json"

_PACKAGE = __name__.partition(".")[0]


def is_library_module(module_name: Optional[str]) -> bool:
    """Whether code of module `module_name` is this library's own, not a user's subclass, patch or wrapper (whose
    behaviour the fast paths and the C++ tokenizers do not reproduce)."""
    return bool(module_name) and (module_name == _PACKAGE or module_name.startswith(_PACKAGE + "."))


PACKAGED_CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def read_json_object(path: str, what: str = "a JSON object") -> Dict[str, Any]:
    """The JSON object of a file; ValueError naming the file when it is not valid JSON or not an object."""
    with open(path, encoding="utf-8") as f:
        try:
            fields = json.load(f)
        except ValueError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(fields, dict):
        raise ValueError(f"{path} must hold {what}")
    return fields


def packaged_config_path(shortcut_name: str) -> Optional[str]:
    """The config shipped in the package for a 1.2.0 shortcut name, or None."""
    path = os.path.join(PACKAGED_CONFIGS_DIR, shortcut_name + ".json")
    return path if os.path.isfile(path) else None


def is_offline(local_files_only: bool = False) -> bool:
    if local_files_only:
        return True
    value = os.environ.get("HF_HUB_OFFLINE", os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return value.upper() in {"1", "ON", "YES", "TRUE"}


def looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return 1 <= len(parts) <= 2 and all(parts) and not name.startswith((".", "~")) and not os.path.isabs(name)


def pop_hub_kwargs(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Removes the download options from a from_pretrained's kwargs and returns them for hub_file."""
    subfolder = kwargs.pop("subfolder", None) or ""
    cache_dir = kwargs.pop("cache_dir", None)
    revision = kwargs.pop("revision", None)
    token = kwargs.pop("token", kwargs.pop("use_auth_token", None))
    # (huggingface_hub's own errors for these would not name the argument)
    for name, value, kinds, what in (("subfolder", subfolder, (str, os.PathLike), "a path inside the folder or repository"),
                                     ("cache_dir", cache_dir, (str, os.PathLike, type(None)), "a folder"),
                                     ("revision", revision, (str, type(None)), "a branch, tag or commit name"),
                                     ("token", token, (str, bool, type(None)), "a string or True")):
        if not isinstance(value, kinds):
            raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    hub = {
        "cache_dir": cache_dir,
        "force_download": kwargs.pop("force_download", False),
        "local_files_only": kwargs.pop("local_files_only", False),
        "revision": revision,
        "token": token,
        "subfolder": os.fspath(subfolder),
    }
    kwargs.pop("proxies", None)  # accepted for 1.2.0 compatibility; huggingface_hub reads HTTPS_PROXY
    kwargs.pop("resume_download", None)
    # every class loadable here is built in, so there is no repository code to trust or refuse (transformers
    # ignores the flag for its built-in classes too)
    kwargs.pop("trust_remote_code", None)
    return hub


def in_subfolder(subfolder: str, filename: str) -> str:
    """A file's name inside a hub repository (transformers' subfolder=)."""
    return posixpath.join(subfolder.strip("/"), filename) if subfolder else filename


def subfolder_path(name: str, subfolder: str) -> str:
    """transformers' subfolder=: the files of a local folder are read from that folder's subfolder."""
    return os.path.join(name, subfolder) if subfolder and os.path.isdir(name) else name


def hub_file(repo_ids: Sequence[str], filename: str, *, cache_dir=None, force_download: bool = False,
             local_files_only: bool = False, revision: Optional[str] = None, token=None,
             subfolder: str = "") -> Optional[str]:
    """Path of `filename` (in `subfolder` of the repository) from the first of `repo_ids` (aliases of one
    model) that has it.

    The cache is tried first for every alias; the network only when online and nothing was cached.
    Returns None when the file does not exist in the repository (so a caller can try another name);
    raises OSError when the file cannot be had (offline and not cached, no network, unknown repo).
    """
    from huggingface_hub import try_to_load_from_cache

    filename = in_subfolder(subfolder, filename)
    if not force_download:
        for repo_id in repo_ids:
            cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
            if isinstance(cached, str):
                return cached
    if is_offline(local_files_only):
        raise OSError(
            f"{filename} of {repo_ids[0]!r} is not in the Hugging Face cache "
            f"({cache_dir or _default_cache()}) and downloads are off (HF_HUB_OFFLINE or local_files_only). "
            f"Download it once while online, or pass a local folder.")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        return hf_hub_download(repo_ids[0], filename, cache_dir=cache_dir, force_download=force_download,
                               revision=revision, token=token, library_name="transformers_fast")
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError as err:
        raise OSError(f"{repo_ids[0]!r} is neither a local folder nor a model repository on the Hugging Face hub") from err
    except Exception as err:  # network errors come in many classes; say what was wanted
        raise OSError(f"could not get {filename} of {repo_ids[0]!r} from the Hugging Face hub: {err}") from err


_PUSH_OPTIONS = ("commit_message", "commit_description", "private", "token", "create_pr", "revision")


class PushToHubMixin:
    """transformers' uploads: `push_to_hub(repo_id)` saves the object with its save_pretrained into a temporary
    folder and uploads that as one commit; `save_pretrained(folder, push_to_hub=True, repo_id=...)` uploads the
    folder it wrote (repo_id defaults to the folder's name). The repository is created when missing."""

    def push_to_hub(self, repo_id: str, commit_message: Optional[str] = None, private: Optional[bool] = None,
                    token=None, create_pr: bool = False, revision: Optional[str] = None,
                    commit_description: Optional[str] = None, **save_options):
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, **save_options)
            return upload_folder(folder, repo_id, commit_message=commit_message, private=private, token=token,
                                 create_pr=create_pr, revision=revision, commit_description=commit_description)

    def _push_saved(self, save_directory: str, push_to_hub: bool, hub_options: Dict[str, Any]):
        """save_pretrained's end: the upload asked for, or a TypeError for options that only an upload takes."""
        unknown = set(hub_options) - set(_PUSH_OPTIONS) - {"repo_id"}
        if unknown or (hub_options and not push_to_hub):
            raise TypeError(f"save_pretrained() got unexpected keyword arguments {sorted(hub_options)}"
                            + ("" if unknown else " (options of push_to_hub=True)"))
        if push_to_hub:
            repo_id = hub_options.pop("repo_id", None) or os.path.basename(os.path.normpath(save_directory))
            return upload_folder(save_directory, repo_id, **hub_options)
        return None


def upload_folder(folder: str, repo_id: str, *, commit_message: Optional[str] = None, private: Optional[bool] = None,
                  token=None, create_pr: bool = False, revision: Optional[str] = None,
                  commit_description: Optional[str] = None):
    """The folder's files as one commit of the hub repository repo_id (created if missing); huggingface_hub's
    CommitInfo."""
    from huggingface_hub import HfApi

    api = HfApi(token=token, library_name="transformers_fast")
    repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    return api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message or "Upload files",
                             commit_description=commit_description, create_pr=create_pr, revision=revision)


def first_hub_file(repo_ids: Sequence[str], filenames: Iterable[str], **kwargs) -> Optional[str]:
    """The first of `filenames` that the repository has: any of them in the cache first, then downloads."""
    from huggingface_hub import try_to_load_from_cache

    filenames = list(filenames)
    if not kwargs.get("force_download"):
        for filename in filenames:
            for repo_id in repo_ids:
                cached = try_to_load_from_cache(repo_id, in_subfolder(kwargs.get("subfolder") or "", filename),
                                                cache_dir=kwargs.get("cache_dir"), revision=kwargs.get("revision"))
                if isinstance(cached, str):
                    return cached
    for filename in filenames:
        # an OSError (offline, hub unreachable, no such repository) would come again for every other name, each
        # after its connection timeout: it ends the search
        path = hub_file(repo_ids, filename, **kwargs)
        if path is not None:
            return path
    return None


def _default_cache() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


# 1.2.0's cache-location names: its own cache, where a 1.2.0 installation kept downloaded files.
torch_cache_home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")))
default_cache_path = os.path.join(torch_cache_home, "pytorch_transformers")
# (one Path, as 1.2.0: scripts join onto it with "/"; the newer variable wins for both names)
PYTORCH_PRETRAINED_BERT_CACHE = Path(os.getenv("PYTORCH_TRANSFORMERS_CACHE",
                                               os.getenv("PYTORCH_PRETRAINED_BERT_CACHE", default_cache_path)))
PYTORCH_TRANSFORMERS_CACHE = PYTORCH_PRETRAINED_BERT_CACHE


# ---- 1.2.0's URL cache: cached_path and its helpers (same file names and metadata as 1.2.0's cache) ----------


def url_to_filename(url: str, etag: Optional[str] = None) -> str:
    """sha256(url), then "." + sha256(etag) when the server gave one: the cache file name 1.2.0 uses."""
    filename = hashlib.sha256(url.encode("utf-8")).hexdigest()
    if etag:
        filename += "." + hashlib.sha256(etag.encode("utf-8")).hexdigest()
    return filename


def filename_to_url(filename: str, cache_dir=None):
    """The (url, etag) stored beside a cached file; EnvironmentError when the file or its metadata is missing."""
    cache_path = os.path.join(os.fspath(cache_dir or PYTORCH_TRANSFORMERS_CACHE), filename)
    for path in (cache_path, cache_path + ".json"):
        if not os.path.exists(path):
            raise EnvironmentError(f"file {path} not found")
    with open(cache_path + ".json", encoding="utf-8") as meta_file:
        metadata = json.load(meta_file)
    return metadata["url"], metadata["etag"]


def cached_path(url_or_filename, cache_dir=None, force_download: bool = False, proxies=None) -> str:
    """A local path for a URL (downloaded into the cache once) or an existing local file."""
    url_or_filename = os.fspath(url_or_filename)
    scheme = urllib.parse.urlparse(url_or_filename).scheme
    if scheme in ("http", "https", "s3"):
        return get_from_cache(url_or_filename, cache_dir=cache_dir, force_download=force_download, proxies=proxies)
    if os.path.exists(url_or_filename):
        return url_or_filename
    if scheme == "":
        raise EnvironmentError(f"file {url_or_filename} not found")
    raise ValueError(f"unable to parse {url_or_filename} as a URL or as a local path")


def split_s3_path(url: str):
    parsed = urllib.parse.urlparse(url)
    if not parsed.netloc or not parsed.path:
        raise ValueError(f"bad s3 path {url}")
    return parsed.netloc, parsed.path[1:] if parsed.path.startswith("/") else parsed.path


def s3_request(func):
    """Turns S3's 404 into EnvironmentError naming the URL."""
    @functools.wraps(func)
    def wrapper(url, *args, **kwargs):
        try:
            return func(url, *args, **kwargs)
        except Exception as exc:  # botocore's ClientError, without importing botocore here
            response = getattr(exc, "response", None)
            if isinstance(response, dict) and str(response.get("Error", {}).get("Code")) == "404":
                raise EnvironmentError(f"file {url} not found") from exc
            raise
    return wrapper


def _s3_resource(proxies):
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise ImportError("s3:// URLs need boto3: pip install boto3") from exc
    return boto3.resource("s3", config=Config(proxies=proxies))


@s3_request
def s3_etag(url: str, proxies=None):
    bucket_name, s3_path = split_s3_path(url)
    return _s3_resource(proxies).Object(bucket_name, s3_path).e_tag


@s3_request
def s3_get(url: str, temp_file, proxies=None) -> None:
    bucket_name, s3_path = split_s3_path(url)
    _s3_resource(proxies).Bucket(bucket_name).download_fileobj(s3_path, temp_file)


def _opener(proxies):
    return urllib.request.build_opener(urllib.request.ProxyHandler(proxies)) if proxies else urllib.request.build_opener()


def http_get(url: str, temp_file, proxies=None) -> None:
    """Streams `url` into the open binary file, with a progress bar."""
    from tqdm.auto import tqdm

    with _opener(proxies).open(url) as response:
        length = response.headers.get("Content-Length")
        with tqdm(unit="B", unit_scale=True, total=int(length) if length else None) as progress:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                temp_file.write(chunk)
                progress.update(len(chunk))


def _http_etag(url: str, proxies):
    try:
        with _opener(proxies).open(urllib.request.Request(url, method="HEAD")) as response:
            return response.headers.get("ETag") if response.status == 200 else None
    except (OSError, ValueError):
        return None  # offline or refused: the last download of this URL, if any, serves


def get_from_cache(url: str, cache_dir=None, force_download: bool = False, proxies=None) -> str:
    """The cached copy of `url` (named by url_to_filename, with a .json of url and etag beside it), downloaded
    first when missing, changed on the server (another ETag) or force_download."""
    cache_dir = os.fspath(cache_dir or PYTORCH_TRANSFORMERS_CACHE)
    os.makedirs(cache_dir, exist_ok=True)
    etag = s3_etag(url, proxies=proxies) if url.startswith("s3://") else _http_etag(url, proxies)
    filename = url_to_filename(url, etag)
    cache_path = os.path.join(cache_dir, filename)
    if not os.path.exists(cache_path) and etag is None:  # no connection: the last downloaded version
        matching = [f for f in fnmatch.filter(os.listdir(cache_dir), filename + ".*") if not f.endswith(".json")]
        if matching:
            cache_path = os.path.join(cache_dir, sorted(matching)[-1])
    if not os.path.exists(cache_path) or force_download:
        fd, temp_path = tempfile.mkstemp(dir=cache_dir, prefix=".download.")
        try:
            with os.fdopen(fd, "wb") as temp_file:
                if url.startswith("s3://"):
                    s3_get(url, temp_file, proxies=proxies)
                else:
                    http_get(url, temp_file, proxies=proxies)
            os.replace(temp_path, cache_path)  # never a half-written cache entry
        finally:
            if os.path.exists(temp_path):
                os.remove(temp_path)
        with open(cache_path + ".json", "w", encoding="utf-8") as meta_file:
            json.dump({"url": url, "etag": etag}, meta_file)
    return cache_path


class AllowListUnpickler(pickle.Unpickler):
    """An unpickler that builds only the objects of `allowed` ((module, name) -> what to use for it) and refuses
    anything else by name, and any reference to external storage: pickles read without running their code.
    `what` names the file in the errors."""

    def __init__(self, stream, allowed: Dict[Tuple[str, str], Any], what: str, **kwargs: Any):
        super().__init__(stream, **kwargs)
        self.allowed, self.what = allowed, what

    def find_class(self, module, name):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{self.what}: refusing to load {module}.{name}") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"{self.what}: refers to external storage (tensors), which it should not hold")
