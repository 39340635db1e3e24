"""GPT-2 goldens (tests/fixtures/golden/gpt2_tiny/): a small RANDOM GPT2LMHeadModel (2 layers, n_embd 32,
4 heads, vocab 100, 48 positions, gelu_new, tied LM head) written as a Hugging Face folder (config.json +
model.safetensors with GPT2LMHeadModel names, lm_head.weight left out as save_pretrained does) plus
expected.json: right-padded inputs with their eval-mode logits for every position, a greedy continuation, and
beam-search results (num_beams 3, two length penalties). The forward pass is a plain torch transcription of
transformers' modeling_gpt2 (v4.40, eager attention: Conv1D weights [in, out], pre-LN blocks, causal mask by
torch.where with finfo.min, additive padding mask, positions arange(past, past + n), lm_head tied to wte);
greedy and beam search transcribe generation/utils.py `_greedy_search` / `_beam_search` and
generation/beam_search.py BeamSearchScorer + BeamHypotheses (`transformers` is not installed here).
tests/core/gpt2_parity_test.ts replays everything with edgetune.
Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/torch_reference/gpt2_reference.py"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden",
                   "gpt2_tiny")
torch.set_num_threads(1)

CONFIG = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 100, "n_positions": 48,
          "n_ctx": 48, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None, "activation_function": "gelu_new",
          "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "layer_norm_epsilon": 1e-5,
          "initializer_range": 0.02, "scale_attn_weights": True, "bos_token_id": 0, "eos_token_id": 0,
          "tie_word_embeddings": True}


def shapes(cfg):
    e, inner = cfg["n_embd"], cfg["n_inner"] or 4 * cfg["n_embd"]
    out = [("transformer.wte.weight", (cfg["vocab_size"], e)), ("transformer.wpe.weight", (cfg["n_positions"], e))]
    for i in range(cfg["n_layer"]):
        h = f"transformer.h.{i}"
        out += [(f"{h}.ln_1.weight", (e,)), (f"{h}.ln_1.bias", (e,)),
                (f"{h}.attn.c_attn.weight", (e, 3 * e)), (f"{h}.attn.c_attn.bias", (3 * e,)),
                (f"{h}.attn.c_proj.weight", (e, e)), (f"{h}.attn.c_proj.bias", (e,)),
                (f"{h}.ln_2.weight", (e,)), (f"{h}.ln_2.bias", (e,)),
                (f"{h}.mlp.c_fc.weight", (e, inner)), (f"{h}.mlp.c_fc.bias", (inner,)),
                (f"{h}.mlp.c_proj.weight", (inner, e)), (f"{h}.mlp.c_proj.bias", (e,))]
    return out + [("transformer.ln_f.weight", (e,)), ("transformer.ln_f.bias", (e,))]


def random_state(cfg, gen):
    """Weights far from HF's init (so layout or transposition mistakes show in the logits)."""
    sd = {}
    for name, shape in shapes(cfg):
        if ".ln_" in name and name.endswith("weight"):
            sd[name] = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
        elif ".wte." in name or ".wpe." in name:
            sd[name] = 0.5 * torch.randn(shape, generator=gen)
        else:
            sd[name] = 0.25 * torch.randn(shape, generator=gen)
    return sd


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(cfg, sd, input_ids, attention_mask=None):
    """GPT2LMHeadModel.forward in eval mode: logits [B, S, V]."""
    b, s = input_ids.shape
    e, heads = cfg["n_embd"], cfg["n_head"]
    d = e // heads
    dtype = sd["transformer.wte.weight"].dtype
    position_ids = torch.arange(0, s)[None]
    hidden = sd["transformer.wte.weight"][input_ids] + sd["transformer.wpe.weight"][position_ids]
    ext = None
    if attention_mask is not None:
        ext = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    bias = torch.tril(torch.ones((cfg["n_positions"], cfg["n_positions"]), dtype=torch.bool))[None, None]
    ln = lambda x, p: F.layer_norm(x, (e,), sd[f"{p}.weight"], sd[f"{p}.bias"], cfg["layer_norm_epsilon"])
    conv1d = lambda x, p: torch.addmm(sd[f"{p}.bias"], x.view(-1, x.size(-1)), sd[f"{p}.weight"]).view(
        *x.shape[:-1], -1)
    for i in range(cfg["n_layer"]):
        h = f"transformer.h.{i}"
        residual = hidden
        q, k, v = conv1d(ln(hidden, f"{h}.ln_1"), f"{h}.attn.c_attn").split(e, dim=2)
        q, k, v = (t.view(b, s, heads, d).permute(0, 2, 1, 3) for t in (q, k, v))
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        causal = bias[:, :, 0:s, :s]
        w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
        if ext is not None:
            w = w + ext
        w = F.softmax(w, dim=-1)
        out = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(b, s, e)
        hidden = conv1d(out, f"{h}.attn.c_proj") + residual
        residual = hidden
        hidden = conv1d(gelu_new(conv1d(ln(hidden, f"{h}.ln_2"), f"{h}.mlp.c_fc")), f"{h}.mlp.c_proj") + residual
    hidden = ln(hidden, "transformer.ln_f")
    return hidden @ sd["transformer.wte.weight"].t()


def greedy(cfg, sd, prompt, max_new_tokens, eos):
    """_greedy_search for one row: argmax of the last logits until EOS or max_new_tokens (EOS kept)."""
    ids = list(prompt)
    for _ in range(max_new_tokens):
        nxt = int(forward(cfg, sd, torch.tensor([ids]))[0, -1].argmax())
        ids.append(nxt)
        if nxt == eos:
            break
    return ids[len(prompt):]


class BeamHypotheses:
    def __init__(self, num_beams, length_penalty, early_stopping, max_length):
        self.num_beams, self.length_penalty, self.early_stopping = num_beams, length_penalty, early_stopping
        self.max_length, self.beams, self.worst_score = max_length, [], 1e9

    def add(self, hyp, sum_logprobs, generated_len):
        score = sum_logprobs / (generated_len ** self.length_penalty)
        if len(self.beams) < self.num_beams or score > self.worst_score:
            self.beams.append((score, hyp))
            if len(self.beams) > self.num_beams:
                ranked = sorted([(s, idx) for idx, (s, _) in enumerate(self.beams)])
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs, cur_len, prompt_len):
        if len(self.beams) < self.num_beams:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping is False:
            return self.worst_score >= best_sum_logprobs / (cur_len - prompt_len) ** self.length_penalty
        if self.length_penalty > 0.0:
            highest = best_sum_logprobs / (self.max_length - prompt_len) ** self.length_penalty
        else:
            highest = best_sum_logprobs / (cur_len - prompt_len) ** self.length_penalty
        return self.worst_score >= highest


def beam_search(cfg, sd, prompt, num_beams, max_new_tokens, eos, length_penalty, early_stopping, num_return):
    """_beam_search + BeamSearchScorer for batch size 1; returns [(tokens after the prompt, score)]."""
    prompt_len = len(prompt)
    max_length = prompt_len + max_new_tokens
    input_ids = torch.tensor([list(prompt)] * num_beams)
    beam_scores = torch.zeros(num_beams, dtype=torch.float32)
    beam_scores[1:] = -1e9
    hyps = BeamHypotheses(num_beams, length_penalty, early_stopping, max_length)
    done = False
    while True:
        logits = forward(cfg, sd, input_ids)[:, -1, :]
        scores = F.log_softmax(logits, dim=-1) + beam_scores[:, None]
        vocab = scores.shape[-1]
        scores = scores.view(1, num_beams * vocab)
        top_scores, top_tokens = torch.topk(scores, 2 * num_beams, dim=1, largest=True, sorted=True)
        top_indices = torch.div(top_tokens, vocab, rounding_mode="floor")
        top_tokens = top_tokens % vocab
        cur_len = input_ids.shape[-1] + 1
        next_scores = torch.zeros(num_beams)
        next_tokens = torch.zeros(num_beams, dtype=torch.long)
        next_indices = torch.zeros(num_beams, dtype=torch.long)
        beam_idx = 0
        for rank, (tok, sc, idx) in enumerate(zip(top_tokens[0], top_scores[0], top_indices[0])):
            if int(tok) == eos:
                if rank >= num_beams:
                    continue
                hyps.add(input_ids[idx].clone(), sc.item(), cur_len - prompt_len)
            else:
                next_scores[beam_idx], next_tokens[beam_idx], next_indices[beam_idx] = sc, tok, idx
                beam_idx += 1
            if beam_idx == num_beams:
                break
        done = done or hyps.is_done(top_scores[0].max().item(), cur_len, prompt_len)
        beam_scores = next_scores
        input_ids = torch.cat([input_ids[next_indices, :], next_tokens[:, None]], dim=-1)
        if done or input_ids.shape[-1] >= max_length:
            break
    if not done:
        for i in range(num_beams):
            hyps.add(input_ids[i], beam_scores[i].item(), input_ids.shape[-1] - prompt_len)
    ranked = sorted(hyps.beams, key=lambda x: x[0])
    out = []
    for _ in range(num_return):
        score, hyp = ranked.pop()
        tokens = hyp.tolist()[prompt_len:]
        if len(hyp) < max_length:
            tokens.append(eos)
        out.append({"tokens": tokens, "score": score})
    return out


def main():
    gen = torch.Generator().manual_seed(2024)
    cfg = dict(CONFIG)
    sd = random_state(cfg, gen)
    ids = torch.zeros((2, 9), dtype=torch.long)
    mask = torch.zeros((2, 9), dtype=torch.long)
    ids[0] = torch.randint(1, cfg["vocab_size"], (9,), generator=gen)
    ids[1, :5] = torch.randint(1, cfg["vocab_size"], (5,), generator=gen)
    mask[0] = 1
    mask[1, :5] = 1
    prompt = ids[0, :6].tolist()
    with torch.no_grad():
        logits = forward(cfg, sd, ids, mask)
        logits64 = forward(cfg, {k: v.double() for k, v in sd.items()}, ids, mask)
        # EOS: a token the model first produces several steps in, so greedy and beam search both meet it.
        free = greedy(cfg, sd, prompt, 12, eos=-1)
        cfg["eos_token_id"] = cfg["bos_token_id"] = next(t for i, t in enumerate(free) if i >= 5 and t not in free[:i])
        eos = cfg["eos_token_id"]
        greedy_tokens = greedy(cfg, sd, prompt, 12, eos)
        beams = {str(lp): beam_search(cfg, sd, prompt, 3, 10, eos, lp, False, 3) for lp in (1.0, -1.0)}
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "model.safetensors"), sd)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    expected = {
        "torch": torch.__version__,
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "logits": [[round(v, 6) for v in row] for row in logits.view(-1, cfg["vocab_size"]).tolist()],
        "float64_vs_float32_max_abs": float((logits.double() - logits64).abs().max()),
        "prompt": prompt,
        "greedy": {"max_new_tokens": 12, "tokens": greedy_tokens},
        "beam": {"num_beams": 3, "max_new_tokens": 10, "early_stopping": False, "by_length_penalty": beams},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    print("eos", eos, "greedy", greedy_tokens, "free", free)
    print("beams", json.dumps(beams))
    print("f32/f64 gap", expected["float64_vs_float32_max_abs"])


if __name__ == "__main__":
    main()
