"""The module path `pytorch_transformers.convert_pytorch_checkpoint_to_tf` of 1.2.0 code (BertModel -> TensorFlow
checkpoint; needs TensorFlow); run as 1.2.0's script of that name."""
from transformers_fast.conversion import convert_pytorch_checkpoint_to_tf, run_script  # noqa: F401


def main(raw_args=None):
    run_script("convert_pytorch_checkpoint_to_tf", raw_args)


if __name__ == "__main__":
    main()
