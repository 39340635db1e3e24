"""T5 goldens (tests/fixtures/golden/t5_<variant>/ and t5_buckets.json): two small RANDOM
T5ForConditionalGeneration models — "relu" (ungated ReLU feed-forward, tied embeddings, so the decoder output is
scaled by d_model^-0.5 before the shared lm head) and "gated" (gated-gelu "T5 v1.1" feed-forward with gelu_new,
untied lm_head, inner dim heads·d_kv ≠ d_model) — each written as a Hugging Face folder (config.json +
model.safetensors with HF names, weights stored as F16 to keep the fixture small; the reference computes in
float32 with exactly those rounded weights) plus expected.json: a padded source batch, decoder inputs with a
decoder attention mask, the eval-mode decoder logits, and greedy decoding tokens. t5_buckets.json holds
`_relative_position_bucket` for relative positions -200..200 in several (num_buckets, max_distance) settings,
bidirectional and causal. The forward pass is a plain torch transcription of transformers' modeling_t5 (v4.40;
`transformers` is not installed here). tests/core/t5_parity_test.ts replays these files.
Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/torch_reference/t5_reference.py"""

import json
import math
import os
import struct

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden")
torch.set_num_threads(1)

COMMON = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "vocab_size": 100, "d_model": 32,
          "num_layers": 2, "num_decoder_layers": 2, "relative_attention_num_buckets": 32,
          "relative_attention_max_distance": 128, "dropout_rate": 0.1, "layer_norm_epsilon": 1e-6,
          "initializer_factor": 1.0, "is_encoder_decoder": True, "pad_token_id": 0, "eos_token_id": 1,
          "decoder_start_token_id": 0}
VARIANTS = {
    "relu": {**COMMON, "d_kv": 8, "num_heads": 4, "d_ff": 64, "feed_forward_proj": "relu",
             "tie_word_embeddings": True},
    "gated": {**COMMON, "d_kv": 4, "num_heads": 4, "d_ff": 32, "feed_forward_proj": "gated-gelu",
              "tie_word_embeddings": False},
}


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def write_safetensors(path, tensors):
    """tensors: ordered dict name -> torch tensor (float16 or float32), as forward.py's writer."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        dtype = {torch.float32: "F32", torch.float16: "F16"}[t.dtype]
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for data in blobs:
            f.write(data)


# ---------------------------------------------------------------- HF names and shapes

def shapes(cfg):
    d, inner, ff, v = cfg["d_model"], cfg["num_heads"] * cfg["d_kv"], cfg["d_ff"], cfg["vocab_size"]
    gated = cfg["feed_forward_proj"].startswith("gated-")
    out = [("shared.weight", (v, d))]

    def attn(p, bias):
        res = [(f"{p}.q.weight", (inner, d)), (f"{p}.k.weight", (inner, d)), (f"{p}.v.weight", (inner, d)),
               (f"{p}.o.weight", (d, inner))]
        if bias:
            res.append((f"{p}.relative_attention_bias.weight", (cfg["relative_attention_num_buckets"],
                                                                cfg["num_heads"])))
        return res

    def ffn(p):
        wi = [(f"{p}.DenseReluDense.wi_0.weight", (ff, d)), (f"{p}.DenseReluDense.wi_1.weight", (ff, d))] \
            if gated else [(f"{p}.DenseReluDense.wi.weight", (ff, d))]
        return wi + [(f"{p}.DenseReluDense.wo.weight", (d, ff)), (f"{p}.layer_norm.weight", (d,))]

    for i in range(cfg["num_layers"]):
        p = f"encoder.block.{i}"
        out += attn(f"{p}.layer.0.SelfAttention", i == 0) + [(f"{p}.layer.0.layer_norm.weight", (d,))]
        out += ffn(f"{p}.layer.1")
    out.append(("encoder.final_layer_norm.weight", (d,)))
    for i in range(cfg["num_decoder_layers"]):
        p = f"decoder.block.{i}"
        out += attn(f"{p}.layer.0.SelfAttention", i == 0) + [(f"{p}.layer.0.layer_norm.weight", (d,))]
        out += attn(f"{p}.layer.1.EncDecAttention", False) + [(f"{p}.layer.1.layer_norm.weight", (d,))]
        out += ffn(f"{p}.layer.2")
    out.append(("decoder.final_layer_norm.weight", (d,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (v, d)))
    return out


def random_state(cfg, gen):
    """Weights far from HF's init (so layout mistakes show), rounded to float16 (what the file stores)."""
    sd = {}
    for name, shape in shapes(cfg):
        if "layer_norm" in name:
            t = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        elif "relative_attention_bias" in name or name == "shared.weight":
            t = 1.0 * torch.randn(shape, generator=gen)
        elif name == "lm_head.weight" or ".wo." in name:
            t = 0.2 * torch.randn(shape, generator=gen)
        else:
            t = 0.4 * torch.randn(shape, generator=gen)
        sd[name] = t.half().float()
    return sd


# ---------------------------------------------------------------- modeling_t5 (eval mode)

def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(
        relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1)
    )
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


def layer_norm(sd, name, x, eps):
    variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    return sd[f"{name}.weight"] * (x * torch.rsqrt(variance + eps))


def compute_bias(sd, p, cfg, q_len, k_len, bidirectional, past=0):
    context = torch.arange(past, past + q_len)[:, None]
    memory = torch.arange(k_len)[None, :]
    buckets = relative_position_bucket(memory - context, bidirectional, cfg["relative_attention_num_buckets"],
                                       cfg["relative_attention_max_distance"])
    return sd[f"{p}.relative_attention_bias.weight"][buckets].permute([2, 0, 1]).unsqueeze(0)


def attention(sd, p, cfg, x, kv, bias):
    b, heads, dk = x.shape[0], cfg["num_heads"], cfg["d_kv"]

    def shape(t):
        return t.view(b, -1, heads, dk).transpose(1, 2)

    q, k, v = shape(F.linear(x, sd[f"{p}.q.weight"])), shape(F.linear(kv, sd[f"{p}.k.weight"])), \
        shape(F.linear(kv, sd[f"{p}.v.weight"]))
    scores = torch.matmul(q, k.transpose(3, 2)) + bias  # no 1/sqrt(d_kv): folded into the init
    weights = F.softmax(scores.float(), dim=-1).type_as(scores)
    out = torch.matmul(weights, v).transpose(1, 2).contiguous().view(b, -1, heads * dk)
    return F.linear(out, sd[f"{p}.o.weight"])


def feed_forward(sd, p, cfg, x):
    h = layer_norm(sd, f"{p}.layer_norm", x, cfg["layer_norm_epsilon"])
    w = f"{p}.DenseReluDense"
    if cfg["feed_forward_proj"] == "gated-gelu":
        h = gelu_new(F.linear(h, sd[f"{w}.wi_0.weight"])) * F.linear(h, sd[f"{w}.wi_1.weight"])
    else:
        h = F.relu(F.linear(h, sd[f"{w}.wi.weight"]))
    return x + F.linear(h, sd[f"{w}.wo.weight"])


def extended(mask):
    return (1.0 - mask.to(torch.float32)) * torch.finfo(torch.float32).min


def encoder(sd, cfg, ids, mask):
    eps = cfg["layer_norm_epsilon"]
    h = sd["shared.weight"][ids]
    s = ids.shape[1]
    bias = compute_bias(sd, "encoder.block.0.layer.0.SelfAttention", cfg, s, s, True) + \
        extended(mask)[:, None, None, :]
    for i in range(cfg["num_layers"]):
        p = f"encoder.block.{i}"
        normed = layer_norm(sd, f"{p}.layer.0.layer_norm", h, eps)
        h = h + attention(sd, f"{p}.layer.0.SelfAttention", cfg, normed, normed, bias)
        h = feed_forward(sd, f"{p}.layer.1", cfg, h)
    return layer_norm(sd, "encoder.final_layer_norm", h, eps)


def decoder_logits(sd, cfg, dec_ids, dec_mask, enc_hidden, enc_mask):
    """Full recompute of the decoder (HF's decoder with no past key values)."""
    eps, t = cfg["layer_norm_epsilon"], dec_ids.shape[1]
    h = sd["shared.weight"][dec_ids]
    causal = torch.tril(torch.ones(t, t))[None, :, :] * dec_mask[:, None, :].to(torch.float32)
    self_bias = compute_bias(sd, "decoder.block.0.layer.0.SelfAttention", cfg, t, t, False) + \
        extended(causal)[:, None, :, :]
    cross_bias = torch.zeros(1, cfg["num_heads"], t, enc_hidden.shape[1]) + extended(enc_mask)[:, None, None, :]
    for i in range(cfg["num_decoder_layers"]):
        p = f"decoder.block.{i}"
        normed = layer_norm(sd, f"{p}.layer.0.layer_norm", h, eps)
        h = h + attention(sd, f"{p}.layer.0.SelfAttention", cfg, normed, normed, self_bias)
        normed = layer_norm(sd, f"{p}.layer.1.layer_norm", h, eps)
        h = h + attention(sd, f"{p}.layer.1.EncDecAttention", cfg, normed, enc_hidden, cross_bias)
        h = feed_forward(sd, f"{p}.layer.2", cfg, h)
    h = layer_norm(sd, "decoder.final_layer_norm", h, eps)
    if cfg["tie_word_embeddings"]:
        return F.linear(h * (cfg["d_model"] ** -0.5), sd["shared.weight"])
    return F.linear(h, sd["lm_head.weight"])


def greedy(sd, cfg, ids, mask, max_new_tokens):
    """HF greedy search: start token, argmax, finished rows continue with pad; stops when all rows ended."""
    enc = encoder(sd, cfg, ids, mask)
    b = ids.shape[0]
    out = torch.full((b, 1), cfg["decoder_start_token_id"], dtype=torch.long)
    done = torch.zeros(b, dtype=torch.bool)
    for _ in range(max_new_tokens):
        logits = decoder_logits(sd, cfg, out, torch.ones_like(out), enc, mask)[:, -1]
        nxt = torch.where(done, torch.full_like(done, cfg["pad_token_id"], dtype=torch.long), logits.argmax(-1))
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == cfg["eos_token_id"]
        if bool(done.all()):
            break
    return out[:, 1:]


# ---------------------------------------------------------------- inputs and files

def padded(rows, pad):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


def bucket_goldens():
    rel = torch.arange(-200, 201)
    table = []
    for nb, md in [(32, 128), (8, 20), (16, 64), (64, 256)]:
        for bidirectional in (True, False):
            table.append({"num_buckets": nb, "max_distance": md, "bidirectional": bidirectional,
                          "buckets": relative_position_bucket(rel, bidirectional, nb, md).tolist()})
    return {"relative_positions": rel.tolist(), "tables": table}


def main():
    with open(os.path.join(OUT, "t5_buckets.json"), "w") as f:
        json.dump(bucket_goldens(), f, separators=(",", ":"))
    for index, (variant, cfg) in enumerate(VARIANTS.items()):
        gen = torch.Generator().manual_seed(500 + index)
        sd = random_state(cfg, gen)
        sources = [torch.randint(2, cfg["vocab_size"], (n,), generator=gen).tolist() + [1] for n in (8, 5, 2)]
        targets = [[0] + torch.randint(2, cfg["vocab_size"], (n,), generator=gen).tolist() for n in (5, 3, 1)]
        ids, mask = padded(sources, cfg["pad_token_id"])
        dec_ids, dec_mask = padded(targets, cfg["pad_token_id"])
        with torch.no_grad():
            enc = encoder(sd, cfg, ids, mask)
            logits = decoder_logits(sd, cfg, dec_ids, dec_mask, enc, mask)
            sd64 = {k: v.double() for k, v in sd.items()}
            enc64 = encoder(sd64, cfg, ids, mask)
            logits64 = decoder_logits(sd64, cfg, dec_ids, dec_mask.double(), enc64, mask)
            tokens = greedy(sd, cfg, ids, mask, 10)
        folder = os.path.join(OUT, f"t5_{variant}")
        os.makedirs(folder, exist_ok=True)
        tensors = {k: v.half() for k, v in sd.items()}
        if cfg["tie_word_embeddings"]:  # HF checkpoints may carry the tied duplicates: the loader skips them
            tensors["encoder.embed_tokens.weight"] = tensors["shared.weight"]
        write_safetensors(os.path.join(folder, "model.safetensors"), tensors)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        expected = {
            "variant": variant,
            "torch": torch.__version__,
            "input_ids": ids.tolist(),
            "attention_mask": mask.tolist(),
            "decoder_input_ids": dec_ids.tolist(),
            "decoder_attention_mask": dec_mask.tolist(),
            "logits": [[float(f"{v:.7g}") for v in row] for row in logits.reshape(-1, cfg["vocab_size"]).tolist()],
            "greedy_max_new_tokens": 10,
            "greedy_tokens": tokens.tolist(),
            "float64_vs_float32_max_abs": float((logits.double() - logits64).abs().max()),
        }
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
        print(variant, "logit range", float(logits.min()), float(logits.max()), "greedy", tokens.tolist(),
              "f32/f64 gap", expected["float64_vs_float32_max_abs"])


if __name__ == "__main__":
    main()
