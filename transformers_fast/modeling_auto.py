"""The module path `pytorch_transformers.modeling_auto` of 1.2.0 code (the Auto classes live in auto.py)."""
from transformers_fast.auto import (AutoConfig, AutoModel, AutoModelForQuestionAnswering,  # noqa: F401
                                    AutoModelForSequenceClassification, AutoModelWithLMHead)
from transformers_fast.configuration_bert import BertConfig  # noqa: F401  (1.2.0's module imports every family)
from transformers_fast.configuration_distilbert import DistilBertConfig  # noqa: F401
from transformers_fast.configuration_gpt2 import GPT2Config  # noqa: F401
from transformers_fast.configuration_openai import OpenAIGPTConfig  # noqa: F401
from transformers_fast.configuration_roberta import RobertaConfig  # noqa: F401
from transformers_fast.configuration_transfo_xl import TransfoXLConfig  # noqa: F401
from transformers_fast.configuration_xlm import XLMConfig  # noqa: F401
from transformers_fast.configuration_xlnet import XLNetConfig  # noqa: F401
from transformers_fast.modeling_utils import PreTrainedModel, SequenceSummary  # noqa: F401
