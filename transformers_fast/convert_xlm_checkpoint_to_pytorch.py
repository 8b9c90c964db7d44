"""The module path `pytorch_transformers.convert_xlm_checkpoint_to_pytorch` of 1.2.0 code; run as 1.2.0's script of that name."""
from transformers_fast.file_utils import CONFIG_NAME, WEIGHTS_NAME  # noqa: F401
from transformers_fast.models.xlm.tokenization_xlm import VOCAB_FILES_NAMES  # noqa: F401
from transformers_fast.conversion import convert_xlm_checkpoint_to_pytorch, run_script  # noqa: F401

if __name__ == "__main__":
    run_script("convert_xlm_checkpoint_to_pytorch")
