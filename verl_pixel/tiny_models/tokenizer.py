"""A small byte-level BPE tokenizer with Qwen's special tokens, trained offline in a few seconds.

The vocabulary is learned from a generated corpus (chat-template fragments, tool-call JSON, numbers and a few
hundred English words) so rendered conversations tokenize compactly. Callers may add texts their runs will show
(tool schemas, task prompts, answer templates): a word the corpus never saw costs one token per few bytes, so a
tool schema alone is ~800 tokens with the base corpus. Training is deterministic for a given corpus.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Literal

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from verl_pixel.constants import ENDOFTEXT, IM_END, QWEN_ADDED_TOKENS, QWEN_SPECIAL_TOKENS

_WORDS = (  # noqa: SIM905 - a word list reads better as prose
    "the a an of to in is are was what which how many where color image picture crop zoom region box "
    "answer question look closer small tiny text number count object objects left right top bottom "
    "middle center red green blue yellow black white gray orange purple person people car cars sign "
    "label digit letter word read see visible because first then finally therefore let me need to "
    "inspect detail details frame frames video select option options choose correct wrong again here is "
    "cropped size assistant user system tool response you are helpful call function arguments name "
    "target bbox coordinates pixel pixels normalized error execution invalid must between and or not no "
    "yes it this that there they with for on at by from as be can could would should shows show contains "
    "appears seems clearly cannot determine whole area part above below near far large apples birds "
    "boxes circles squares stars lines rows columns page chart table value"
).split()


EXTRA_TEXT_REPEATS = 50  # copies of each extra text: frequent enough that BPE merges its words whole


def _corpus(seed: int = 0, n_lines: int = 6000, extra_texts: Sequence[str] = ()) -> list[str]:
    """Generate the training corpus: prose, JSON tool calls, boxed answers, digits, then the extra texts."""
    rng = random.Random(seed)
    lines: list[str] = []
    for _ in range(n_lines):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14)))
        box = [rng.randint(0, 1000) for _ in range(4)]
        call = json.dumps({"name": rng.choice(["crop_image", "select_frames"]), "arguments": {"bbox_2d": box}})
        lines.append(f"{words.capitalize()}.")
        lines.append(f"<tool_call>\n{call}\n</tool_call>")
        lines.append(f"The answer is \\boxed{{{rng.choice(['A', 'B', 'C', 'D', str(rng.randint(0, 99))])}}}.")
        lines.append(f"Here is the cropped image (Image Size: {rng.randint(28, 999)}x{rng.randint(28, 999)}):")
    for text in extra_texts:
        lines += [text] * EXTRA_TEXT_REPEATS
    return lines


def _pre_tokenizer(pieces: str) -> pre_tokenizers.PreTokenizer:
    """The BPE pre-tokenizer: ``words`` splits like GPT-2; ``lines`` isolates newlines and merges the rest freely.

    Either way a newline stays one token ("Ċ"), which verl's continuous-token builder requires.
    """
    if pieces == "words":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    isolate_newlines = pre_tokenizers.Split("\n", behavior="isolated")
    return pre_tokenizers.Sequence(
        [isolate_newlines, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )


def build_tokenizer(
    vocab_size: int = 2000,
    chat_template: str | None = None,
    extra_texts: Sequence[str] = (),
    pieces: Literal["words", "lines"] = "words",
    added_tokens: Sequence[str] = QWEN_ADDED_TOKENS,
) -> PreTrainedTokenizerFast:
    """Train the tiny tokenizer and add Qwen's special and added tokens.

    Args:
        vocab_size: size of the learned BPE vocabulary (special/added tokens come on top).
        chat_template: Jinja chat template to attach (usually the packaged tool template).
        extra_texts: texts added to the training corpus (each :data:`EXTRA_TEXT_REPEATS` times), e.g. the tool
            schemas and prompts of a task, so that they tokenize compactly.
        pieces: what BPE may merge: ``words`` (GPT-2's split: a token never spans a space, so a text costs at least
            one token per word) or ``lines`` (merges cross spaces; only newlines split, so a sentence the corpus
            repeats becomes a few tokens: with a task's prompts in ``extra_texts`` a 420-token prompt becomes ~70).
        added_tokens: the non-special added tokens after Qwen's special ones, in the family's id order
            (``QWEN_ADDED_TOKENS`` for the Qwen2.5-VL kit, ``QWEN3_ADDED_TOKENS`` for Qwen3-VL's).

    Returns:
        A fast tokenizer whose ``eos_token`` is ``<|im_end|>`` and ``pad_token`` is ``<|endoftext|>`` (as Qwen's).
    """
    if pieces not in ("words", "lines"):
        raise ValueError(f"pieces must be 'words' or 'lines', got {pieces!r}")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = _pre_tokenizer(pieces)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(_corpus(extra_texts=extra_texts), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe)
    # Special tokens first and in Qwen's order, so their ids are contiguous like the real vocabulary's.
    tok.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIAL_TOKENS)})
    tok.add_tokens(list(added_tokens))
    tok.eos_token = IM_END
    tok.pad_token = ENDOFTEXT
    if chat_template is not None:
        tok.chat_template = chat_template
    return tok
