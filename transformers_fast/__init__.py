from transformers_fast.tokenization_utils import PreTrainedTokenizer  # noqa: F401
from transformers_fast.models.bert.tokenization_bert import BasicTokenizer, BertTokenizer, WordpieceTokenizer  # noqa: F401
from transformers_fast.models.distilbert.tokenization_distilbert import DistilBertTokenizer  # noqa: F401
from transformers_fast.models.gpt2.tokenization_gpt2 import GPT2Tokenizer  # noqa: F401
from transformers_fast.models.roberta.tokenization_roberta import RobertaTokenizer  # noqa: F401
