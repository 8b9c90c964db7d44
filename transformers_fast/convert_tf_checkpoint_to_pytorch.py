"""The module path `pytorch_transformers.convert_tf_checkpoint_to_pytorch` of 1.2.0 code; run as 1.2.0's script of that name."""
from transformers_fast.conversion import convert_tf_checkpoint_to_pytorch, run_script  # noqa: F401

if __name__ == "__main__":
    run_script("convert_tf_checkpoint_to_pytorch")
