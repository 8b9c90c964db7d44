"""transformers_fast: the public names of pytorch-transformers 1.2.0, faster."""
__version__ = "0.1.0"

# Models and configurations (BERT family).
from transformers_fast.configuration_utils import PretrainedConfig
from transformers_fast.file_utils import CONFIG_NAME, SAFE_WEIGHTS_NAME, WEIGHTS_NAME
from transformers_fast.modeling_outputs import ModelOutput
from transformers_fast.modeling_utils import PreTrainedModel, prune_linear_layer
from transformers_fast.models.bert.configuration_bert import BERT_PRETRAINED_CONFIG_ARCHIVE_MAP, BertConfig
from transformers_fast.models.bert.modeling_bert import (BERT_PRETRAINED_MODEL_ARCHIVE_MAP, BertForMaskedLM,
                                                         BertForMultipleChoice, BertForNextSentencePrediction,
                                                         BertForPreTraining, BertForQuestionAnswering,
                                                         BertForSequenceClassification, BertForTokenClassification,
                                                         BertModel, BertPreTrainedModel)
from transformers_fast.models.distilbert.configuration_distilbert import (DISTILBERT_PRETRAINED_CONFIG_ARCHIVE_MAP,
                                                                          DistilBertConfig)
from transformers_fast.models.distilbert.modeling_distilbert import (DistilBertForMaskedLM,
                                                                     DistilBertForQuestionAnswering,
                                                                     DistilBertForSequenceClassification,
                                                                     DistilBertModel, DistilBertPreTrainedModel)
from transformers_fast.models.roberta.configuration_roberta import ROBERTA_PRETRAINED_CONFIG_ARCHIVE_MAP, RobertaConfig
from transformers_fast.models.roberta.modeling_roberta import (RobertaForMaskedLM, RobertaForSequenceClassification,
                                                               RobertaModel)
from transformers_fast.models.gpt2.configuration_gpt2 import GPT2_PRETRAINED_CONFIG_ARCHIVE_MAP, GPT2Config
from transformers_fast.models.gpt2.modeling_gpt2 import (GPT2_PRETRAINED_MODEL_ARCHIVE_MAP, GPT2DoubleHeadsModel,
                                                         GPT2LMHeadModel, GPT2Model, GPT2PreTrainedModel)
from transformers_fast.models.openai.configuration_openai import (OPENAI_GPT_PRETRAINED_CONFIG_ARCHIVE_MAP,
                                                                  OpenAIGPTConfig)
from transformers_fast.models.openai.modeling_openai import (OPENAI_GPT_PRETRAINED_MODEL_ARCHIVE_MAP,
                                                             OpenAIGPTDoubleHeadsModel, OpenAIGPTLMHeadModel,
                                                             OpenAIGPTModel, OpenAIGPTPreTrainedModel)
from transformers_fast.modeling_utils import Conv1D, SequenceSummary

# Tokenizers.
from transformers_fast.tokenization_utils import PreTrainedTokenizer
from transformers_fast.models.bert.tokenization_bert import BasicTokenizer, BertTokenizer, WordpieceTokenizer
from transformers_fast.models.distilbert.tokenization_distilbert import DistilBertTokenizer
from transformers_fast.models.gpt2.tokenization_gpt2 import GPT2Tokenizer
from transformers_fast.models.roberta.tokenization_roberta import RobertaTokenizer
from transformers_fast.models.openai.tokenization_openai import OpenAIGPTTokenizer
from transformers_fast.models.transfo_xl.tokenization_transfo_xl import TransfoXLTokenizer
from transformers_fast.models.xlnet.tokenization_xlnet import SPIECE_UNDERLINE, XLNetTokenizer
from transformers_fast.models.xlm.tokenization_xlm import XLMTokenizer
from transformers_fast.tokenization_auto import AutoTokenizer
