from transformers_fast.tokenization_utils import PreTrainedTokenizer  # noqa: F401
from transformers_fast.models.bert.tokenization_bert import BasicTokenizer, BertTokenizer, WordpieceTokenizer  # noqa: F401
from transformers_fast.models.distilbert.tokenization_distilbert import DistilBertTokenizer  # noqa: F401
from transformers_fast.models.gpt2.tokenization_gpt2 import GPT2Tokenizer  # noqa: F401
from transformers_fast.models.roberta.tokenization_roberta import RobertaTokenizer  # noqa: F401
from transformers_fast.models.openai.tokenization_openai import OpenAIGPTTokenizer  # noqa: F401
from transformers_fast.models.transfo_xl.tokenization_transfo_xl import TransfoXLTokenizer  # noqa: F401
from transformers_fast.models.xlnet.tokenization_xlnet import SPIECE_UNDERLINE, XLNetTokenizer  # noqa: F401
from transformers_fast.models.xlm.tokenization_xlm import XLMTokenizer  # noqa: F401
from transformers_fast.tokenization_auto import AutoTokenizer  # noqa: F401
