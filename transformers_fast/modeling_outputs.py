"""Model outputs: the tuples of pytorch-transformers 1.2.0 that also answer to today's attribute names.

`out[0]`, `loss, logits = out[:2]` and `a, b = out` behave exactly like the 1.2.0 tuples (absent optional
outputs take no slot), while `out.logits`, `out["logits"]` and `out.attentions` (None when not returned)
read like a transformers ModelOutput.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Iterator, Tuple

from torch.utils import _pytree


class ModelOutput(tuple):
    """A tuple whose slots have names. Subclasses list every possible field, in 1.2.0 tuple order (and the fields
    transformers' output of the class has beside them, such as cross_attentions: never set here, they read None).

    An instance's type is a subclass of the declared class that knows which fields hold its slots, so code that
    rebuilds a tuple from its values, `type(out)(values)` as accelerate's mixed precision does, gets the same
    named output back."""

    fields: Tuple[str, ...] = ()
    _present: Tuple[str, ...] = ()  # the fields in the slots, set on the layout subclass
    _declared: type = None  # the class the layout subclass stands for
    _layouts: dict = {}

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if "_declared" not in cls.__dict__:  # a declared output type, not one of its layouts
            cls._declared = cls
            cls._layouts = {}

    def __new__(cls, *args: Any, **kwargs: Any):
        if args:
            if cls is cls._declared or kwargs or len(args) != 1:
                raise TypeError(f"{cls.__name__} takes keyword arguments (its fields: {', '.join(cls.fields)}), or "
                                f"type(output)(values) of an output's own type")
            values = tuple(args[0])
            if len(values) != len(cls._present):
                raise TypeError(f"{cls.__name__} holds {len(cls._present)} values ({', '.join(cls._present)}), "
                                f"got {len(values)}")
            return super().__new__(cls, values)
        unknown = set(kwargs) - set(cls.fields)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}; its fields: {', '.join(cls.fields)}")
        present = cls._layout_of(kwargs)
        return super().__new__(_layout_class(cls._declared, present), tuple(kwargs.get(name) for name in present))

    @classmethod
    def _layout_of(cls, kwargs: dict) -> Tuple[str, ...]:
        """The fields that take a slot: those given and not None (1.2.0 leaves absent outputs out)."""
        return tuple(name for name in cls.fields if kwargs.get(name) is not None)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: known fields that were not returned read as None.
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "cache" and "past_key_values" in type(self).fields:
            name = "past_key_values"  # transformers 5.25 renamed past_key_values to cache (both still read)
        try:
            return tuple.__getitem__(self, self._present.index(name))
        except ValueError:
            if name in type(self).fields:
                return None
            raise AttributeError(f"{type(self).__name__} has no field {name!r}; it has {', '.join(self._present)}") from None

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self._present:
                raise KeyError(key)
            return tuple.__getitem__(self, self._present.index(key))
        return tuple.__getitem__(self, key)

    def __contains__(self, item: Any) -> bool:
        # a name asks for a returned field ("hidden_states" in out, as of transformers' outputs); a str is never a value
        if isinstance(item, str):
            return item in self._present
        return tuple.__contains__(self, item)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self._present else default

    def keys(self) -> Tuple[str, ...]:
        return self._present

    def values(self) -> Iterator[Any]:
        return iter(self)

    def items(self) -> Iterator[Tuple[str, Any]]:
        return zip(self._present, self)

    def to_tuple(self) -> tuple:
        return tuple(self)

    def __reduce__(self):
        return (_rebuild, (self._declared, dict(self.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self.items())
        return f"{type(self).__name__}({inner})"


_layouts_lock = threading.Lock()


def _layout_class(declared: type, present: Tuple[str, ...]) -> type:
    layout = declared._layouts.get(present)
    if layout is not None:
        return layout
    with _layouts_lock:  # one class per layout even when threads make their first such outputs at once
        layout = declared._layouts.get(present)
        if layout is not None:
            return layout
        layout = type(declared.__name__, (declared,), {"_present": present, "_declared": declared,
                                                      "__module__": declared.__module__,
                                                      "__qualname__": declared.__qualname__})
        # A pytree node (as transformers' outputs are), so torch.export and torch.compile can return it.
        _register_pytree_node(layout, f"{declared.__module__}.{declared.__qualname__}[{','.join(present)}]")
        declared._layouts[present] = layout
        return layout


# Its result depends on its arguments only, so torch.compile may call it while tracing (what
# torch.compiler.assume_constant_result sets, without importing the compiler with this module).
_layout_class._dynamo_marked_constant = True


def _register_pytree_node(cls: type, serialized_name: str) -> None:
    if hasattr(_pytree, "register_pytree_node"):
        _pytree.register_pytree_node(cls, _flatten, functools.partial(_unflatten, cls),
                                     serialized_type_name=serialized_name)
    else:  # torch < 2.2
        _pytree._register_pytree_node(cls, _flatten, functools.partial(_unflatten, cls))


def _flatten(output: ModelOutput):
    return list(output), output._present


def _unflatten(cls, values, present):
    return cls(values)


def _rebuild(cls, values):
    return cls(**values)


def _short(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"Tensor{tuple(shape)}"
    if isinstance(value, tuple):
        return f"tuple[{len(value)}]"
    return repr(value)


def output_class(name: str, *fields: str) -> type:
    """Declares an output type whose slots are `fields` in this order."""
    return type(name, (ModelOutput,), {"fields": tuple(fields), "__module__": __name__})


# Encoders: sequence_output, pooled_output, (hidden_states), (attentions)
BaseModelOutput = output_class("BaseModelOutput", "last_hidden_state", "hidden_states", "attentions")
BaseModelOutputWithPooling = output_class(
    "BaseModelOutputWithPooling", "last_hidden_state", "pooler_output", "hidden_states", "attentions",
    "cross_attentions")
BertForPreTrainingOutput = output_class(
    "BertForPreTrainingOutput", "loss", "prediction_logits", "seq_relationship_logits", "hidden_states", "attentions")
MaskedLMOutput = output_class("MaskedLMOutput", "loss", "logits", "hidden_states", "attentions")
NextSentencePredictorOutput = output_class(
    "NextSentencePredictorOutput", "loss", "logits", "hidden_states", "attentions")
SequenceClassifierOutput = output_class("SequenceClassifierOutput", "loss", "logits", "hidden_states", "attentions")
MultipleChoiceModelOutput = output_class("MultipleChoiceModelOutput", "loss", "logits", "hidden_states", "attentions")
TokenClassifierOutput = output_class("TokenClassifierOutput", "loss", "logits", "hidden_states", "attentions")
QuestionAnsweringModelOutput = output_class(
    "QuestionAnsweringModelOutput", "loss", "start_logits", "end_logits", "hidden_states", "attentions")

# Decoders (OpenAI GPT, GPT-2). past_key_values are 1.2.0's `presents`: per layer a tensor [2, batch, heads,
# sequence, head_dim] whose [0] and [1] are the keys and values (also readable as today's (key, value) pairs).
BaseModelOutputWithPast = output_class(
    "BaseModelOutputWithPast", "last_hidden_state", "past_key_values", "hidden_states", "attentions",
    "cross_attentions")
CausalLMOutput = output_class("CausalLMOutput", "loss", "logits", "hidden_states", "attentions")
CausalLMOutputWithPast = output_class(
    "CausalLMOutputWithPast", "loss", "logits", "past_key_values", "hidden_states", "attentions", "cross_attentions")
DoubleHeadsModelOutput = output_class(
    "DoubleHeadsModelOutput", "loss", "mc_loss", "logits", "mc_logits", "past_key_values", "hidden_states",
    "attentions")

# XLNet: 1.2.0 always returns `mems` after the main outputs (per layer the hidden states to attend to next time,
# [mem_len, batch, d_model], or a tuple of None without config.mem_len); the QA head with positions returns
# (loss, mems, ...), without them the beam-search outputs.
XLNetModelOutput = output_class("XLNetModelOutput", "last_hidden_state", "mems", "hidden_states", "attentions")
XLNetLMHeadModelOutput = output_class("XLNetLMHeadModelOutput", "loss", "logits", "mems", "hidden_states",
                                      "attentions")
XLNetForSequenceClassificationOutput = output_class(
    "XLNetForSequenceClassificationOutput", "loss", "logits", "mems", "hidden_states", "attentions")
XLNetForQuestionAnsweringOutput = output_class(
    "XLNetForQuestionAnsweringOutput", "loss", "start_top_log_probs", "start_top_index", "end_top_log_probs",
    "end_top_index", "cls_logits", "mems", "hidden_states", "attentions")
