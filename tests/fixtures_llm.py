"""Tiny random causal LMs saved as Hugging Face folders with a real, round-tripping tokenizer.

Nothing is downloaded: the byte-level BPE tokenizer is trained here on a few paragraphs, so it
encodes any text (no unknown tokens), converts with ``openvino_tokenizers`` (tokenizer and
detokenizer) and reloads identically from ``tokenizer.json``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

CORPUS = (
    "The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a "
    "single step. It was the best of times, it was the worst of times. The sun rose over the quiet "
    "town, and the people went about their work in the fields and in the shops. Questions and "
    "answers: what is the capital of France? The capital of France is Paris. What is two plus two? "
    "Two plus two is four. The river ran down to the sea, past the mill and the old stone bridge.\n"
)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tokenizer(vocab_size: int = 400, chat: bool = True):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
        unk_token="<|endoftext|>", pad_token="<|im_end|>",
        chat_template=CHAT_TEMPLATE if chat else None)


def build_tiny_lm(folder: Path, family: str = "llama", *, seed: int = 0, hidden: int = 64,
                  zero_fraction: float = 0.0, tokenizer: bool = True, chat: bool = True) -> Path:
    """A random tiny causal LM of ``family`` (llama, qwen2, gpt2) saved with its tokenizer."""
    import torch
    import transformers

    tok = build_tokenizer(chat=chat)
    vocab = len(tok)
    common = dict(vocab_size=vocab, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  pad_token_id=tok.pad_token_id)
    if family == "llama":
        cfg = transformers.LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=2, max_position_embeddings=512,
                                       tie_word_embeddings=True, **common)
        cls = transformers.LlamaForCausalLM
    elif family == "qwen2":
        cfg = transformers.Qwen2Config(hidden_size=hidden, intermediate_size=2 * hidden,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=2, max_position_embeddings=512,
                                       tie_word_embeddings=False, **common)
        cls = transformers.Qwen2ForCausalLM
    elif family == "gpt2":
        cfg = transformers.GPT2Config(n_embd=hidden, n_layer=2, n_head=4, n_positions=512,
                                      **common)
        cls = transformers.GPT2LMHeadModel
    else:
        raise ValueError(family)
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    # Random init gives near-uniform logits; a wider spread makes greedy decoding and top-1
    # agreement meaningful (ties would make any comparison flaky).
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(8.0)
    if zero_fraction:
        from publisher.stages.sparsity import in_scope

        with torch.no_grad():
            for name, module in model.named_modules():
                w = getattr(module, "weight", None)
                if w is not None and w.dim() == 2 and in_scope(name) and "ln" not in name:
                    k = int(w.numel() * zero_fraction)
                    idx = w.abs().flatten().argsort()[:k]
                    w.view(-1)[idx] = 0.0
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder)
    if tokenizer:
        tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("llama") / "ckpt", "llama", zero_fraction=0.25)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("qwen2") / "ckpt", "qwen2")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("gpt2") / "ckpt", "gpt2")


def card_snippets(card: str) -> list[str]:
    """The Python code blocks of a card that load the release (Optimum Intel, OpenVINO GenAI)."""
    fenced = re.findall(r"^([ \t]*```python\n.*?)^[ \t]*```", card, flags=re.S | re.M)
    blocks = [textwrap.dedent(b).split("\n", 1)[1] for b in fenced]
    return [b for b in blocks if "from_pretrained" in b or "LLMPipeline" in b]
