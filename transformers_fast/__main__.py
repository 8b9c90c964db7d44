"""`python -m transformers_fast MODEL ...`: pytorch-transformers 1.2.0's `pytorch_transformers` converter command
(a failure is one line and exit status 2, as the `transformers-fast` command's)."""
import sys

from transformers_fast.cli import run_reporting_errors
from transformers_fast.conversion import command_main

if __name__ == "__main__":
    sys.exit(run_reporting_errors(command_main, "python -m transformers_fast"))
