"""Where pretrained files come from: a local folder or file, or the Hugging Face hub cache (offline first).

Shortcut names of pytorch-transformers 1.2.0 (`bert-base-uncased`) map to today's hub repositories
(`google-bert/bert-base-uncased`); their configs also ship inside this package (transformers_fast/configs).
A hub file is taken from the local cache when it is there; otherwise it is downloaded through
`huggingface_hub`, unless HF_HUB_OFFLINE=1 or local_files_only=True.
"""
from __future__ import annotations

import os
from typing import Iterable, Optional, Sequence

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"

PACKAGED_CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


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


def hub_file(repo_ids: Sequence[str], filename: str, *, cache_dir=None, force_download: bool = False,
             local_files_only: bool = False, revision: Optional[str] = None, token=None) -> Optional[str]:
    """Path of `filename` from the first of `repo_ids` (aliases of one model) that has it.

    The cache is tried first for every alias; the network only when online and nothing was cached.
    Returns None when the file does not exist in the repository (so a caller can try another name);
    raises OSError when the file cannot be had (offline and not cached, no network, unknown repo).
    """
    from huggingface_hub import try_to_load_from_cache

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


def first_hub_file(repo_ids: Sequence[str], filenames: Iterable[str], **kwargs) -> Optional[str]:
    """The first of `filenames` that the repository has: any of them in the cache first, then downloads."""
    from huggingface_hub import try_to_load_from_cache

    filenames = list(filenames)
    if not kwargs.get("force_download"):
        for filename in filenames:
            for repo_id in repo_ids:
                cached = try_to_load_from_cache(repo_id, filename, cache_dir=kwargs.get("cache_dir"),
                                                revision=kwargs.get("revision"))
                if isinstance(cached, str):
                    return cached
    errors = []
    for filename in filenames:
        try:
            path = hub_file(repo_ids, filename, **kwargs)
        except OSError as err:
            errors.append(err)
            continue
        if path is not None:
            return path
    if errors:
        raise errors[0]
    return None


def _default_cache() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


# 1.2.0's cache-location names: its own cache, where a 1.2.0 installation kept downloaded files.
torch_cache_home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")))
default_cache_path = os.path.join(torch_cache_home, "pytorch_transformers")
PYTORCH_PRETRAINED_BERT_CACHE = os.getenv("PYTORCH_PRETRAINED_BERT_CACHE", default_cache_path)
PYTORCH_TRANSFORMERS_CACHE = os.getenv("PYTORCH_TRANSFORMERS_CACHE", PYTORCH_PRETRAINED_BERT_CACHE)
