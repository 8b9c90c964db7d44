"""transformers_fast: the public names of pytorch-transformers 1.2.0, faster.

Names are imported on first use (PEP 562), so `import transformers_fast` costs little beyond torch, and
`from transformers_fast import BertModel` loads only the BERT modules (no tokenizers, no other families).
"""
import importlib

__version__ = "0.1.0"

# module (relative to this package) -> the public names it provides
_EXPORTS = {
    # Models and configurations.
    "configuration_utils": ("PretrainedConfig",),
    "file_utils": ("CONFIG_NAME", "SAFE_WEIGHTS_NAME", "WEIGHTS_NAME", "PYTORCH_PRETRAINED_BERT_CACHE",
                   "PYTORCH_TRANSFORMERS_CACHE", "cached_path"),
    "modeling_outputs": ("ModelOutput",),
    "modeling_utils": ("PreTrainedModel", "prune_linear_layer", "prune_layer", "Conv1D", "SequenceSummary",
                       "TF_WEIGHTS_NAME"),
    "runtime.fast_path": ("keep_freed_activation_memory",),
    "quantization": ("quantize",),
    "optimization": ("AdamW", "ConstantLRSchedule", "WarmupConstantSchedule", "WarmupCosineSchedule",
                     "WarmupCosineWithHardRestartsSchedule", "WarmupLinearSchedule"),
    "models.bert.configuration_bert": ("BERT_PRETRAINED_CONFIG_ARCHIVE_MAP", "BertConfig"),
    "models.bert.modeling_bert": ("BERT_PRETRAINED_MODEL_ARCHIVE_MAP", "BertForMaskedLM", "BertForMultipleChoice",
                                  "BertForNextSentencePrediction", "BertForPreTraining", "BertForQuestionAnswering",
                                  "BertForSequenceClassification", "BertForTokenClassification", "BertModel",
                                  "BertPreTrainedModel", "load_tf_weights_in_bert"),
    "models.distilbert.configuration_distilbert": ("DISTILBERT_PRETRAINED_CONFIG_ARCHIVE_MAP", "DistilBertConfig"),
    "models.distilbert.modeling_distilbert": ("DISTILBERT_PRETRAINED_MODEL_ARCHIVE_MAP", "DistilBertForMaskedLM", "DistilBertForQuestionAnswering",
                                              "DistilBertForSequenceClassification", "DistilBertModel",
                                              "DistilBertPreTrainedModel"),
    "models.roberta.configuration_roberta": ("ROBERTA_PRETRAINED_CONFIG_ARCHIVE_MAP", "RobertaConfig"),
    "models.roberta.modeling_roberta": ("ROBERTA_PRETRAINED_MODEL_ARCHIVE_MAP", "RobertaForMaskedLM", "RobertaForSequenceClassification", "RobertaModel"),
    "models.gpt2.configuration_gpt2": ("GPT2_PRETRAINED_CONFIG_ARCHIVE_MAP", "GPT2Config"),
    "models.gpt2.modeling_gpt2": ("GPT2_PRETRAINED_MODEL_ARCHIVE_MAP", "GPT2DoubleHeadsModel", "GPT2LMHeadModel",
                                  "GPT2Model", "GPT2PreTrainedModel", "load_tf_weights_in_gpt2"),
    "models.openai.configuration_openai": ("OPENAI_GPT_PRETRAINED_CONFIG_ARCHIVE_MAP", "OpenAIGPTConfig"),
    "models.openai.modeling_openai": ("OPENAI_GPT_PRETRAINED_MODEL_ARCHIVE_MAP", "OpenAIGPTDoubleHeadsModel",
                                      "OpenAIGPTLMHeadModel", "OpenAIGPTModel", "OpenAIGPTPreTrainedModel",
                                      "load_tf_weights_in_openai_gpt"),
    "models.transfo_xl.configuration_transfo_xl": ("TRANSFO_XL_PRETRAINED_CONFIG_ARCHIVE_MAP", "TransfoXLConfig"),
    "models.transfo_xl.modeling_transfo_xl": ("TRANSFO_XL_PRETRAINED_MODEL_ARCHIVE_MAP",
                                              "TransfoXLLMHeadModel", "TransfoXLModel", "TransfoXLPreTrainedModel",
                                              "load_tf_weights_in_transfo_xl"),
    "models.xlnet.configuration_xlnet": ("XLNET_PRETRAINED_CONFIG_ARCHIVE_MAP", "XLNetConfig"),
    "models.xlnet.modeling_xlnet": ("XLNET_PRETRAINED_MODEL_ARCHIVE_MAP", "XLNetForQuestionAnswering",
                                    "XLNetForSequenceClassification", "XLNetLMHeadModel", "XLNetModel",
                                    "XLNetPreTrainedModel", "load_tf_weights_in_xlnet"),
    "models.xlm.configuration_xlm": ("XLM_PRETRAINED_CONFIG_ARCHIVE_MAP", "XLMConfig"),
    "models.xlm.modeling_xlm": ("XLM_PRETRAINED_MODEL_ARCHIVE_MAP", "XLMForQuestionAnswering",
                                "XLMForSequenceClassification", "XLMModel", "XLMPreTrainedModel",
                                "XLMWithLMHeadModel"),
    # Tokenizers.
    "tokenization_utils": ("PreTrainedTokenizer",),
    "models.bert.tokenization_bert": ("BasicTokenizer", "BertTokenizer", "WordpieceTokenizer"),
    "models.distilbert.tokenization_distilbert": ("DistilBertTokenizer",),
    "models.gpt2.tokenization_gpt2": ("GPT2Tokenizer",),
    "models.roberta.tokenization_roberta": ("RobertaTokenizer",),
    "models.openai.tokenization_openai": ("OpenAIGPTTokenizer",),
    "models.transfo_xl.tokenization_transfo_xl": ("TransfoXLCorpus", "TransfoXLTokenizer"),
    "models.xlnet.tokenization_xlnet": ("SPIECE_UNDERLINE", "XLNetTokenizer"),
    "models.xlm.tokenization_xlm": ("XLMTokenizer",),
    "auto": ("AutoConfig", "AutoModel", "AutoModelForQuestionAnswering", "AutoModelForSequenceClassification",
             "AutoModelWithLMHead", "AutoTokenizer", "from_transformers", "AutoModelForMaskedLM",
             "AutoModelForCausalLM", "AutoModelForPreTraining", "AutoModelForTokenClassification",
             "AutoModelForMultipleChoice", "AutoModelForNextSentencePrediction"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


# 1.2.0's submodules, reachable as attributes (`transformers_fast.modeling_bert`) as after 1.2.0's import.
_SUBMODULES = {"configuration_auto", "configuration_bert", "configuration_distilbert", "configuration_gpt2",
               "configuration_openai", "configuration_roberta", "configuration_transfo_xl", "configuration_utils",
               "configuration_xlm", "configuration_xlnet", "file_utils", "modeling_auto", "modeling_bert",
               "modeling_distilbert", "modeling_gpt2", "modeling_openai", "modeling_roberta", "modeling_transfo_xl",
               "modeling_transfo_xl_utilities", "modeling_utils", "modeling_xlm", "modeling_xlnet", "optimization",
               "tokenization_auto", "tokenization_bert", "tokenization_distilbert", "tokenization_gpt2",
               "tokenization_openai", "tokenization_roberta", "tokenization_transfo_xl", "tokenization_utils",
               "tokenization_xlm", "tokenization_xlnet", "conversion", "convert_gpt2_checkpoint_to_pytorch",
               "convert_openai_checkpoint_to_pytorch", "convert_pytorch_checkpoint_to_tf",
               "convert_roberta_checkpoint_to_pytorch", "convert_tf_checkpoint_to_pytorch",
               "convert_transfo_xl_checkpoint_to_pytorch", "convert_xlm_checkpoint_to_pytorch",
               "convert_xlnet_checkpoint_to_pytorch"}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None and name in _SUBMODULES:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
