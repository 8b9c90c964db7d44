"""`python -m transformers_fast MODEL ...`: pytorch-transformers 1.2.0's `pytorch_transformers` converter command."""
import sys

from transformers_fast.conversion import command_main

if __name__ == "__main__":
    sys.exit(command_main())
